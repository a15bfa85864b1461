//! Benchmark (not a test) of `daxtrace top`'s refresh: CPU per refresh with
//! thousands of busy pages. Prints the result and writes it to a file.
//!
//! ```sh
//! cargo run --release -p dax-trace --example top_refresh_bench [-- OUT_FILE]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::Write;

use anyhow::Context;
use dax_trace::testkit::refresh_bench::refresh_cost;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/bench/top-refresh.txt".to_string());
    let mut lines = Vec::new();
    // 16 devices with up to 1000 busy pages each (the collector keeps 1024 per
    // pagemap), on a small and a large terminal.
    for screen in [(80, 24), (200, 60)] {
        let cost = refresh_cost(16, 1000, 200, screen);
        let line = format!("{}x{}: {cost}", screen.0, screen.1);
        println!("{line}");
        lines.push(line);
    }
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::File::create(&out).with_context(|| format!("creating {out}"))?;
    for line in &lines {
        writeln!(file, "{line}")?;
    }
    println!("written to {out}");
    Ok(())
}
