//! `cargo xtask`: developer tasks for daxtrace: set-up of a fresh machine, the
//! VM test bed, the test suite the README names, and the demo.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use xtask::vm;

mod bench;
mod container;
mod demo;
mod direction;
mod run;
mod setup;
mod test;
mod vmtest;

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "daxtrace developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Install what a fresh machine lacks: nightly rust-src, the musl target,
    /// bpf-linker, and the Debian packages of the VM test bed. Idempotent.
    Setup(setup::Args),
    /// Boot a Debian kernel in QEMU with pmem and run a command or scenario in it.
    Vm(vm::Args),
    /// The whole test suite: fmt, clippy, unit and integration tests, the host
    /// attach test and the VM tests per kernel generation.
    Test(test::Args),
    /// Benchmarks in the VM: `bench overhead` (daxtrace vs untraced vs bpftrace).
    Bench(bench::Args),
    /// Replay the shipped sample trace in the dashboard (batch frames without a terminal).
    Demo(demo::Args),
    /// Build the container image the DaemonSet runs (deploy/container/Dockerfile,
    /// with buildah) and save it to target/image/daxtrace-VERSION.tar.
    Image(container::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup(args) => setup::run(&args).map(|()| 0),
        Command::Vm(args) => vm::main(args),
        Command::Test(args) => test::run(&args).map(|()| 0),
        Command::Demo(args) => demo::run(&args).map(|()| 0),
        Command::Bench(args) => bench::run(&args).map(|()| 0),
        Command::Image(args) => container::run(&args).map(|()| 0),
    };
    match result {
        // The guest command's exit status becomes ours (`cargo xtask vm`).
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
