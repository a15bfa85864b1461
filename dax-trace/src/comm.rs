//! [`Comm`]: a task command name held inline, the way the kernel holds it.
//!
//! Every event carries the comm of the task that caused it. A `String` would
//! cost an allocation and a free per event, which was the largest single cost
//! of decoding a trace (replay must reach millions of events per second).
//! The kernel bounds the name to `TASK_COMM_LEN` (16) bytes, so it fits in a
//! fixed array that is `Copy`.
use std::fmt;

use dax_trace_common::COMM_LEN;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A command name of at most [`COMM_LEN`] bytes of UTF-8, without NULs.
///
/// Made from kernel bytes ([`Comm::from_c_bytes`]) or from text
/// ([`From<&str>`]); longer text is cut at a character boundary, as the kernel
/// cuts `comm` (which is why `encode` never fails on a comm).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Comm {
    len: u8,
    bytes: [u8; COMM_LEN],
}

impl Comm {
    /// Reads a NUL-padded kernel slot; invalid UTF-8 is replaced (U+FFFD)
    /// and the result cut to fit.
    pub fn from_c_bytes(slot: &[u8]) -> Self {
        let end = slot.iter().position(|&b| b == 0).unwrap_or(slot.len());
        let name = &slot[..end];
        match std::str::from_utf8(name) {
            // The common case: valid, NUL-free, within the bound.
            Ok(_) if name.len() <= COMM_LEN => {
                let mut bytes = [0u8; COMM_LEN];
                bytes[..name.len()].copy_from_slice(name);
                Self {
                    len: name.len() as u8,
                    bytes,
                }
            }
            Ok(s) => Self::cut(s),
            Err(_) => Self::cut(&String::from_utf8_lossy(name)),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Every constructor stores whole characters of a `str`.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The NUL-padded slot the kernel would hold.
    pub fn to_c_bytes(self) -> [u8; COMM_LEN] {
        let mut slot = [0u8; COMM_LEN];
        slot[..usize::from(self.len)].copy_from_slice(&self.bytes[..usize::from(self.len)]);
        slot
    }

    /// Keeps `s` up to its first NUL and at most [`COMM_LEN`] bytes of whole characters.
    fn cut(s: &str) -> Self {
        let nul = s.bytes().position(|b| b == 0).unwrap_or(s.len());
        let mut end = nul.min(COMM_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; COMM_LEN];
        bytes[..end].copy_from_slice(&s.as_bytes()[..end]);
        Self {
            // end <= COMM_LEN = 16.
            len: end as u8,
            bytes,
        }
    }
}

impl From<&str> for Comm {
    fn from(s: &str) -> Self {
        Self::cut(s)
    }
}

impl From<&String> for Comm {
    fn from(s: &String) -> Self {
        Self::cut(s)
    }
}

impl PartialEq<str> for Comm {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Comm {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` honours width and alignment, as for a `str`.
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Comm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Comm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Comm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command name")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Comm, E> {
                Ok(Comm::cut(s))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_slots_read_up_to_the_nul() {
        let mut slot = [0u8; COMM_LEN];
        slot[..5].copy_from_slice(b"mount");
        slot[6] = b'x';
        let c = Comm::from_c_bytes(&slot);
        assert_eq!(c, "mount");
        let mut back = [0u8; COMM_LEN];
        back[..5].copy_from_slice(b"mount");
        assert_eq!(c.to_c_bytes(), back);
    }

    #[test]
    fn a_full_slot_without_nul_keeps_all_sixteen_bytes() {
        let c = Comm::from_c_bytes(b"0123456789abcdef");
        assert_eq!(c.as_str(), "0123456789abcdef");
        assert_eq!(&c.to_c_bytes(), b"0123456789abcdef");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_cut_on_a_character_boundary() {
        let c = Comm::from_c_bytes(&[b'a', 0xff, 0xfe, 0xfd, 0xfc, 0xfb, b'z', 0]);
        // "a" + 5 x U+FFFD (3 bytes each) would be 16 bytes; "z" no longer fits.
        assert_eq!(c.as_str(), "a\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(Comm::from_c_bytes(&c.to_c_bytes()), c);
    }

    #[test]
    fn long_text_is_cut_like_the_kernel_cuts_comm() {
        assert_eq!(
            Comm::from("a-command-name-longer-than-16"),
            "a-command-name-l"
        );
        assert_eq!(Comm::from("ééééééééé").as_str(), "éééééééé");
        assert_eq!(Comm::from("nul\0inside"), "nul");
    }

    #[test]
    fn formats_and_serializes_as_text() {
        let c = Comm::from("fio");
        assert_eq!(format!("[{c:>5}]"), "[  fio]");
        assert_eq!(format!("{c:?}"), "\"fio\"");
        assert_eq!(serde_json::to_string(&c).expect("json"), "\"fio\"");
        let back: Comm = serde_json::from_str("\"fio\"").expect("parses");
        assert_eq!(back, c);
        assert!(serde_json::from_str::<Comm>("3").is_err());
    }
}
