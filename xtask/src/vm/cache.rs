//! Where the test bed keeps kernels, images and run directories (outside git).
use std::path::PathBuf;

use anyhow::Context as _;

/// `${XDG_CACHE_HOME:-~/.cache}/daxtrace`.
pub fn cache_root() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("daxtrace"));
    }
    let home = std::env::var_os("HOME").context("neither XDG_CACHE_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache/daxtrace"))
}
