//! `daxtrace top` (being built; see the issue tracker).
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`daxtrace top` is not built yet")
}
