//! Who did something and when: the context every record keeps of its event.
use crate::comm::Comm;
use crate::event::Event;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub ts_ns: u64,
    pub pid: u32,
    pub tid: u32,
    pub comm: Comm,
}

impl Actor {
    pub fn of(ev: &Event) -> Self {
        Self {
            ts_ns: ev.ts_ns,
            pid: ev.pid,
            tid: ev.tid,
            comm: ev.comm,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::human::time::task(self.comm, self.pid, self.tid))
    }
}
