//! `cargo xtask`: developer tasks for daxtrace.
use xtask::vm;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask", about = "daxtrace developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Boot a Debian kernel in QEMU with pmem and run a command or scenario in it.
    Vm(vm::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Vm(args) => {
            let code = vm::main(args)?;
            std::process::exit(code);
        }
    }
}
