//! The refcount of an idle FS-DAX page on this kernel.
//!
//! Before 6.15 a ZONE_DEVICE page is idle at refcount 1 (the devmap put path,
//! `put_devmap_managed_*`, wakes waiters at 2 -> 1). From 6.15 ("fs/dax: Fix
//! ZONE_DEVICE page reference counts") FS-DAX pages use 0-based counts and the
//! put path is `__folio_put` -> `free_zone_device_folio`.
//!
//! The decision trusts the kernel's functions before its version string
//! (vendor kernels backport): any `put_devmap_managed*` function means 1;
//! `free_zone_device_folio` without them means 0; when neither is known (no
//! symbols readable) the release number decides.

/// How the idle value was decided, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdleRule {
    pub refcount: u32,
    pub reason: String,
}

/// The devmap put functions of kernels with 1-based idle counts.
pub const DEVMAP_PUTS: [&str; 5] = [
    "__put_devmap_managed_folio_refs",
    "__put_devmap_managed_page_refs",
    "put_devmap_managed_page",
    "__put_devmap_managed_page",
    "free_devmap_managed_page",
];

/// Decides the idle refcount; `has_function` answers from kallsyms/BTF.
pub fn decide(has_function: impl Fn(&str) -> bool, release: &str) -> IdleRule {
    if let Some(f) = DEVMAP_PUTS.iter().find(|f| has_function(f)) {
        return IdleRule {
            refcount: 1,
            reason: format!("{f} present: devmap pages are idle at refcount 1"),
        };
    }
    if has_function("free_zone_device_folio") {
        return IdleRule {
            refcount: 0,
            reason: "free_zone_device_folio present and no put_devmap_managed*: 0-based refcounts (6.15+)"
                .to_string(),
        };
    }
    match parse_release(release) {
        Some(v) if v >= (6, 15) => IdleRule {
            refcount: 0,
            reason: format!("release {release} >= 6.15 (no put function found)"),
        },
        _ => IdleRule {
            refcount: 1,
            reason: format!("release {release} < 6.15 or unknown (no put function found)"),
        },
    }
}

/// `6.1.0-56-amd64` -> (6, 1).
pub fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_decide_before_the_version() {
        let k61 = ["__put_devmap_managed_page_refs", "free_zone_device_page"];
        let r = decide(|f| k61.contains(&f), "6.1.0-56-amd64");
        assert_eq!(r.refcount, 1);
        // A vendor 6.14 with the 6.15 refcount fix backported.
        let r = decide(|f| f == "free_zone_device_folio", "6.14.0-vendor");
        assert_eq!(r.refcount, 0);
        // 6.12 has both names: the devmap put wins.
        let k612 = ["__put_devmap_managed_folio_refs", "free_zone_device_folio"];
        assert_eq!(decide(|f| k612.contains(&f), "6.12.57").refcount, 1);
    }

    #[test]
    fn the_release_decides_without_symbols() {
        assert_eq!(decide(|_| false, "7.2.13-amd64").refcount, 0);
        assert_eq!(decide(|_| false, "6.15.0").refcount, 0);
        assert_eq!(decide(|_| false, "5.10.0-46-amd64").refcount, 1);
        assert_eq!(decide(|_| false, "garbage").refcount, 1);
        assert_eq!(parse_release("6.18.44-fc-v782"), Some((6, 18)));
    }
}
