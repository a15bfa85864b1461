//! A step's JSONL export as the pins judge reads it: events, and the
//! kernel stacks they name by id.
use super::body_type;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// One frame of a kernel stack of the export.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) symbol: String,
    pub(super) module: Option<String>,
}

impl Frame {
    /// The function name without a compiler suffix (`.isra.0`, `.constprop.0`).
    pub(super) fn function(&self) -> &str {
        self.symbol.split('.').next().unwrap_or("")
    }

    pub(super) fn display(&self) -> String {
        match &self.module {
            Some(m) => format!("{} [{m}]", self.function()),
            None => self.function().to_string(),
        }
    }
}

/// A step's JSONL export: its events, and the stack lines
/// (`{"type":"stack","id":N,"frames":[..]}`) by id.
pub(super) struct Trace {
    pub(super) events: Vec<Value>,
    pub(super) stacks: HashMap<u64, Vec<Frame>>,
}

impl Trace {
    pub(super) fn load(dir: &Path, step: &str) -> Result<Trace, String> {
        super::super::share::events(dir, step).map(Trace::from_lines)
    }

    pub(super) fn from_lines(lines: Vec<Value>) -> Trace {
        let mut stacks = HashMap::new();
        let mut events = Vec::new();
        for line in lines {
            if line["type"] == "stack" {
                let frames = line["frames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| Frame {
                        symbol: f["symbol"].as_str().unwrap_or("?").to_string(),
                        module: f["module"].as_str().map(str::to_string),
                    })
                    .collect();
                if let Some(id) = line["id"].as_u64() {
                    stacks.insert(id, frames);
                }
            } else {
                events.push(line);
            }
        }
        Trace { events, stacks }
    }

    pub(super) fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| body_type(e) == ty)
    }

    /// The frames of the event's stack (empty: no stack, or an unknown id).
    pub(super) fn stack(&self, ev: &Value) -> &[Frame] {
        ev["body"]["stack"]
            .as_u64()
            .and_then(|id| self.stacks.get(&id))
            .map_or(&[], Vec::as_slice)
    }

    /// `a <- b <- c ...` of the event's stack, innermost first.
    pub(super) fn stack_summary(&self, ev: &Value, n: usize) -> String {
        let frames = self.stack(ev);
        if frames.is_empty() {
            return match ev["body"]["stack"].as_u64() {
                Some(id) => format!("stack {id} not in the export"),
                None => "no stack".to_string(),
            };
        }
        let mut s: Vec<String> = frames.iter().take(n).map(Frame::display).collect();
        if frames.len() > n {
            s.push("...".to_string());
        }
        s.join(" <- ")
    }
}
