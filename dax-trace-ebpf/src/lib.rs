//! Shared pieces of daxtrace's eBPF programs (see `main.rs` for the programs).
#![no_std]
