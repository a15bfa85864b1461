//! The `top` step of the VM stage: `daxtrace top --batch` during the DMA
//! scenario must show pmem0 with busy pages or waits.
use super::Verdict;
use super::share::read_rc;
use std::path::Path;

pub(super) fn judge_top(dir: &Path) -> Verdict {
    let result = (|| {
        let rc = read_rc(dir, "top")?;
        let text = std::fs::read_to_string(dir.join("top.txt")).map_err(|e| e.to_string())?;
        if rc != 0 {
            return Err(format!("top --batch exit {rc}"));
        }
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("pmem0")).collect();
        let active = rows
            .iter()
            .find(|row| busy_and_waits(row).is_some_and(|(busy, waits)| busy + waits > 0))
            .ok_or_else(|| {
                format!(
                    "{} pmem0 rows, none with busy pages or waits (last: {:?})",
                    rows.len(),
                    rows.last()
                )
            })?;
        Ok(format!(
            "row: {}",
            active.split_whitespace().collect::<Vec<_>>().join(" ")
        ))
    })();
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Verdict {
        name: "top --batch: pmem0 busy or waiting".into(),
        ok,
        detail,
    }
}

/// BUSY and WAITS of a batch-frame row: the two columns after CL/REL
/// (`claims/releases`); a `!` marks a stuck wait.
pub(super) fn busy_and_waits(row: &str) -> Option<(u64, u64)> {
    let mut tokens = row.split_whitespace();
    tokens.by_ref().find(|t| {
        t.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    })?;
    let number = |t: &str| t.trim_end_matches('!').parse::<u64>().ok();
    let busy = number(tokens.next()?)?;
    let waits = number(tokens.next()?)?;
    Some((busy, waits))
}

#[cfg(test)]
mod tests {
    use super::busy_and_waits;

    #[test]
    fn reads_busy_and_waits_after_claims_column() {
        assert_eq!(
            busy_and_waits("pmem0  fsdax  512M  ext4  1/1  0  1!  3.5s  3.5s  3.5s  16"),
            Some((0, 1))
        );
        assert_eq!(
            busy_and_waits("pmem0  dax  0B  -  1/0  1  0  -  -  -  0"),
            Some((1, 0))
        );
        assert_eq!(busy_and_waits("pmem0 nothing here"), None);
    }
}
