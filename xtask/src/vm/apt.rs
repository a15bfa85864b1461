//! apt with a source list of the project's own: the host's lists, status and
//! preferences are never read or written.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::generation::Suite;

/// The keyring that signs every Debian suite we use.
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// An apt state directory (lists, cache, sources) private to one kernel generation.
pub struct AptRepo {
    root: PathBuf,
}

/// The `sources.list` text for `suites`, signed by `keyring`.
pub fn sources_list(suites: &[Suite], keyring: &str) -> String {
    suites
        .iter()
        .map(|s| {
            format!(
                "deb [arch=amd64 signed-by={keyring}] {} {} main\n",
                s.uri, s.name
            )
        })
        .collect()
}

/// Package names from a Debian `Depends:` value: version constraints dropped,
/// every alternative of an `a | b` group kept, in order.
pub fn parse_depends(value: &str) -> Vec<String> {
    value
        .split([',', '|'])
        .filter_map(|dep| dep.split_whitespace().next())
        .map(|name| name.split(':').next().unwrap_or(name).to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// The value of `field` in the first stanza of `apt-cache show` output.
pub fn stanza_field(show_output: &str, field: &str) -> Option<String> {
    let stanza = show_output.split("\n\n").next()?;
    let prefix = format!("{field}:");
    let mut lines = stanza.lines();
    let first = lines
        .by_ref()
        .find_map(|l| l.strip_prefix(prefix.as_str()))?;
    let mut value = first.trim().to_owned();
    for cont in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        value.push(' ');
        value.push_str(cont.trim());
    }
    Some(value)
}

/// The versioned image package `linux-image-amd64` depends on.
pub fn image_package_of_metapackage(meta_depends: &str) -> Option<String> {
    parse_depends(meta_depends)
        .into_iter()
        .find(|name| name.starts_with("linux-image-") && name != "linux-image-amd64")
}

/// The packages holding the kernel and modules of `image`: the image itself, or
/// (Debian 7.x) the `linux-binary-*` and `linux-modules-*` it is a metapackage over.
pub fn kernel_payload_packages(image: &str, image_depends: &str) -> Vec<String> {
    let split: Vec<String> = parse_depends(image_depends)
        .into_iter()
        .filter(|n| n.starts_with("linux-binary-") || n.starts_with("linux-modules-"))
        .collect();
    if split.is_empty() {
        vec![image.to_owned()]
    } else {
        split
    }
}

impl AptRepo {
    /// Prepare the state directory under `root` with a source list for `suites`.
    pub fn create(root: &Path, suites: &[Suite]) -> anyhow::Result<Self> {
        if !Path::new(DEBIAN_KEYRING).exists() {
            bail!("{DEBIAN_KEYRING} is missing: install debian-archive-keyring");
        }
        for dir in [
            "lists/partial",
            "cache/archives/partial",
            "etc/preferences.d",
        ] {
            std::fs::create_dir_all(root.join(dir))
                .with_context(|| format!("creating {}", root.join(dir).display()))?;
        }
        let list = root.join("etc/sources.list");
        std::fs::write(&list, sources_list(suites, DEBIAN_KEYRING))
            .with_context(|| format!("writing {}", list.display()))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn options(&self) -> Vec<String> {
        let r = self.root.display();
        [
            format!("Dir::Etc::sourcelist={r}/etc/sources.list"),
            "Dir::Etc::sourceparts=-".to_owned(),
            format!("Dir::Etc::preferences={r}/etc/preferences"),
            format!("Dir::Etc::preferencesparts={r}/etc/preferences.d"),
            format!("Dir::State::Lists={r}/lists"),
            format!("Dir::Cache={r}/cache"),
            "Dir::State::status=/dev/null".to_owned(),
            "APT::Architecture=amd64".to_owned(),
            "APT::Architectures=amd64".to_owned(),
            "Acquire::Languages=none".to_owned(),
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false".to_owned(),
            "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false".to_owned(),
            "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false".to_owned(),
            "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false".to_owned(),
            "Debug::NoLocking=1".to_owned(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_owned(), o])
        .collect()
    }

    fn run(&self, tool: &str, args: &[&str], cwd: Option<&Path>) -> anyhow::Result<String> {
        let mut cmd = Command::new(tool);
        cmd.args(self.options()).args(args).env("LC_ALL", "C");
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let out = cmd
            .output()
            .with_context(|| format!("running {tool} (is apt installed?)"))?;
        if !out.status.success() {
            bail!(
                "{tool} {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Refresh the package lists from the network.
    pub fn update(&self) -> anyhow::Result<()> {
        self.run("apt-get", &["-q", "update"], None).map(drop)
    }

    /// `Depends:` of the candidate version of `package`.
    pub fn depends_of(&self, package: &str) -> anyhow::Result<String> {
        let show = self.run("apt-cache", &["show", "--no-all-versions", package], None)?;
        stanza_field(&show, "Depends")
            .with_context(|| format!("apt-cache show {package} has no Depends field"))
    }

    /// Download `packages` as .deb files into `dir` (nothing is installed).
    pub fn download(&self, packages: &[String], dir: &Path) -> anyhow::Result<()> {
        let mut args = vec!["-q", "download"];
        args.extend(packages.iter().map(String::as_str));
        self.run("apt-get", &args, Some(dir)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_list_has_one_signed_line_per_suite() {
        let suites = super::super::generation::KernelGen::V5_10.suites();
        let text = sources_list(suites, "/k.gpg");
        assert_eq!(
            text,
            "deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian bullseye main\n\
             deb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian-security bullseye-security main\n"
        );
    }

    #[test]
    fn depends_drop_versions_and_keep_alternatives() {
        let deps = parse_depends(
            "dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base:any (= 7.2.13-1)",
        );
        assert_eq!(
            deps,
            [
                "dracut",
                "initramfs-tools",
                "linux-initramfs-tool",
                "linux-base"
            ]
        );
    }

    #[test]
    fn metapackage_resolves_to_the_versioned_image() {
        let meta = "linux-base-amd64 (= 7.2.13-1), linux-image-7.2.13+deb14-amd64 (= 7.2.13-1)";
        assert_eq!(
            image_package_of_metapackage(meta).as_deref(),
            Some("linux-image-7.2.13+deb14-amd64")
        );
        assert_eq!(image_package_of_metapackage("linux-base"), None);
    }

    #[test]
    fn split_images_download_binary_and_modules() {
        let deps = "dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, \
                    linux-base-7.2.13+deb14-amd64 (= 7.2.13-1), linux-binary-7.2.13+deb14-amd64 (= 7.2.13-1), \
                    linux-modules-7.2.13+deb14-amd64 (= 7.2.13-1)";
        assert_eq!(
            kernel_payload_packages("linux-image-7.2.13+deb14-amd64", deps),
            [
                "linux-binary-7.2.13+deb14-amd64",
                "linux-modules-7.2.13+deb14-amd64"
            ]
        );
    }

    #[test]
    fn whole_images_download_themselves() {
        let deps =
            "kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool";
        assert_eq!(
            kernel_payload_packages("linux-image-6.1.0-56-amd64", deps),
            ["linux-image-6.1.0-56-amd64"]
        );
    }

    #[test]
    fn stanza_field_reads_only_the_first_stanza_and_continuations() {
        let show = "Package: a\nDepends: x (>= 1),\n y\nVersion: 1\n\nPackage: a\nDepends: z\n";
        assert_eq!(
            stanza_field(show, "Depends").as_deref(),
            Some("x (>= 1), y")
        );
        assert_eq!(stanza_field(show, "Recommends"), None);
    }
}
