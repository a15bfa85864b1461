//! How the binary speaks on stderr: an error as one line that says each
//! thing once, and one style for warnings, the library's log warnings
//! included (`daxtrace: warning: ...`).
use std::io::Write as _;

/// `err` and its causes on one line, each said once. Error types often
/// print their source in their own message and name it as `source()` too,
/// and a context repeats the path its cause starts with: without this,
/// "reading t.dxt: t.dxt: No such file or directory (os error 2): No such
/// file or directory (os error 2)".
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        // "reading X" then "X: why": say X once.
        let overlap = text
            .match_indices(": ")
            .map(|(at, _)| at)
            .find(|&at| line.ends_with(&text[..at]));
        match overlap {
            Some(at) => line.push_str(&text[at..]),
            None => {
                if !line.is_empty() {
                    line.push_str(": ");
                }
                line.push_str(&text);
            }
        }
    }
    line
}

/// The logger: warnings and errors as `daxtrace: warning: ...` and
/// `daxtrace: error: ...`, like the binary's own; more detail (RUST_LOG)
/// with its level and module.
pub fn init_logger() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|out, record| {
            writeln!(
                out,
                "{}",
                log_line(record.level(), record.target(), record.args())
            )
        })
        .init();
}

/// One log record as the binary prints it.
fn log_line(level: log::Level, target: &str, text: impl std::fmt::Display) -> String {
    match level {
        log::Level::Warn => format!("daxtrace: warning: {text}"),
        log::Level::Error => format!("daxtrace: error: {text}"),
        level => format!(
            "daxtrace: {} {target}: {text}",
            level.as_str().to_lowercase()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct Open {
        path: String,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn every_cause_is_said_once() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let text = io.to_string();
        let err = anyhow::Error::new(Open {
            path: "/x/t.dxt".to_string(),
            source: io,
        })
        .context("reading /x/t.dxt");
        let line = error_line(&err);
        assert_eq!(line, format!("reading /x/t.dxt: {text}"));
        assert_eq!(line.matches("No such file").count(), 1);
    }

    #[test]
    fn log_warnings_look_like_the_binarys_own() {
        assert_eq!(
            log_line(log::Level::Warn, "dax_trace::symbolize", "reading x: gone"),
            "daxtrace: warning: reading x: gone"
        );
        assert_eq!(
            log_line(log::Level::Error, "dax_trace::serve", "event source failed"),
            "daxtrace: error: event source failed"
        );
        assert_eq!(
            log_line(log::Level::Debug, "dax_trace::probes", "loaded"),
            "daxtrace: debug dax_trace::probes: loaded"
        );
    }

    #[test]
    fn unrelated_causes_are_all_kept() {
        let err = anyhow::anyhow!("the ring buffer is full").context("recording");
        assert_eq!(error_line(&err), "recording: the ring buffer is full");
    }
}
