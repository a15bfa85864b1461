//! The state at start: what already exists when a live front end
//! attaches — dev_pagemaps, dax_devices and their claims, the filesystems
//! mounted on them, dm tables over them, threads already waiting for a busy
//! page, and the pages busy now — read once at attach and kept true while
//! running. It travels in the one event stream as `state-*` events, so
//! recordings carry it and replays show it.
//!
//! Kernel objects are read with daxtrace's reader program ([`kmem`]),
//! walking structures with offsets from BTF (`resolve::state_layout`); the rest comes
//! from sysfs, mountinfo and the dm ioctl. docs/probes.md lists the sources
//! per kernel generation.
pub mod attach;
pub mod census;
pub mod daxdev;
pub mod daxmode;
pub mod disks;
pub mod dm;
pub mod kmem;
pub mod mountinfo;
pub mod page;
pub mod pagemap;
pub mod reading;
pub mod render;
pub mod sysfs;
pub mod tracker;
pub mod waits;
pub mod xarray;

pub use reading::{ReadOptions, Reading};
pub use tracker::Tracker;
