//! Shared pieces of daxtrace's eBPF programs: maps, the load-time config,
//! kernel reads driven by BTF offsets, and the per-family handlers. The
//! program entry points (one fentry/fexit and one kprobe/kretprobe variant per
//! attach point) are generated in `main.rs` and all call into [`handlers`].
#![no_std]

pub mod emit;
pub mod handlers;
pub mod kread;
pub mod maps;
pub mod pins;
pub mod read;
