//! Field types of the event payloads: plain integers underneath (so every bit
//! pattern is a valid value and a record can be reinterpreted whatever the
//! kernel wrote), with the meaning in the type. With the `user` feature each
//! one has the serde form the JSON exports use (a `Flag` is a JSON bool, a
//! `DiskName` a string, an `OptU64` a number or null, an API code its
//! kebab-case name).
use core::fmt;

use crate::memory::MemoryKind;
use crate::probe::{ClaimApi, WaitApi};

/// A kernel `dev_t` (`MAJOR << 20 | MINOR`, the in-kernel encoding).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "user",
    derive(
        serde::Serialize,
        serde::Deserialize,
        bytemuck::Pod,
        bytemuck::Zeroable
    ),
    serde(transparent)
)]
pub struct Dev(pub u32);

impl Dev {
    /// The major number (the top 12 bits).
    pub const fn major(self) -> u32 {
        self.0 >> 20
    }
    /// The minor number (the low 20 bits).
    pub const fn minor(self) -> u32 {
        self.0 & 0xfffff
    }
    /// Builds a kernel dev_t from major and minor numbers.
    pub const fn new(major: u32, minor: u32) -> Self {
        Dev((major << 20) | (minor & 0xfffff))
    }
}

impl fmt::Display for Dev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major(), self.minor())
    }
}

/// A yes/no value: 0 is false, anything else true.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct Flag(pub u32);

impl Flag {
    /// 1 for true, 0 for false.
    pub const fn new(v: bool) -> Self {
        Flag(v as u32)
    }
    /// True for any non-zero value.
    pub const fn get(self) -> bool {
        self.0 != 0
    }
}

impl From<bool> for Flag {
    fn from(v: bool) -> Self {
        Flag::new(v)
    }
}

/// A number that may be unknown: `u64::MAX` means "none".
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct OptU64(pub u64);

impl OptU64 {
    /// The "none" value, `u64::MAX`.
    pub const NONE: OptU64 = OptU64(u64::MAX);

    /// `Some(v)` keeps `v` unless it is the sentinel `u64::MAX` itself.
    pub const fn new(v: Option<u64>) -> Self {
        match v {
            Some(v) => OptU64(v),
            None => Self::NONE,
        }
    }
    /// `None` for `u64::MAX`, else the number.
    pub const fn get(self) -> Option<u64> {
        if self.0 == u64::MAX {
            None
        } else {
            Some(self.0)
        }
    }
    /// The value is unknown (`u64::MAX`).
    pub const fn is_none(&self) -> bool {
        self.0 == u64::MAX
    }
}

impl From<Option<u64>> for OptU64 {
    fn from(v: Option<u64>) -> Self {
        OptU64::new(v)
    }
}

impl Default for OptU64 {
    fn default() -> Self {
        Self::NONE
    }
}

/// A kernel stack recorded with an event: the id of a stack record of the
/// trace (docs/trace-format.md, tag 6); 0 means no stack (stacks off, the
/// kernel's stack map full, or a kind recorded before stacks existed).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "user",
    derive(
        serde::Serialize,
        serde::Deserialize,
        bytemuck::Pod,
        bytemuck::Zeroable
    ),
    serde(transparent)
)]
pub struct StackId(pub u32);

impl StackId {
    /// No stack (id 0).
    pub const NONE: StackId = StackId(0);

    /// The id, or `None` for "no stack".
    pub const fn get(self) -> Option<u32> {
        if self.0 == 0 { None } else { Some(self.0) }
    }
    /// No stack was recorded (id 0).
    pub const fn is_none(&self) -> bool {
        self.0 == 0
    }
}

/// Length of a disk name (`DISK_NAME_LEN`).
pub const NAME_LEN: usize = 32;

/// Length of a [`ShortName`].
pub const SHORT_LEN: usize = 16;

/// Length of a [`PathName`]: longer paths are cut (for display only; the
/// device identifies a mount). Every event in memory is as large as the
/// largest payload, so this stays small.
pub const PATH_LEN: usize = 128;

/// A NUL-padded UTF-8 string of fixed size: `$name([u8; $len])`. Any bytes
/// are a valid value; the text ends at the first NUL or invalid byte.
macro_rules! fixed_name {
    ($(#[$meta:meta])* $name:ident, $len:ident, $what:literal) => {
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// All NULs: the empty string.
            pub const EMPTY: $name = $name([0; $len]);

            /// The text up to its first NUL; text that is not UTF-8 is cut at
            /// the first invalid byte.
            pub fn as_str(&self) -> &str {
                let end = self.0.iter().position(|&b| b == 0).unwrap_or($len);
                let bytes = &self.0[..end];
                match core::str::from_utf8(bytes) {
                    Ok(s) => s,
                    Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
                }
            }

            /// The text is empty (the first byte is NUL).
            pub fn is_empty(&self) -> bool {
                self.0[0] == 0
            }

            #[doc = concat!("`s` cut to [`", stringify!($len), "`] bytes at a character boundary and at a NUL.")]
            pub fn from_str_lossy(s: &str) -> Self {
                let s = s.split('\0').next().unwrap_or("");
                let mut end = s.len().min($len);
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                let mut out = [0u8; $len];
                out[..end].copy_from_slice(&s.as_bytes()[..end]);
                $name(out)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::from_str_lossy(s)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::EMPTY
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "user")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        #[cfg(feature = "user")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_str_lossy(v))
                    }
                }
                d.deserialize_str(Visitor)
            }
        }
    };
}

fixed_name!(
    /// A NUL-padded disk name as the kernel keeps it.
    DiskName,
    NAME_LEN,
    "a disk name"
);
fixed_name!(
    /// A short NUL-padded name: filesystem and dm target types, `dm-N`.
    ShortName,
    SHORT_LEN,
    "a short name"
);
fixed_name!(
    /// A NUL-padded path (mount points), cut at [`PATH_LEN`] bytes.
    PathName,
    PATH_LEN,
    "a path"
);

/// An API enum stored as its number: `$code(u32)` for `$api`, whose
/// `from_u64` maps unknown numbers to `Unknown`; JSON shows the API's name.
macro_rules! api_code {
    ($(#[$meta:meta])* $code:ident, $api:ident) => {
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
        pub struct $code(pub u32);

        impl $code {
            #[doc = concat!(
                "The ABI number of `api` (its [`", stringify!($api), "`] discriminant)."
            )]
            pub const fn new(api: $api) -> Self {
                $code(api as u32)
            }
            #[doc = concat!(
                "The [`", stringify!($api), "`] of the number; `Unknown` for one this build ",
                "does not know."
            )]
            pub const fn get(self) -> $api {
                $api::from_u64(self.0 as u64)
            }
        }

        impl From<$api> for $code {
            fn from(api: $api) -> Self {
                $code::new(api)
            }
        }

        #[cfg(feature = "user")]
        impl serde::Serialize for $code {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.get().serialize(s)
            }
        }

        #[cfg(feature = "user")]
        impl<'de> serde::Deserialize<'de> for $code {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $api::deserialize(d).map($code::new)
            }
        }
    };
}

api_code!(
    /// Which claim/release API a record came from ([`ClaimApi`] as a number).
    ClaimApiCode,
    ClaimApi
);
api_code!(
    /// Which break-layouts path a wait went through ([`WaitApi`] as a number).
    WaitApiCode,
    WaitApi
);
api_code!(
    /// A pagemap's kind of memory ([`MemoryKind`] as a number).
    MemoryKindCode,
    MemoryKind
);

#[cfg(feature = "user")]
mod serde_forms {
    use super::*;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

    impl Serialize for Flag {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bool(self.get())
        }
    }
    impl<'de> Deserialize<'de> for Flag {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            bool::deserialize(d).map(Flag::new)
        }
    }

    impl Serialize for OptU64 {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.get().serialize(s)
        }
    }
    impl<'de> Deserialize<'de> for OptU64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            match Option::<u64>::deserialize(d)? {
                Some(u64::MAX) => Err(de::Error::custom(
                    "u64::MAX is reserved for an unknown value",
                )),
                v => Ok(OptU64::new(v)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names_cut_at_nul_and_length_on_char_boundaries() {
        assert_eq!(DiskName::from_str_lossy("pmem0").as_str(), "pmem0");
        assert_eq!(DiskName::from_str_lossy("a\0b").as_str(), "a");
        let long = "é".repeat(20); // 40 bytes
        let cut = DiskName::from_str_lossy(&long);
        assert_eq!(cut.as_str(), "é".repeat(16));
        let mut raw = [0u8; NAME_LEN];
        raw[..3].copy_from_slice(&[b'x', 0xff, b'y']);
        assert_eq!(DiskName(raw).as_str(), "x");
    }

    #[test]
    fn opt_u64_reserves_max_only() {
        assert_eq!(OptU64::new(Some(0)).get(), Some(0));
        assert_eq!(OptU64::new(None).get(), None);
        assert!(OptU64::default().is_none());
    }

    #[test]
    fn dev_t_prints_like_ls() {
        let d = Dev::new(259, 3);
        assert_eq!((d.major(), d.minor()), (259, 3));
    }
}
