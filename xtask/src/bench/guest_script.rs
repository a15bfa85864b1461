//! Unit tests of functions of `xtask/guest/bench.sh`, run by bash on the
//! host against a stand-in /proc (`BENCH_PROC`).
#![cfg(test)]

use std::path::Path;
use std::process::Command;

use super::runs::parse_bpf_stats;

/// The text of shell function `name` of bench.sh or bench-bpftrace.sh
/// (from `name() {` to the first `}` alone on a line).
fn shell_function(name: &str) -> String {
    let guest = crate::run::workspace_root().join("xtask/guest");
    let script = ["bench.sh", "bench-bpftrace.sh"]
        .iter()
        .map(|f| std::fs::read_to_string(guest.join(f)).unwrap())
        .find(|s| s.contains(&format!("\n{name}() {{\n")))
        .unwrap_or_else(|| panic!("no shell function {name}"));
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

/// Runs `call` after the bench.sh functions `names`, with `out` as $out.
fn run_functions(names: &[&str], out: &Path, call: &str) -> String {
    let mut script = format!("out={}\n", out.display());
    for name in names {
        script.push_str(&shell_function(name));
        script.push('\n');
    }
    script.push_str(call);
    let got = Command::new("bash").arg("-c").arg(script).output().unwrap();
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    String::from_utf8(got.stdout).unwrap()
}

#[test]
fn fsdax_pgmaps_lists_only_fs_dax_pagemaps_in_hex() {
    let out = tempfile::tempdir().unwrap();
    let state = [
        r#"{"ts_ns":1,"body":{"type":"state-pagemap","pgmap":"0xffff88807f6520b0","memory_type":3,"fs_dax":true,"pfn_start":262144}}"#,
        // What daxtrace printed before addresses were hex strings.
        r#"{"ts_ns":1,"body":{"type":"state-pagemap","pgmap":18446612684207366320,"memory_type":3,"fs_dax":true,"pfn_start":262144}}"#,
        r#"{"ts_ns":1,"body":{"type":"state-pagemap","pgmap":"0xffff88807f652100","memory_type":1,"fs_dax":false}}"#,
        r#"{"ts_ns":1,"body":{"type":"state-dax-device","dax_dev":5,"fs_dax":true}}"#,
        r#"{"problems":[]}"#,
    ]
    .join("\n");
    write(&out.path().join("state.json"), &state);
    let got = run_functions(
        &["fsdax_pgmaps"],
        out.path(),
        "fsdax_pgmaps \"$out/state.json\"",
    );
    assert_eq!(got, "0xffff88807f6520b0\n");
}

/// attached-once.txt of a kernel with every family the scripts use.
fn attached(out: &Path) {
    write(
        &out.join("attached-once.txt"),
        "fault fs_dax/dax_pte_fault_done tracepoint\n\
         layout-busy dax_layout_busy_page_range fentry\n\
         page-put-idle __put_devmap_managed_page_refs fentry\n\
         page-put-idle free_zone_device_folio fentry\n\
         pin-owner get_user_pages_fast fentry\n\
         pin-owner get_user_pages_remote fentry\n\
         pin-owner unpin_user_page fentry\n",
    );
    std::fs::copy(out.join("attached-once.txt"), out.join("attached.txt")).unwrap();
    write(&out.join("fsdax-pgmaps"), "0xffff88807f6520b0\n");
    // `daxtrace probes --json` as printed (pretty, one field a line): the
    // gup entry points hooked, skipped for the pagemap lookups, or missing.
    let point = |target: &str, status: &str| {
        format!(
            "        {{\n          \"point\": 39,\n          \"target\": \"{target}\",\n          \"module\": null,\n          \"status\": {{\n{status}\n          }}\n        }}"
        )
    };
    let points = [
        point(
            "get_user_pages_fast",
            "            \"status\": \"attached\",\n            \"kind\": \"fentry\"",
        ),
        point(
            "get_user_pages_remote",
            "            \"status\": \"skipped\",\n            \"reason\": \"not needed here: pins are followed through get_dev_pagemap, refusals through __gup_longterm_locked\"",
        ),
        point(
            "pin_user_pages_remote",
            "            \"status\": \"missing\",\n            \"reason\": \"pin_user_pages_remote takes 7 arguments here\"",
        ),
        point(
            "unpin_user_page",
            "            \"status\": \"attached\",\n            \"kind\": \"fentry\"",
        ),
    ];
    write(
        &out.join("probes.json"),
        &format!(
            "{{\n  \"families\": [\n    {{\n      \"family\": \"pin-owner\",\n      \"points\": [\n{}\n      ]\n    }}\n  ]\n}}\n",
            points.join(",\n")
        ),
    );
}

const SCRIPT_FUNCTIONS: [&str; 4] = [
    "gup_targets",
    "gup_pages_arg",
    "owners_script",
    "empty_fexit_script",
];

#[test]
fn the_owners_script_hooks_the_gup_puts_and_busy_pages_daxtrace_attached() {
    let out = tempfile::tempdir().unwrap();
    attached(out.path());
    let fexit = run_functions(&SCRIPT_FUNCTIONS, out.path(), "owners_script kretfunc");
    for line in [
        "    @fsdax[(uint64)0xffff88807f6520b0] = 1;",
        "kretfunc:get_user_pages_fast {",
        "kretfunc:get_user_pages_remote {",
        "    $pages = (uint64)args->pages;",
        "        if (@fsdax[*(uint64 *)($page + 8)]) {",
        "            @owner[$page] = (tid, pid, comm, nsecs);",
        "                @stack[tid] = kstack;",
        // The put leaving the page at its idle count of 1 closes the owner.
        "        if ((int64)*(int32 *)(arg0 + 52) - (int64)arg1 <= 1) { delete(@owner[arg0]); delete(@refs[arg0]); }",
        "kprobe:free_zone_device_folio { if (@refs[arg0]) { delete(@owner[arg0]); delete(@refs[arg0]); } }",
        "kprobe:unpin_user_page { if (@refs[arg0] > 1) { @refs[arg0] = @refs[arg0] - 1; } }",
        "kretprobe:dax_layout_busy_page_range /retval != 0/ {",
        "END { clear(@owner); clear(@refs); clear(@stack); clear(@stack_ns); clear(@fsdax); }",
    ] {
        assert!(fexit.lines().any(|l| l == line), "{line:?} not in\n{fexit}");
    }
    assert!(!fexit.contains("kretfunc:unpin_user_page"), "{fexit}");
    assert!(!fexit.contains("fault"), "{fexit}");
    let kprobes = run_functions(&SCRIPT_FUNCTIONS, out.path(), "owners_script kretprobe");
    for line in [
        "kprobe:get_user_pages_fast { @gup_pages[tid] = arg3; }",
        "kprobe:get_user_pages_remote { @gup_pages[tid] = arg4; }",
        "kretprobe:get_user_pages_remote {",
        "    $pages = (uint64)@gup_pages[tid];",
    ] {
        assert!(
            kprobes.lines().any(|l| l == line),
            "{line:?} not in\n{kprobes}"
        );
    }
    assert!(kprobes.contains("clear(@gup_pages);"), "{kprobes}");
    assert!(!kprobes.contains("args->"), "{kprobes}");
}

#[test]
fn the_empty_fexit_script_is_one_empty_program_per_gup_entry_point() {
    let out = tempfile::tempdir().unwrap();
    attached(out.path());
    let got = run_functions(&SCRIPT_FUNCTIONS, out.path(), "empty_fexit_script kretfunc");
    assert_eq!(
        got,
        "kretfunc:get_user_pages_fast { }\nkretfunc:get_user_pages_remote { }\n"
    );
}
