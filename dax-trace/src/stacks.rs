//! The kernel stacks an event stream refers to. Events carry only a stack id
//! ([`dax_trace_common::field::StackId`]); the symbolized frames travel beside
//! the stream in a [`StackTable`] that its source fills before it sends the
//! first event naming an id (live capture from the kernel's stack map, replay
//! from the trace's stack records), so every consumer (recorder, collector,
//! TUI, exporters) resolves an id the same way.
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use dax_trace_common::field::StackId;

use serde::{Deserialize, Serialize};

use crate::event::EventBody;

/// One symbolized kernel stack, stored once per distinct stack; events refer
/// to it by `id`, so a file replays with names on any machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackRecord {
    /// Unique in the file, never 0 (0 in an event means "no stack").
    pub id: u32,
    /// Innermost frame first.
    pub frames: Vec<StackFrame>,
}

/// One return address of a [`StackRecord`], symbolized at record time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    pub addr: u64,
    /// The function holding `addr`; `None` when kallsyms had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// `addr` minus the function's start.
    #[serde(default)]
    pub offset: u64,
    /// The module (`ext4`, `dm_mod`); `None` for vmlinux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

/// Stacks by id, shared between a source and its consumers (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct StackTable(Arc<RwLock<HashMap<u32, Arc<StackRecord>>>>);

impl StackTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a stack; a second stack with the same id replaces nothing (ids
    /// are unique in a stream, the first one stays).
    pub fn insert(&self, stack: StackRecord) {
        if stack.id == 0 {
            return;
        }
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        map.entry(stack.id).or_insert_with(|| Arc::new(stack));
    }

    /// The stack of an id; `None` for "no stack" or an id never inserted.
    pub fn get(&self, id: StackId) -> Option<Arc<StackRecord>> {
        let id = id.get()?;
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(&id).cloned()
    }

    /// The id is known.
    pub fn contains(&self, id: u32) -> bool {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every stack, by id.
    pub fn all(&self) -> Vec<Arc<StackRecord>> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = map.values().cloned().collect();
        all.sort_by_key(|s| s.id);
        all
    }
}

/// The stack an event names (kinds without one: none).
pub fn stack_of(body: &EventBody) -> StackId {
    match body {
        EventBody::Claim(c) => c.stack,
        EventBody::Release(r) => r.stack,
        EventBody::WaitBegin(w) => w.stack,
        EventBody::PinOwner(o) => o.stack,
        EventBody::RefusedPin(r) => r.stack,
        _ => StackId::NONE,
    }
}

impl StackFrame {
    /// `symbol+0xoff [module]`, or the bare address when unknown.
    pub fn display(&self) -> String {
        let mut s = match &self.symbol {
            Some(sym) => format!("{sym}+{:#x}", self.offset),
            None => format!("{:#x}", self.addr),
        };
        if let Some(m) = &self.module {
            s.push_str(&format!(" [{m}]"));
        }
        s
    }

    /// The function name alone (`?` when unknown), for one-line summaries.
    pub fn name(&self) -> &str {
        self.symbol.as_deref().unwrap_or("?")
    }
}

impl StackRecord {
    /// The innermost `n` function names joined by ` <- ` (callee first),
    /// with ` ...` when frames were left out.
    pub fn summary(&self, n: usize) -> String {
        let mut s = self
            .frames
            .iter()
            .take(n)
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(" <- ");
        if self.frames.len() > n {
            s.push_str(" ...");
        }
        s
    }

    /// Modules named by any frame, in order of first appearance.
    pub fn modules(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in self.frames.iter().filter_map(|f| f.module.as_deref()) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(sym: &str, module: Option<&str>) -> StackFrame {
        StackFrame {
            addr: 0xffff_ffff_8100_0000,
            symbol: Some(sym.to_string()),
            offset: 0x24,
            module: module.map(str::to_string),
        }
    }

    #[test]
    fn a_table_resolves_ids_and_keeps_the_first_of_an_id() {
        let table = StackTable::new();
        let shared = table.clone();
        table.insert(StackRecord {
            id: 3,
            frames: vec![frame("a", None)],
        });
        shared.insert(StackRecord {
            id: 3,
            frames: vec![frame("b", None)],
        });
        table.insert(StackRecord {
            id: 0,
            frames: vec![frame("never", None)],
        });
        assert_eq!(table.len(), 1);
        let got = shared.get(StackId(3)).expect("id 3 is known");
        assert_eq!(got.frames[0].name(), "a");
        assert!(table.get(StackId::NONE).is_none());
        assert!(table.get(StackId(4)).is_none());
    }

    #[test]
    fn a_summary_is_callee_first_and_says_when_it_is_cut() {
        let stack = StackRecord {
            id: 1,
            frames: vec![
                frame("iov_iter_extract_pages", None),
                frame("bio_iov_iter_get_pages", None),
                frame("ext4_dio_read_iter", Some("ext4")),
            ],
        };
        assert_eq!(
            stack.summary(2),
            "iov_iter_extract_pages <- bio_iov_iter_get_pages ..."
        );
        assert_eq!(stack.modules(), vec!["ext4"]);
        assert_eq!(stack.frames[2].display(), "ext4_dio_read_iter+0x24 [ext4]");
    }
}
