//! `daxtrace man`: the manual pages, generated from the clap definitions
//! (so they never drift from the real flags) plus what clap cannot know:
//! each command's EXIT STATUS and EXAMPLES. daxtrace(1) names a page
//! daxtrace-SUB(1) per subcommand; `--subcommand SUB` prints one and
//! `--dir OUT` writes them all.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the page of this subcommand, daxtrace-SUB(1), instead of
    /// daxtrace(1).
    #[arg(long, value_name = "SUB", conflicts_with = "dir")]
    subcommand: Option<String>,
    /// Write every page (daxtrace.1 and daxtrace-SUB.1) into this existing
    /// directory instead of printing one.
    #[arg(long, value_name = "OUT")]
    dir: Option<PathBuf>,
}

/// What every command's exit status means, before its own.
const COMMON_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    (
        "3",
        "Usage or input error: a bad flag or value, a file that cannot be read or written, \
         missing privileges or kernel facilities. The message on stderr says which.",
    ),
];

/// The exit statuses and examples of one page.
struct Extra {
    status: &'static [(&'static str, &'static str)],
    examples: &'static [(&'static str, &'static str)],
}

fn extra(sub: Option<&str>) -> Extra {
    match sub {
        None => Extra {
            status: &[
                ("0", "Success (check: every assertion holds)."),
                ("1", "check: an assertion failed."),
                ("2", "check: inconclusive, the evidence is incomplete."),
                ("3", "Usage or input error, on every command."),
            ],
            examples: &[
                (
                    "Which probes attach on this kernel, and why others do not:",
                    "daxtrace probes",
                ),
                (
                    "Record a minute, then judge it:",
                    "daxtrace record -o run.dxt --duration 60s\ndaxtrace check run.dxt --max-wait 100ms",
                ),
                (
                    "Write every manual page:",
                    "daxtrace man --dir /usr/local/share/man/man1",
                ),
            ],
        },
        Some("check") => Extra {
            status: &[
                ("0", "Pass: every assertion holds."),
                (
                    "1",
                    "Fail: at least one assertion is violated (a failure outranks inconclusiveness).",
                ),
                (
                    "2",
                    "Inconclusive: nothing failed but the evidence is incomplete (dropped events, a cut \
                     trace, claim or release probes missing, a capture stopped by SIGINT or SIGTERM or \
                     by a failed event source).",
                ),
                ("3", "Usage or input error."),
            ],
            examples: &[
                (
                    "Judge a trace in CI, JUnit report to a file:",
                    "daxtrace check run.dxt --max-wait 100ms --format junit -o report.xml",
                ),
                (
                    "Capture 30 seconds live, keep the capture, feed node_exporter:",
                    "daxtrace check --duration 30s --save-trace live.dxt --metrics-textfile /var/lib/node_exporter/daxtrace.prom",
                ),
                ("Judge one device:", "daxtrace check run.dxt --dev pmem0"),
                (
                    "Fail unless DAX is in effect on /mnt/dax now (no probe loaded):",
                    "daxtrace check --expect-dax /mnt/dax",
                ),
            ],
        },
        Some("record") => Extra {
            status: &[
                (
                    "0",
                    "The recording finished: its duration, the end of a --from trace, SIGINT or SIGTERM.",
                ),
                (
                    "3",
                    "Error, an event source that failed included: the file then keeps the events before \
                     the failure and no closing summary, so it reads as truncated.",
                ),
            ],
            examples: &[
                ("Record until Ctrl-C:", "daxtrace record -o run.dxt"),
                (
                    "Record one device for a minute:",
                    "daxtrace record -o run.dxt --dev pmem0 --duration 1m",
                ),
                (
                    "Keep one device of an existing trace:",
                    "daxtrace record --from run.dxt --dev pmem0 -o pmem0.dxt",
                ),
            ],
        },
        Some("export") => Extra {
            status: &[
                (
                    "0",
                    "Exported; a truncated trace too, up to where it stops, with a warning.",
                ),
                (
                    "3",
                    "Error, or a corrupt trace (exported up to the damage).",
                ),
            ],
            examples: &[
                (
                    "JSON lines for jq:",
                    "daxtrace export run.dxt --format jsonl -o - | jq .kind",
                ),
                (
                    "A trace for ui.perfetto.dev:",
                    "daxtrace export run.dxt --format perfetto -o run.json",
                ),
            ],
        },
        Some("report") => Extra {
            status: COMMON_STATUS,
            examples: &[
                ("The summary per dev_pagemap:", "daxtrace report run.dxt"),
                ("As JSON:", "daxtrace report run.dxt --json"),
            ],
        },
        Some("top") => Extra {
            status: COMMON_STATUS,
            examples: &[
                ("The live dashboard:", "daxtrace top"),
                (
                    "Replay a trace ten times faster:",
                    "daxtrace top --replay run.dxt --speed 10",
                ),
                (
                    "Three text frames two seconds apart:",
                    "daxtrace top --batch --iterations 3 --interval 2s",
                ),
            ],
        },
        Some("serve") => Extra {
            status: &[
                ("0", "Stopped by SIGINT or SIGTERM."),
                (
                    "3",
                    "Usage or start-up error (a taken port, missing privileges).",
                ),
            ],
            examples: &[
                (
                    "Serve /metrics to other hosts:",
                    "daxtrace serve --listen 0.0.0.0:9863",
                ),
                ("Serve a recorded trace:", "daxtrace serve --replay run.dxt"),
            ],
        },
        Some("probes") => Extra {
            status: COMMON_STATUS,
            examples: &[
                ("What attaches here:", "daxtrace probes"),
                (
                    "The plan only, as JSON:",
                    "daxtrace probes --plan-only --json",
                ),
                (
                    "Print events as they come for ten seconds:",
                    "daxtrace probes --listen 10s",
                ),
            ],
        },
        Some("state") => Extra {
            status: COMMON_STATUS,
            examples: &[
                ("What exists now:", "daxtrace state"),
                ("As JSON lines:", "daxtrace state --json"),
            ],
        },
        Some("completions") => Extra {
            status: COMMON_STATUS,
            examples: &[(
                "Bash completions:",
                "daxtrace completions bash > /etc/bash_completion.d/daxtrace",
            )],
        },
        Some(_) => Extra {
            status: COMMON_STATUS,
            examples: &[(
                "Print the page of a subcommand:",
                "daxtrace man --subcommand check",
            )],
        },
    }
}

/// Escapes text for roff: backslashes, hyphens (minus signs in flags),
/// and a leading dot or quote that would start a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.') | Some('\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

/// The EXIT STATUS and EXAMPLES sections (and a note on pipes).
fn extra_sections(sub: Option<&str>) -> String {
    let extra = extra(sub);
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in extra.status {
        out += &format!(".TP\n\\fB{code}\\fR\n{}\n", roff(meaning));
    }
    out += ".PP\nA reader of the standard output that stops early (a pipe into head) ends the \
            output quietly and does not change the exit status.\n";
    out += ".SH EXAMPLES\n";
    for (what, commands) in extra.examples {
        out += &format!(".PP\n{}\n.PP\n.RS\n.nf\n", roff(what));
        for line in commands.lines() {
            out += &format!("{}\n", roff(line));
        }
        out += ".fi\n.RE\n";
    }
    out
}

/// The page of `cmd` (the root, or a built subcommand) as roff: clap's
/// sections, then EXIT STATUS, EXAMPLES and SEE ALSO, then the version.
fn page(cmd: clap::Command, sub: Option<&str>) -> anyhow::Result<(String, Vec<u8>)> {
    type Section = fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>;
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("daxtrace {}", env!("CARGO_PKG_VERSION")));
    let mut head: Vec<Section> = vec![
        clap_mangen::Man::render_title,
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
    ];
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        head.push(clap_mangen::Man::render_options_section);
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        head.push(clap_mangen::Man::render_subcommands_section);
    }
    let mut out = String::new();
    for section in head {
        out += &rendered(&man, section, out.is_empty())?;
    }
    out += &extra_sections(sub);
    if sub.is_some() {
        out += ".SH \"SEE ALSO\"\n\\fBdaxtrace\\fR(1)\n";
    }
    if cmd.get_version().is_some() {
        out += &rendered(&man, clap_mangen::Man::render_version_section, false)?;
    }
    Ok((man.get_filename(), out.into_bytes()))
}

/// One section as clap_mangen renders it; each rendering starts with the
/// same two-line preamble (`.ie`/`.el`), which the page needs once.
fn rendered(
    man: &clap_mangen::Man,
    section: fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>,
    first: bool,
) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    section(man, &mut bytes).context("rendering the man page")?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if first {
        return Ok(text);
    }
    Ok(text
        .lines()
        .skip_while(|l| l.starts_with(".ie ") || l.starts_with(".el "))
        .map(|l| format!("{l}\n"))
        .collect())
}

/// Every page: daxtrace(1) first, then one per visible subcommand.
fn pages(mut root: clap::Command) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    root = root.disable_help_subcommand(true);
    root.build();
    let mut all = vec![page(root.clone(), None)?];
    for sub in root.get_subcommands().filter(|s| !s.is_hide_set()) {
        all.push(page(sub.clone(), Some(sub.get_name()))?);
    }
    Ok(all)
}

pub fn run(args: Args, root: clap::Command) -> anyhow::Result<ExitCode> {
    let all = pages(root)?;
    if let Some(dir) = &args.dir {
        write_all(dir, &all)?;
        eprintln!(
            "wrote {} to {}",
            dax_trace::human::plural(all.len() as u64, "man page"),
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let wanted = match &args.subcommand {
        Some(sub) => format!("daxtrace-{sub}.1"),
        None => "daxtrace.1".to_string(),
    };
    match all.iter().find(|(name, _)| *name == wanted) {
        Some((_, roff)) => super::stdout::print(roff)?,
        None => {
            let subs: Vec<&str> = all
                .iter()
                .filter_map(|(n, _)| n.strip_prefix("daxtrace-")?.strip_suffix(".1"))
                .collect();
            bail!(
                "no subcommand {:?}; the pages are: {}",
                args.subcommand.unwrap_or_default(),
                subs.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_all(dir: &Path, all: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!("{}: no such directory", dir.display());
    }
    for (name, roff) in all {
        let path = dir.join(name);
        std::fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escapes_flags_and_requests() {
        assert_eq!(roff("--max-wait"), "\\-\\-max\\-wait");
        assert_eq!(roff(".hidden"), "\\&.hidden");
        assert_eq!(roff("a\\b"), "a\\eb");
    }
}
