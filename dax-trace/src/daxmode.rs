//! Is DAX in effect on a mount? A mount can ask for DAX and not get it
//! (a block size other than the page size, a device without DAX, a file
//! without the per-inode flag under `dax=inode`), and `dax=never` turns it
//! off. This module names the mode the options ask for and turns a sample
//! of the mount's regular files into one answer, the same for `state`,
//! report, top and `check --expect-dax`; it reads nothing itself (the
//! sample is taken by `state::daxmode`).
use dax_trace_common::payload::StateDaxMode;

/// The DAX mode a mount's options ask for (the kernel's own rendering in
/// mountinfo: ext4 and xfs print the mode they took).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Asked {
    /// No `dax` option (ext4 and xfs then decide per inode, like `dax=inode`).
    #[default]
    None,
    /// The legacy `dax` option (ext2, older xfs): every file.
    Dax,
    /// `dax=always`: every regular file.
    Always,
    /// `dax=inode`: files with the per-inode DAX flag (`FS_XFLAG_DAX`).
    Inode,
    /// `dax=never`: no file.
    Never,
}

impl Asked {
    /// The mode of a comma-separated option string (both mountinfo option
    /// fields may be given, joined by a comma); the last `dax` option wins.
    pub fn from_options(opts: &str) -> Self {
        opts.split(',').fold(Self::None, |mode, o| match o {
            "dax" => Self::Dax,
            "dax=always" => Self::Always,
            "dax=inode" => Self::Inode,
            "dax=never" => Self::Never,
            _ => mode,
        })
    }

    /// The number `StateDaxMode::asked` carries.
    pub fn code(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Dax => 1,
            Self::Always => 2,
            Self::Inode => 3,
            Self::Never => 4,
        }
    }

    /// The mode of a `StateDaxMode::asked` number (unknown numbers: none).
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => Self::Dax,
            2 => Self::Always,
            3 => Self::Inode,
            4 => Self::Never,
            _ => Self::None,
        }
    }

    /// The option as written (`no dax option` for none).
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "no dax option",
            Self::Dax => "dax",
            Self::Always => "dax=always",
            Self::Inode => "dax=inode",
            Self::Never => "dax=never",
        }
    }

    /// The options ask for DAX on every file (`dax`, `dax=always`).
    pub fn wants_all(self) -> bool {
        matches!(self, Self::Dax | Self::Always)
    }
}

/// What the sample of a mount's regular files says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Every file sampled is DAX.
    InEffect,
    /// Some files sampled are DAX, others not (`dax=inode`, or flags
    /// changed on a mounted filesystem).
    Partly,
    /// No file sampled is DAX.
    NotInEffect,
    /// The filesystem has no regular file to sample.
    NoFileToSample,
    /// The kernel does not report the DAX attribute (before 5.8).
    NotReported,
    /// The files could not be examined (the errno says why).
    Unreadable,
}

/// One mount's answer: what it asked for and what its files say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DaxMode {
    pub asked: Asked,
    pub effect: Effect,
    /// Regular files examined.
    pub sampled: u32,
    /// Of those, DAX files.
    pub dax_files: u32,
    /// Why the files could not be examined (0: they were).
    pub errno: u32,
}

impl DaxMode {
    /// Reads the answer out of a `state-dax-mode` payload.
    pub fn of_state(s: &StateDaxMode) -> Self {
        let effect = if s.errno != 0 {
            Effect::Unreadable
        } else if !s.reported.get() {
            Effect::NotReported
        } else if s.sampled == 0 {
            Effect::NoFileToSample
        } else if s.dax_files >= s.sampled {
            Effect::InEffect
        } else if s.dax_files == 0 {
            Effect::NotInEffect
        } else {
            Effect::Partly
        };
        Self {
            asked: Asked::from_code(s.asked),
            effect,
            sampled: s.sampled,
            dax_files: s.dax_files,
            errno: s.errno,
        }
    }

    /// DAX is in effect: files were sampled and every one is DAX.
    pub fn in_effect(&self) -> bool {
        self.effect == Effect::InEffect
    }

    /// `dax=always asked, DAX in effect (3 of 3 files sampled are DAX)`.
    pub fn describe(&self) -> String {
        let files = |n: u32| if n == 1 { "file" } else { "files" };
        let counted = format!(
            "{} of {} {} sampled {} DAX",
            self.dax_files,
            self.sampled,
            files(self.sampled),
            if self.sampled == 1 { "is" } else { "are" }
        );
        let effect = match self.effect {
            Effect::InEffect => format!("DAX in effect ({counted})"),
            Effect::Partly => format!("DAX partly in effect ({counted})"),
            Effect::NotInEffect => format!("DAX not in effect ({counted})"),
            Effect::NoFileToSample => "DAX unknown: no regular file to sample".to_string(),
            Effect::NotReported => {
                "DAX unknown: this kernel does not report the DAX attribute".to_string()
            }
            Effect::Unreadable if self.errno == libc::EXDEV as u32 => {
                "DAX unknown: another filesystem is mounted over it".to_string()
            }
            Effect::Unreadable => format!(
                "DAX unknown: files not readable ({})",
                std::io::Error::from_raw_os_error(self.errno as i32)
            ),
        };
        let asked = match self.asked {
            Asked::None => "no dax option".to_string(),
            a => format!("{} asked", a.label()),
        };
        format!("{asked}, {effect}")
    }

    /// The dashboard's narrow form: `dax=inode: partly 1/4 DAX`.
    pub fn compact(&self) -> String {
        let asked = match self.asked {
            Asked::None => "no dax opt",
            a => a.label(),
        };
        let counted = |word: &str| format!("{word} {}/{} DAX", self.dax_files, self.sampled);
        let effect = match self.effect {
            Effect::InEffect => counted("on"),
            Effect::Partly => counted("partly"),
            Effect::NotInEffect => counted("off"),
            Effect::NoFileToSample => "? no file".to_string(),
            Effect::NotReported => "? not reported".to_string(),
            Effect::Unreadable => "? unreadable".to_string(),
        };
        format!("{asked}: {effect}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Flag;

    fn state(asked: Asked, reported: bool, sampled: u32, dax_files: u32) -> StateDaxMode {
        StateDaxMode {
            asked: asked.code(),
            reported: Flag::new(reported),
            sampled,
            dax_files,
            ..StateDaxMode::default()
        }
    }

    #[test]
    fn the_mode_asked_is_the_last_dax_option() {
        assert_eq!(Asked::from_options("rw,relatime"), Asked::None);
        assert_eq!(Asked::from_options("rw,dax"), Asked::Dax);
        assert_eq!(Asked::from_options("rw,dax=always"), Asked::Always);
        assert_eq!(Asked::from_options("rw,dax=inode,attr2"), Asked::Inode);
        assert_eq!(Asked::from_options("dax=always,dax=never"), Asked::Never);
        assert_eq!(Asked::from_options("rw,daxx,nodax"), Asked::None);
        for a in [
            Asked::None,
            Asked::Dax,
            Asked::Always,
            Asked::Inode,
            Asked::Never,
        ] {
            assert_eq!(Asked::from_code(a.code()), a);
        }
    }

    #[test]
    fn only_a_sample_of_dax_files_is_in_effect() {
        let of = |s| DaxMode::of_state(&s);
        assert_eq!(
            of(state(Asked::Always, true, 3, 3)).effect,
            Effect::InEffect
        );
        assert!(of(state(Asked::Always, true, 3, 3)).in_effect());
        assert_eq!(of(state(Asked::Inode, true, 3, 1)).effect, Effect::Partly);
        assert_eq!(
            of(state(Asked::Inode, true, 3, 0)).effect,
            Effect::NotInEffect
        );
        let empty = of(state(Asked::Always, true, 0, 0));
        assert_eq!(empty.effect, Effect::NoFileToSample);
        assert!(!empty.in_effect(), "an empty filesystem proves nothing");
        assert_eq!(
            of(state(Asked::Always, false, 3, 0)).effect,
            Effect::NotReported
        );
        let unreadable = StateDaxMode {
            errno: 13,
            ..state(Asked::Always, true, 0, 0)
        };
        assert_eq!(of(unreadable).effect, Effect::Unreadable);
    }

    #[test]
    fn the_compact_form_fits_the_detail_pane() {
        let c = |s| DaxMode::of_state(&s).compact();
        assert_eq!(
            c(state(Asked::Inode, true, 4, 1)),
            "dax=inode: partly 1/4 DAX"
        );
        assert_eq!(
            c(state(Asked::Always, true, 32, 32)),
            "dax=always: on 32/32 DAX"
        );
        assert_eq!(c(state(Asked::Never, true, 2, 0)), "dax=never: off 0/2 DAX");
        assert_eq!(c(state(Asked::None, true, 0, 0)), "no dax opt: ? no file");
    }

    #[test]
    fn the_description_says_what_was_asked_and_what_the_files_say() {
        let d = |s| DaxMode::of_state(&s).describe();
        assert_eq!(
            d(state(Asked::Always, true, 3, 3)),
            "dax=always asked, DAX in effect (3 of 3 files sampled are DAX)"
        );
        assert_eq!(
            d(state(Asked::Inode, true, 1, 0)),
            "dax=inode asked, DAX not in effect (0 of 1 file sampled is DAX)"
        );
        assert_eq!(
            d(state(Asked::None, true, 0, 0)),
            "no dax option, DAX unknown: no regular file to sample"
        );
    }
}
