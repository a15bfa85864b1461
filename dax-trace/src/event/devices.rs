//! Which block devices an event is about, and the disk names it gives
//! them: what `record --dev` filters on and resolves a disk name with.
use super::{Dev, EventBody};

impl EventBody {
    /// The block devices this event names (up to two: a dm target names
    /// its dm device and a member). Empty for events about no device
    /// (pagemaps, dax_devices, idles, counters); a `0:0` dev_t (unknown)
    /// is left out.
    pub fn devices(&self) -> Vec<Dev> {
        let devs = match self {
            EventBody::Claim(c) => [Some(c.bdev), None],
            EventBody::DmMember(m) => [Some(m.bdev), None],
            EventBody::BusyPage(b) => [Some(b.dev), None],
            EventBody::WaitBegin(w) => [Some(w.dev), None],
            EventBody::WaitEnd(w) => [Some(w.dev), None],
            EventBody::Fault(f) => [Some(f.dev), None],
            EventBody::FaultCounts(c) => [Some(c.dev), None],
            EventBody::StuckWait(s) => [Some(s.dev), None],
            EventBody::StatePagemap(p) => [Some(p.bdev), None],
            EventBody::StateDaxDevice(d) => [Some(d.bdev), None],
            EventBody::StateMount(m) => [Some(m.dev), None],
            EventBody::StateDaxMode(d) => [Some(d.dev), None],
            EventBody::StateDmTarget(t) => [Some(t.dm), Some(t.member)],
            EventBody::StateWait(w) => [Some(w.dev), None],
            EventBody::StateBusyPage(b) => [Some(b.dev), None],
            _ => [None, None],
        };
        devs.into_iter().flatten().filter(|d| d.0 != 0).collect()
    }

    /// The disk names this event gives block devices (`pmem0` is 259:0),
    /// with their dev_t.
    pub fn disk_names(&self) -> Vec<(&str, Dev)> {
        let named = match self {
            EventBody::Claim(c) => [Some((c.disk.as_str(), c.bdev)), None],
            EventBody::DmMember(m) => [Some((m.disk.as_str(), m.bdev)), None],
            EventBody::StatePagemap(p) => [Some((p.disk.as_str(), p.bdev)), None],
            EventBody::StateDaxDevice(d) => [Some((d.disk.as_str(), d.bdev)), None],
            EventBody::StateMount(m) => [Some((m.disk.as_str(), m.dev)), None],
            EventBody::StateDmTarget(t) => [
                Some((t.dm_disk.as_str(), t.dm)),
                Some((t.member_disk.as_str(), t.member)),
            ],
            _ => [None, None],
        };
        named
            .into_iter()
            .flatten()
            .filter(|(name, dev)| !name.is_empty() && dev.0 != 0)
            .collect()
    }
}
