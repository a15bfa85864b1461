//! Device mapper: which dm device fans out to which member, member takes and
//! drops, and table DAX capability checks.
use super::Collector;
use crate::event::{Dev, DmAccess, DmMember, DmTableDax, Event};

impl Collector {
    pub(super) fn on_dm_access(&mut self, ev: &Event, a: &DmAccess) {
        let parent = self.resolve(a.dm_dax_dev, Dev(0), "", ev.ts_ns);
        let member = self.resolve(a.member_dax_dev, Dev(0), "", ev.ts_ns);
        if parent != member {
            if let Some(d) = self.devices.get_mut(&parent) {
                d.members.insert(member);
            }
            if let Some(d) = self.devices.get_mut(&member) {
                d.parents.insert(parent);
            }
        }
    }

    pub(super) fn on_dm_table_dax(&mut self, t: &DmTableDax) {
        if t.capable.get() {
            self.totals.dm_tables_capable += 1;
        } else {
            self.totals.dm_tables_not_capable += 1;
        }
    }

    pub(super) fn on_dm_member(&mut self, ev: &Event, m: &DmMember) {
        let id = self.resolve(m.member_dax_dev, m.bdev, m.disk.as_str(), ev.ts_ns);
        if let Some(d) = self.devices.get_mut(&id) {
            if m.taken.get() {
                d.dm_taken += 1;
            } else {
                d.dm_dropped += 1;
            }
        }
    }
}
