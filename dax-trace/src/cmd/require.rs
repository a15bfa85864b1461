//! `--require FAMILY,...`, shared by the live commands: a capture that lacks
//! a family the user depends on ends at once (exit status 3, naming the
//! missing families), instead of running its whole duration blind.
use dax_trace::session::probe_report::ProbeReport;
use dax_trace_common::probe::Family;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Require {
    /// Exit at once with status 3, naming them, when any of these probe
    /// families is not attached (comma-separated; `daxtrace probes` lists
    /// the families).
    #[arg(long, value_name = "FAMILY,...", value_delimiter = ',', value_parser = family_name)]
    pub require: Vec<String>,
}

/// A family name of the probe table, or an error listing them all.
fn family_name(text: &str) -> Result<String, String> {
    let text = text.trim();
    if Family::ALL.iter().any(|f| f.name() == text) {
        return Ok(text.to_string());
    }
    let names: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
    Err(format!(
        "no probe family is called {text:?}; the families are {}",
        names.join(", ")
    ))
}

impl Require {
    /// The required families `report` lacks, as an error (exit status 3
    /// through main) that names them and the report's own problems.
    pub fn check(&self, report: &ProbeReport) -> anyhow::Result<()> {
        let missing = report.missing_of(&self.require);
        if missing.is_empty() {
            return Ok(());
        }
        let mut message = format!(
            "required probe {} not attached: {}",
            if missing.len() == 1 {
                "family"
            } else {
                "families"
            },
            missing.join(", ")
        );
        for problem in &report.problems {
            message.push_str("\n  - ");
            message.push_str(problem);
        }
        message.push_str("\n(`daxtrace probes` says why each point is missing)");
        anyhow::bail!(message)
    }
}
