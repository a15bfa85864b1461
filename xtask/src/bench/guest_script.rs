//! Unit tests of functions of `xtask/guest/bench.sh`, run by bash on the
//! host against a stand-in /proc (`BENCH_PROC`).
#![cfg(test)]

use std::path::Path;
use std::process::Command;

use super::runs::parse_bpf_stats;

/// The text of shell function `name` of bench.sh (from `name() {` to the
/// first `}` alone on a line).
fn shell_function(name: &str) -> String {
    let path = crate::run::workspace_root().join("xtask/guest/bench.sh");
    let script = std::fs::read_to_string(&path).unwrap();
    let start = script.find(&format!("\n{name}() {{\n")).unwrap() + 1;
    let len = script[start..].find("\n}\n").unwrap() + 3;
    script[start..start + len].to_string()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn bpf_stats_reads_program_fds_and_not_the_links_to_them() {
    let proc = tempfile::tempdir().unwrap();
    let fdinfo = proc.path().join("42/fdinfo");
    let prog = |tag: &str, id: u32, ns: u64, cnt: u64| {
        format!(
            "pos:\t0\nflags:\t02000002\nprog_type:\t26\nprog_jited:\t1\nprog_tag:\t{tag}\nmemlock:\t4096\nprog_id:\t{id}\nrun_time_ns:\t{ns}\nrun_cnt:\t{cnt}\nrecursion_misses:\t0\n"
        )
    };
    let link = |tag: &str, id: u32| {
        format!(
            "pos:\t0\nflags:\t02000000\nlink_type:\ttracing\nlink_id:\t3\nprog_tag:\t{tag}\nprog_id:\t{id}\n"
        )
    };
    let (gup, tp) = ("0123456789abcdef", "fedcba9876543210");
    // fd 9 sorts after 10-13 in the glob: the link used to win and read 0.
    write(&fdinfo.join("10"), &prog(gup, 7, 5000, 40));
    write(&fdinfo.join("9"), &link(gup, 7));
    // The same program through a second fd counts once.
    write(&fdinfo.join("11"), &prog(gup, 7, 5000, 40));
    write(&fdinfo.join("12"), &prog(tp, 8, 300, 2));
    write(&fdinfo.join("13"), &link(tp, 8));
    write(&fdinfo.join("3"), "pos:\t0\nflags:\t02\nmnt_id:\t15\n");
    write(
        &proc.path().join("kallsyms"),
        &format!(
            "ffffffffc0001000 t bpf_prog_{gup}_fexit_get_user_\t[bpf]\nffffffffc0002000 t bpf_prog_{tp}_tp_dax_pte_faul\t[bpf]\nffffffff81000000 T _stext\n"
        ),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{}\nbpf_stats 42", shell_function("bpf_stats")))
        .env("BENCH_PROC", proc.path())
        .env("BENCH_SYMS", proc.path().join("bpfsyms"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = parse_bpf_stats(&String::from_utf8_lossy(&out.stdout));
    got.sort();
    assert_eq!(
        got,
        [
            ("fexit_get_user_".to_string(), 40, 5000),
            ("tp_dax_pte_faul".to_string(), 2, 300)
        ]
    );
}

#[test]
fn children_of_finds_a_shells_children_without_pgrep() {
    let script = format!(
        "{}\nsleep 30 & a=$!\nsleep 30 & b=$!\ngot=$(children_of $$ | sort -n | tr '\\n' ' ')\nkill $a $b\necho \"$got|$a $b \"",
        shell_function("children_of")
    );
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (got, want) = text.trim_end_matches('\n').split_once('|').unwrap();
    // Both sleeps, and nothing else but the command substitution's subshell.
    let got: Vec<&str> = got.split_whitespace().collect();
    for pid in want.split_whitespace() {
        assert!(got.contains(&pid), "{pid} not in {got:?}");
    }
    assert!(got.len() <= 3, "{got:?}");
}
