//! The direction check on small trees made up here: layered ones pass,
//! cyclic ones fail naming the files, and the repository's own trees pass.
use super::*;

fn tree(files: &[(&str, &str)]) -> Vec<SourceFile> {
    files
        .iter()
        .map(|(path, text)| SourceFile {
            path: PathBuf::from(path),
            text: text.to_string(),
        })
        .collect()
}

#[test]
fn a_layered_tree_has_no_cycle() {
    let files = tree(&[
        (
            "lib.rs",
            "pub mod clock;\npub mod state;\npub mod source;\n",
        ),
        (
            "clock.rs",
            "//! uses crate::source in a comment only\npub fn now() {}\n",
        ),
        (
            "state/mod.rs",
            "mod events;\nuse crate::clock::now;\nconst S: &str = \"crate::source\";\n",
        ),
        (
            "state/events.rs",
            "use super::super::clock;\nuse super::mod_b;\n",
        ),
        ("source/mod.rs", "use crate::{clock, state::events};\n"),
    ]);
    let e = edges(&files);
    assert_eq!(
        e["state"].keys().collect::<Vec<_>>(),
        ["clock"],
        "comments and strings are not edges: {e:?}"
    );
    assert_eq!(e["source"].keys().collect::<Vec<_>>(), ["clock", "state"]);
    assert!(cycles(&e).is_empty(), "{:?}", cycles(&e));
}

#[test]
fn tests_may_use_the_testkit_which_uses_everything() {
    let files = tree(&[
        ("lib.rs", "pub mod collector;\npub mod testkit;\n"),
        (
            "collector/tests.rs",
            "use crate::testkit::fixture::Script;\n",
        ),
        ("testkit/fixture.rs", "use crate::collector::Collector;\n"),
    ]);
    let e = edges(&files);
    assert_eq!(e["testkit"].keys().collect::<Vec<_>>(), ["collector"]);
    assert!(
        !e.contains_key("collector"),
        "no edge into the testkit: {e:?}"
    );
    assert!(cycles(&e).is_empty());
    // Any other module in its place makes the cycle.
    let files = tree(&[
        ("lib.rs", "pub mod collector;\npub mod fixtures;\n"),
        ("collector/tests.rs", "use crate::fixtures::Script;\n"),
        ("fixtures/mod.rs", "use crate::collector::Collector;\n"),
    ]);
    assert_eq!(cycles(&edges(&files)).len(), 1);
}

#[test]
fn a_cycle_is_named_with_its_files() {
    let files = tree(&[
        (
            "lib.rs",
            "pub mod source;\npub mod state;\npub mod trace;\n",
        ),
        (
            "state/events.rs",
            "pub fn now() { crate::source::live::clock_ns() }\n",
        ),
        ("source/live.rs", "use crate::state::Tracker;\n"),
        ("trace/mod.rs", "use crate::state;\n"),
    ]);
    let found = cycles(&edges(&files));
    assert_eq!(
        found,
        ["source -> state (source/live.rs) -> source (state/events.rs)"]
    );
}

#[test]
fn super_from_a_test_module_climbs_one_more_level() {
    // In state/tracker.rs, `mod tests { use super::super::x }` is state::x;
    // `super::super::super::source` is crate::source.
    let files = tree(&[
        ("lib.rs", "pub mod source;\npub mod state;\n"),
        (
            "state/tracker.rs",
            "#[cfg(test)]\nmod tests {\n    use super::super::x;\n    fn f() { let c = '{'; }\n}\n",
        ),
        ("source/mod.rs", "use crate::state;\n"),
    ]);
    assert!(cycles(&edges(&files)).is_empty());
    let files = tree(&[
        ("lib.rs", "pub mod source;\npub mod state;\n"),
        (
            "state/tracker.rs",
            "mod tests {\n    use super::super::super::source::{self, x};\n}\n",
        ),
        ("source/mod.rs", "use crate::state;\n"),
    ]);
    assert_eq!(cycles(&edges(&files)).len(), 1);
}

#[test]
fn a_longer_cycle_and_the_binary_crate() {
    let files = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("main.rs", "mod cmd;\nmod run;\n"),
        ("a.rs", "use crate::b;\n"),
        ("b.rs", "use crate::c;\n"),
        ("c.rs", "use crate::a;\n"),
        // The binary's modules: edges among them only; dax_trace:: is not one.
        ("cmd/mod.rs", "use crate::run;\nuse dax_trace::a;\n"),
        ("run.rs", "fn f() {}\n"),
    ]);
    let e = edges(&files);
    assert_eq!(e["cmd"].keys().collect::<Vec<_>>(), ["run"]);
    assert_eq!(cycles(&e), ["a -> b (a.rs) -> c (b.rs) -> a (c.rs)"],);
}

#[test]
fn the_repository_trees_have_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for src in ["dax-trace/src", "xtask/src"] {
        let files = read_tree(&root.join(src)).expect("reads the tree");
        assert!(files.len() > 10, "{src}: {} files", files.len());
        let found = cycles(&edges(&files));
        assert!(found.is_empty(), "{src}: {found:?}");
    }
}
