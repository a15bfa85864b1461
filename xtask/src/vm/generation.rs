//! The kernel generations the test bed boots, and the Debian suites that carry them.
use std::fmt;
use std::str::FromStr;

/// A Debian kernel generation (`--kernel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelGen {
    V5_10,
    V6_1,
    V6_12,
    V7,
}

/// One `deb` line of the project's own apt source list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    pub uri: &'static str,
    pub name: &'static str,
}

const DEBIAN: &str = "http://deb.debian.org/debian";
const DEBIAN_SECURITY: &str = "http://deb.debian.org/debian-security";

impl KernelGen {
    pub const ALL: [KernelGen; 4] = [Self::V5_10, Self::V6_1, Self::V6_12, Self::V7];

    /// The name used on the command line and for cache directories.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V5_10 => "5.10",
            Self::V6_1 => "6.1",
            Self::V6_12 => "6.12",
            Self::V7 => "7",
        }
    }

    /// The suites whose `linux-image-amd64` is this generation.
    pub fn suites(self) -> &'static [Suite] {
        match self {
            Self::V5_10 => &[
                Suite {
                    uri: DEBIAN,
                    name: "bullseye",
                },
                Suite {
                    uri: DEBIAN_SECURITY,
                    name: "bullseye-security",
                },
            ],
            Self::V6_1 => &[Suite {
                uri: DEBIAN,
                name: "bookworm",
            }],
            Self::V6_12 => &[Suite {
                uri: DEBIAN,
                name: "trixie",
            }],
            Self::V7 => &[Suite {
                uri: DEBIAN,
                name: "sid",
            }],
        }
    }

    /// Whether a kernel release string (`uname -r`) belongs to this generation.
    pub fn matches_release(self, release: &str) -> bool {
        let mut parts = release.split(['.', '-', '+']);
        let major = parts.next().unwrap_or_default();
        let minor = parts.next().unwrap_or_default();
        match self {
            Self::V5_10 => major == "5" && minor == "10",
            Self::V6_1 => major == "6" && minor == "1",
            Self::V6_12 => major == "6" && minor == "12",
            Self::V7 => major == "7",
        }
    }
}

impl fmt::Display for KernelGen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KernelGen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                format!("unknown kernel generation `{s}` (expected 5.10, 6.1, 6.12 or 7)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_generation_name_back() {
        for g in KernelGen::ALL {
            assert_eq!(g.as_str().parse::<KernelGen>(), Ok(g));
        }
        assert!("6".parse::<KernelGen>().is_err());
        assert!("6.10".parse::<KernelGen>().is_err());
    }

    #[test]
    fn release_strings_match_only_their_generation() {
        assert!(KernelGen::V6_1.matches_release("6.1.0-56-amd64"));
        assert!(!KernelGen::V6_1.matches_release("6.12.57+deb13-amd64"));
        assert!(KernelGen::V6_12.matches_release("6.12.57+deb13-amd64"));
        assert!(KernelGen::V5_10.matches_release("5.10.0-46-amd64"));
        assert!(KernelGen::V7.matches_release("7.2.13+deb14-amd64"));
        assert!(!KernelGen::V7.matches_release("6.17.1-amd64"));
    }

    #[test]
    fn bullseye_pulls_security_updates_too() {
        let names: Vec<_> = KernelGen::V5_10.suites().iter().map(|s| s.name).collect();
        assert_eq!(names, ["bullseye", "bullseye-security"]);
    }
}
