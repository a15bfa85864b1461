//! Regenerates the shipped sample trace (`samples/synthetic-6.1.dxt`) from
//! the synthetic scenario in `dax_trace::testkit::synthetic`. A unit test
//! checks the shipped file is byte-identical to what this writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(dax_trace::testkit::synthetic::SAMPLE_PATH);
    let bytes = dax_trace::testkit::synthetic::sample_trace()?;
    std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
    Ok(())
}
