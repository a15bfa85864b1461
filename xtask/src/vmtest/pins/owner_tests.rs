//! The owner verdicts on hand-made exports: the run as the workload says,
//! and runs that each break one thing.
use super::fixture::*;
use super::owners::{control, odirect_owner, refused_uring, two_owners, vmsplice_owner};
use serde_json::{Value, json};

#[test]
fn every_verdict_holds_on_a_trace_as_the_workload_says() {
    let s = summary();
    let t = trace(good_events());
    for (name, verdict) in [
        ("odirect", odirect_owner(&s, &t)),
        ("vmsplice", vmsplice_owner(&s, &t)),
        ("two", two_owners(&s, &t)),
        ("uring", refused_uring(&s, &t)),
        ("control", control(&s, &t)),
    ] {
        let detail = verdict.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!detail.is_empty(), "{name}");
    }
    let detail = odirect_owner(&s, &t).expect("odirect");
    assert!(detail.contains("__blkdev_direct_IO_simple"), "{detail}");
}

#[test]
fn an_odirect_owner_needs_its_thread_its_page_and_a_dio_stack() {
    let s = summary();
    // Only a vmsplice stack for the reader.
    let t = edited(
        |l| is_owner_tid(l, DIO_TID),
        vec![owner(DAX_PID, DIO_TID, "dio-pinner", DIO_PFN, SPLICE_STACK)],
    );
    let err = odirect_owner(&s, &t).expect_err("no direct-I/O frame");
    assert!(err.contains("no stack through direct I/O"), "{err}");
    // No stack at all.
    let mut no_stack = owner(DAX_PID, DIO_TID, "dio-pinner", DIO_PFN, 0);
    no_stack["body"]
        .as_object_mut()
        .expect("body")
        .remove("stack");
    let t = edited(|l| is_owner_tid(l, DIO_TID), vec![no_stack]);
    assert!(
        odirect_owner(&s, &t)
            .expect_err("no stack")
            .contains("no stack")
    );
    // Another thread of the same process owns the page.
    let t = edited(
        |l| is_owner_tid(l, DIO_TID),
        vec![owner(DAX_PID, 999, "dio-pinner", DIO_PFN, DIO_STACK)],
    );
    assert!(odirect_owner(&s, &t).is_err());
    // The right thread, on a page that is not the file's.
    let t = edited(
        |l| is_owner_tid(l, DIO_TID),
        vec![owner(DAX_PID, DIO_TID, "dio-pinner", 0x99999, DIO_STACK)],
    );
    let err = odirect_owner(&s, &t).expect_err("other page");
    assert!(err.contains("1 of its owner events elsewhere"), "{err}");
    // The right thread under another name.
    let t = edited(
        |l| is_owner_tid(l, DIO_TID),
        vec![owner(DAX_PID, DIO_TID, "dax-workload", DIO_PFN, DIO_STACK)],
    );
    assert!(odirect_owner(&s, &t).expect_err("comm").contains("comm"));
}

#[test]
fn a_vmsplice_owner_needs_the_vmsplice_path() {
    let s = summary();
    let t = edited(
        |l| is_owner_tid(l, SPLICE_TID),
        vec![owner(
            DAX_PID,
            SPLICE_TID,
            "splice-pinner",
            SPLICE_PFN,
            DIO_STACK,
        )],
    );
    assert!(
        vmsplice_owner(&s, &t)
            .expect_err("dio stack")
            .contains("vmsplice")
    );
}

#[test]
fn two_owners_must_share_one_page() {
    let s = summary();
    let t = edited(|l| is_owner_tid(l, CHILD_B), Vec::new());
    assert!(
        two_owners(&s, &t)
            .expect_err("one owner")
            .contains("owned by both")
    );
    let t = edited(
        |l| is_owner_tid(l, CHILD_B),
        vec![owner(
            CHILD_B,
            CHILD_B,
            "pin-owner-b",
            0x77777,
            SPLICE_STACK,
        )],
    );
    assert!(two_owners(&s, &t).is_err(), "owners of different pages");
    let t = edited(
        |l| is_owner_tid(l, CHILD_B),
        vec![owner(
            CHILD_B,
            CHILD_B,
            "dax-workload",
            SHARED_PFN,
            SPLICE_STACK,
        )],
    );
    assert!(two_owners(&s, &t).expect_err("comm").contains("not named"));
}

#[test]
fn the_refused_pin_names_the_process_and_the_file() {
    let s = summary();
    let is_refused = |l: &Value| l["body"]["type"] == "refused-pin";
    let t = edited(is_refused, Vec::new());
    assert!(
        refused_uring(&s, &t)
            .expect_err("none")
            .contains("no refused-pin")
    );
    let t = edited(is_refused, vec![refused("/tmp/elsewhere")]);
    assert!(
        refused_uring(&s, &t)
            .expect_err("path")
            .contains("/tmp/elsewhere")
    );
    // Named after the fact from /proc/PID/maps (or a trace before the
    // kernel named files): the client that exits at once would lose it.
    let mut from_maps = refused(URING_PATH);
    from_maps["body"]["path_from"] = json!(0);
    let t = edited(is_refused, vec![from_maps]);
    let err = refused_uring(&s, &t).expect_err("named from /proc");
    assert!(err.contains("path_from 0"), "{err}");
    let mut old = refused(URING_PATH);
    for field in ["dev", "path_from", "ino"] {
        old["body"].as_object_mut().expect("body").remove(field);
    }
    let t = edited(is_refused, vec![old]);
    assert!(
        refused_uring(&s, &t).is_err(),
        "a refusal the kernel did not name"
    );
    let mut other_inode = refused(URING_PATH);
    other_inode["body"]["ino"] = json!(99);
    let t = edited(is_refused, vec![other_inode]);
    let err = refused_uring(&s, &t).expect_err("another inode");
    assert!(err.contains("inode 99"), "{err}");
    let mut no_dev = refused(URING_PATH);
    no_dev["body"]["dev"] = json!("0:0");
    let t = edited(is_refused, vec![no_dev]);
    let err = refused_uring(&s, &t).expect_err("no device");
    assert!(err.contains("no device"), "{err}");
    let ok = refused_uring(&s, &trace(good_events())).expect("named by the kernel");
    assert!(
        ok.contains("named by the kernel (inode 15 on 259:0)"),
        "{ok}"
    );
    let mut s = summary();
    s["pins"][4]["errno"] = json!(null);
    s["pins"][4]["error"] = json!("registered");
    let err = refused_uring(&s, &trace(good_events())).expect_err("accepted pin");
    assert!(err.contains("not refused"), "{err}");
}

#[test]
fn the_control_must_have_read_and_left_no_pin_record() {
    let s = summary();
    let t = edited(
        |_| false,
        vec![owner(
            CONTROL_PID,
            CONTROL_PID,
            "anon-dio",
            0x1234,
            DIO_STACK,
        )],
    );
    assert!(
        control(&s, &t)
            .expect_err("owner")
            .contains("control pid 200")
    );
    let release = ev(
        0,
        0,
        "swapper/0",
        json!({"type": "pin-release", "page": 1, "pfn": 2,
        "since_ns": 1, "owner_pid": CONTROL_PID, "owner_tid": CONTROL_PID, "pin": false, "by_idle": true}),
    );
    assert!(control(&s, &edited(|_| false, vec![release])).is_err());
    let no_owners = edited(|l| l["body"]["type"] == "pin-owner", Vec::new());
    assert!(
        control(&s, &no_owners)
            .expect_err("vacuous")
            .contains("shows nothing")
    );
    let mut s = summary();
    s["pins"][1]["ok"] = json!(false);
    assert!(
        control(&s, &trace(good_events())).is_err(),
        "a control that did not read"
    );
}

#[test]
fn direct_io_functions_are_told_from_the_shared_iov_iter_ones() {
    use super::is_dio_function;
    for name in [
        "bio_iov_iter_get_pages",
        "__bio_iov_iter_get_pages",
        "bio_iov_iter_get_pages_aligned",
        "blkdev_direct_IO",
        "__blkdev_direct_IO_simple",
        "__blkdev_direct_IO_async",
        "__blockdev_direct_IO",
        "do_blockdev_direct_IO",
        "iomap_dio_rw",
        "__iomap_dio_rw",
        "iomap_dio_bio_iter",
    ] {
        assert!(is_dio_function(name), "{name}");
    }
    for name in [
        "iov_iter_get_pages2",
        "__iov_iter_get_pages_alloc",
        "iov_iter_extract_pages",
        "__do_sys_vmsplice",
        "blkdev_read_iter",
        "get_user_pages_fast",
        "ext4_file_read_iter",
    ] {
        assert!(!is_dio_function(name), "{name}");
    }
}
