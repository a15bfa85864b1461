//! `daxtrace man`: every daxtrace-SUB(1) that daxtrace(1) names exists
//! (`--subcommand SUB`, or all of them with `--dir`), and every page has
//! EXIT STATUS and EXAMPLES sections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::collections::BTreeSet;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The subcommand pages a page refers to (`daxtrace\-probes(1)` in roff).
fn referenced(page: &str) -> BTreeSet<String> {
    page.split("daxtrace\\-")
        .skip(1)
        .filter_map(|rest| rest.split_once("(1)").map(|(name, _)| name.to_string()))
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase()))
        .collect()
}

fn assert_has_sections(name: &str, page: &str) {
    assert!(page.contains(".SH \"EXIT STATUS\""), "{name}: {page}");
    assert!(page.contains(".SH EXAMPLES"), "{name}: {page}");
}

#[test]
fn every_page_daxtrace_1_names_exists_with_exit_status_and_examples() {
    let o = run(&["man"]);
    assert!(o.status.success());
    let root = stdout(&o);
    assert!(root.contains(".TH daxtrace 1"), "{root}");
    assert_has_sections("daxtrace", &root);
    let subs = referenced(&root);
    for sub in ["probes", "record", "check", "serve"] {
        assert!(subs.contains(sub), "daxtrace(1) names daxtrace-{sub}(1)");
    }
    for sub in &subs {
        let o = run(&["man", "--subcommand", sub]);
        assert!(o.status.success(), "{sub}");
        let page = stdout(&o);
        assert!(
            page.contains(&format!(".TH daxtrace-{sub} 1")),
            "{sub}: {page}"
        );
        assert_eq!(page.matches(".ie ").count(), 1, "{sub}: one preamble");
        assert_has_sections(sub, &page);
    }
    let check = stdout(&run(&["man", "--subcommand", "check"]));
    for code in ["\\fB0\\fR", "\\fB1\\fR", "\\fB2\\fR", "\\fB3\\fR"] {
        assert!(
            check.contains(code),
            "check's page lists exit status {code}"
        );
    }
    assert!(check.contains("Inconclusive"), "{check}");
}

#[test]
fn dir_writes_every_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written: BTreeSet<String> = std::fs::read_dir(dir.path())
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let root = std::fs::read_to_string(dir.path().join("daxtrace.1")).expect("daxtrace.1");
    let mut expected: BTreeSet<String> = referenced(&root)
        .into_iter()
        .map(|sub| format!("daxtrace-{sub}.1"))
        .collect();
    expected.insert("daxtrace.1".to_string());
    assert_eq!(written, expected);
    for name in &written {
        let page = std::fs::read_to_string(dir.path().join(name)).expect("reads");
        assert_has_sections(name, &page);
    }
}

#[test]
fn an_unknown_page_is_a_usage_error() {
    let o = run(&["man", "--subcommand", "nope"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("check"));
    let o = run(&["man", "--dir", "/nonexistent/man1"]);
    assert_eq!(o.status.code(), Some(3));
}
