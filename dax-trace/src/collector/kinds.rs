//! Per-kind event counters in a fixed array (one index per [`EventBody`]
//! kind, its ordinal), serialized as a map of kebab-case names to counts.
use crate::event::{EventBody, KIND_COUNT, KIND_NAMES as NAMES};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Events seen per kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindCounts([u64; KIND_COUNT]);

impl Default for KindCounts {
    fn default() -> Self {
        Self([0; KIND_COUNT])
    }
}

impl KindCounts {
    pub(super) fn add(&mut self, body: &EventBody) {
        self.0[body.ordinal()] += 1;
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
    use crate::event::{Drops, PagemapDestroy, PutStats};

    #[test]
    fn names_match_the_event_model() {
        let bodies: [EventBody; 3] = [
            PagemapDestroy { pgmap: 1 }.into(),
            Drops::default().into(),
            PutStats::default().into(),
        ];
        for b in &bodies {
            assert_eq!(NAMES[b.ordinal()], b.name());
        }
    }

    #[test]
    fn counts_serialize_as_a_name_map() {
        let mut k = KindCounts::default();
        k.add(&PagemapDestroy { pgmap: 1 }.into());
        k.add(&PagemapDestroy { pgmap: 2 }.into());
        assert_eq!(k.get("pagemap-destroy"), 2);
        let json = serde_json::to_string(&k).expect("serializes");
        assert_eq!(json, r#"{"pagemap-destroy":2}"#);
        let back: KindCounts = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, k);
    }
}
