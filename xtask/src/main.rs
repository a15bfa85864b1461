//! `cargo xtask`: developer tasks for daxtrace.
fn main() -> anyhow::Result<()> {
    Ok(())
}
