//! The growing tables are created at the sizes asked for, on the machine
//! running the tests: the owner table holds `--max-pinned-pages` plus 128
//! entries per possible CPU, and the caches their per-CPU headroom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use dax_trace::probes::attach;
use dax_trace::probes::sizing::{
    DM_PAIRS_MAP, MapSizes, PAGE_OWNERS_MAP, STACK_CACHE_MAP, possible_cpus,
};
use dax_trace::resolve;

#[test]
fn the_owner_table_and_caches_are_created_at_their_sizes() {
    if !dax_trace::probes::object::has_programs() {
        println!("skipping: built without the eBPF programs");
        return;
    }
    let r = resolve::resolve_host().expect("resolution");
    let blockers = r.blockers();
    if !blockers.is_empty() {
        println!("skipping: {blockers:?}");
        return;
    }
    let cpus = possible_cpus();
    let (sizes, _) = MapSizes::fit(Some(50_000), cpus, None).expect("sizes");
    let ebpf = attach::load(&r.config, &sizes, None).expect("load the object");
    // The kernel's own word on each map, not the object's.
    let entries = |name: &str| match ebpf.map(name) {
        Some(aya::maps::Map::LruHashMap(data)) => data.info().expect("map info").max_entries(),
        other => panic!("{name} is not an LRU hash map: {other:?}"),
    };
    assert_eq!(entries(PAGE_OWNERS_MAP), 50_000 + 128 * cpus);
    assert_eq!(entries(STACK_CACHE_MAP), 1024 + 128 * cpus);
    assert_eq!(entries(DM_PAIRS_MAP), 1024 + 128 * cpus);
}
