//! `dax-workload`: the scenarios the VM test bed runs inside the guest.
fn main() -> anyhow::Result<()> {
    Ok(())
}
