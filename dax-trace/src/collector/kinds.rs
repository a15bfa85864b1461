//! Per-kind event counters in a fixed array (one index per [`EventBody`]
//! variant), serialized as a map of kebab-case names to counts.
use crate::event::EventBody;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Every variant name, at the index [`index`] gives it.
const NAMES: [&str; 20] = [
    "pagemap-create",
    "pagemap-destroy",
    "claim",
    "release",
    "dax-alloc",
    "dax-kill",
    "dax-add-host",
    "page-idle",
    "busy-page",
    "wait-begin",
    "wait-end",
    "dm-access",
    "dm-table-dax",
    "dm-member",
    "fault",
    "memory-failure",
    "holder-notify-failure",
    "stuck-wait",
    "put-stats",
    "drops",
];

fn index(body: &EventBody) -> usize {
    match body {
        EventBody::PagemapCreate { .. } => 0,
        EventBody::PagemapDestroy { .. } => 1,
        EventBody::Claim { .. } => 2,
        EventBody::Release { .. } => 3,
        EventBody::DaxAlloc { .. } => 4,
        EventBody::DaxKill { .. } => 5,
        EventBody::DaxAddHost { .. } => 6,
        EventBody::PageIdle { .. } => 7,
        EventBody::BusyPage { .. } => 8,
        EventBody::WaitBegin { .. } => 9,
        EventBody::WaitEnd { .. } => 10,
        EventBody::DmAccess { .. } => 11,
        EventBody::DmTableDax { .. } => 12,
        EventBody::DmMember { .. } => 13,
        EventBody::Fault { .. } => 14,
        EventBody::MemoryFailure { .. } => 15,
        EventBody::HolderNotifyFailure { .. } => 16,
        EventBody::StuckWait { .. } => 17,
        EventBody::PutStats { .. } => 18,
        EventBody::Drops { .. } => 19,
    }
}

/// Events seen per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindCounts([u64; NAMES.len()]);

impl KindCounts {
    pub(super) fn add(&mut self, body: &EventBody) {
        self.0[index(body)] += 1;
    }

    /// The count of one kind by its name (`busy-page`); 0 for unknown names.
    pub fn get(&self, name: &str) -> u64 {
        NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.0[i])
    }

    /// (name, count) of every kind seen, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.to_map().into_iter()
    }

    fn to_map(&self) -> BTreeMap<&'static str, u64> {
        NAMES
            .iter()
            .zip(self.0.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(name, n)| (*name, *n))
            .collect()
    }
}

impl Serialize for KindCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

impl<'de> Deserialize<'de> for KindCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, u64>::deserialize(d)?;
        let mut counts = KindCounts::default();
        for (name, n) in map {
            let i = NAMES
                .iter()
                .position(|k| *k == name)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown event kind {name}")))?;
            counts.0[i] = n;
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_event_model() {
        let bodies = [
            EventBody::PagemapDestroy { pgmap: 1 },
            EventBody::Drops { point: 1, total: 2 },
            EventBody::PutStats {
                pgmap: 1,
                puts: 0,
                idles: 0,
            },
        ];
        for b in &bodies {
            assert_eq!(NAMES[index(b)], b.name());
        }
    }

    #[test]
    fn counts_serialize_as_a_name_map() {
        let mut k = KindCounts::default();
        k.add(&EventBody::PagemapDestroy { pgmap: 1 });
        k.add(&EventBody::PagemapDestroy { pgmap: 2 });
        assert_eq!(k.get("pagemap-destroy"), 2);
        let json = serde_json::to_string(&k).expect("serializes");
        assert_eq!(json, r#"{"pagemap-destroy":2}"#);
        let back: KindCounts = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, k);
    }
}
