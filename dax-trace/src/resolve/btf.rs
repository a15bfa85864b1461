//! The running kernel's BTF: vmlinux plus the split BTF of the modules that
//! hold functions we attach to. Answers the questions the loader has: struct
//! member offsets (through anonymous unions and structs), struct sizes, enum
//! values and function prototypes.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use btf_rs::{Btf, Type};

/// Reading or querying BTF failed.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("reading BTF {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: btf_rs::Error,
    },
    #[error("BTF query for {what}: {source}")]
    Query {
        what: String,
        #[source]
        source: btf_rs::Error,
    },
}

/// Where a function's prototype was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// `None` for vmlinux, else the module whose BTF has it.
    pub module: Option<String>,
    /// Number of parameters (variadic `...` not counted).
    pub nargs: u8,
    /// Parameter names, in order (empty strings where BTF has none).
    pub params: Vec<String>,
}

/// vmlinux BTF and the module BTF loaded so far.
pub struct KernelBtf {
    dir: PathBuf,
    vmlinux: Btf,
    modules: BTreeMap<String, Btf>,
}

/// How deep anonymous members are followed (page has unions in structs in unions).
const MAX_NESTING: usize = 8;

impl KernelBtf {
    /// Opens `<dir>/vmlinux` (normally `/sys/kernel/btf`).
    pub fn open(dir: &Path) -> Result<Self, BtfError> {
        let path = dir.join("vmlinux");
        let vmlinux = Btf::from_file(&path).map_err(|source| BtfError::Open { path, source })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            vmlinux,
            modules: BTreeMap::new(),
        })
    }

    /// Loads the split BTF of `module` if the kernel publishes it
    /// (`<dir>/<module>`). Returns whether it is available.
    pub fn load_module(&mut self, module: &str) -> Result<bool, BtfError> {
        if self.modules.contains_key(module) {
            return Ok(true);
        }
        let path = self.dir.join(module);
        if !path.is_file() {
            return Ok(false);
        }
        let btf = Btf::from_split_file(&path, &self.vmlinux)
            .map_err(|source| BtfError::Open { path, source })?;
        self.modules.insert(module.to_string(), btf);
        Ok(true)
    }

    /// True when `<dir>/<module>` exists (the kernel has BTF for that module).
    pub fn has_module_btf(&self, module: &str) -> bool {
        self.dir.join(module).is_file()
    }

    fn query<T>(what: &str, r: btf_rs::Result<T>) -> Result<T, BtfError> {
        r.map_err(|source| BtfError::Query {
            what: what.to_string(),
            source,
        })
    }

    /// The complete definition of `struct name` (not a forward declaration).
    fn find_struct(&self, name: &str) -> Result<Option<btf_rs::Struct>, BtfError> {
        let types = Self::query(name, self.vmlinux.resolve_types_by_name(name))?;
        Ok(types.into_iter().find_map(|t| match t {
            Type::Struct(s) if s.size() > 0 || !s.members.is_empty() => Some(s),
            _ => None,
        }))
    }

    /// `sizeof(struct name)`, `None` when the struct is unknown.
    pub fn struct_size(&self, name: &str) -> Result<Option<u64>, BtfError> {
        Ok(self.find_struct(name)?.map(|s| s.size() as u64))
    }

    /// Byte offset of `member` in `struct name`, looking through anonymous
    /// unions and structs. `None` when the struct or the member is absent.
    pub fn member_offset(&self, name: &str, member: &str) -> Result<Option<u32>, BtfError> {
        let Some(s) = self.find_struct(name)? else {
            return Ok(None);
        };
        self.find_member(&s, member, 0, 0)
            .map(|bits| bits.map(|b| b / 8))
    }

    /// Byte offset of a dotted path (`"range.start"`, `"flags.f"`) in `struct name`.
    pub fn path_offset(&self, name: &str, path: &str) -> Result<Option<u32>, BtfError> {
        let Some(mut s) = self.find_struct(name)? else {
            return Ok(None);
        };
        let mut total = 0u32;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            let Some((bits, ty)) = self.find_member_typed(&s, part, 0, 0)? else {
                return Ok(None);
            };
            total += bits;
            if parts.peek().is_some() {
                match self.strip(ty)? {
                    Type::Struct(inner) | Type::Union(inner) => s = inner,
                    _ => return Ok(None),
                }
            }
        }
        Ok(Some(total / 8))
    }

    fn find_member(
        &self,
        s: &btf_rs::Struct,
        member: &str,
        base_bits: u32,
        depth: usize,
    ) -> Result<Option<u32>, BtfError> {
        Ok(self
            .find_member_typed(s, member, base_bits, depth)?
            .map(|(bits, _)| bits))
    }

    /// Bit offset of `member` and its type.
    fn find_member_typed(
        &self,
        s: &btf_rs::Struct,
        member: &str,
        base_bits: u32,
        depth: usize,
    ) -> Result<Option<(u32, Type)>, BtfError> {
        if depth > MAX_NESTING {
            return Ok(None);
        }
        // Named members first: an anonymous union must not shadow a direct hit.
        let mut anonymous = Vec::new();
        for m in &s.members {
            let name = Self::query(member, self.vmlinux.resolve_name(m))?;
            let ty = Self::query(member, self.vmlinux.resolve_chained_type(m))?;
            if name == member {
                return Ok(Some((base_bits + m.bit_offset(), ty)));
            }
            if name.is_empty() {
                anonymous.push((m.bit_offset(), ty));
            }
        }
        for (bits, ty) in anonymous {
            if let Type::Struct(inner) | Type::Union(inner) = self.strip(ty)?
                && let Some(hit) =
                    self.find_member_typed(&inner, member, base_bits + bits, depth + 1)?
            {
                return Ok(Some(hit));
            }
        }
        Ok(None)
    }

    /// Follows typedefs and qualifiers down to the underlying type.
    fn strip(&self, mut ty: Type) -> Result<Type, BtfError> {
        for _ in 0..MAX_NESTING {
            ty = match &ty {
                Type::Typedef(t) => Self::query("typedef", self.vmlinux.resolve_chained_type(t))?,
                Type::Const(t) | Type::Volatile(t) | Type::Restrict(t) => {
                    Self::query("qualifier", self.vmlinux.resolve_chained_type(t))?
                }
                Type::TypeTag(t) => Self::query("type tag", self.vmlinux.resolve_chained_type(t))?,
                _ => return Ok(ty),
            };
        }
        Ok(ty)
    }

    /// Value of `enumerator` of `enum enum_name`; when no enum of that name
    /// holds it, every enum is searched (an enumerator name is unique in C).
    pub fn enum_value(&self, enum_name: &str, enumerator: &str) -> Result<Option<i64>, BtfError> {
        let named = Self::query(enum_name, self.vmlinux.resolve_types_by_name(enum_name))?;
        for ty in &named {
            if let Some(v) = self.enumerator_in(ty, enumerator)? {
                return Ok(Some(v));
            }
        }
        let (first, last) = self.vmlinux.base().type_id_range();
        for id in first..=last {
            let ty = Self::query(enumerator, self.vmlinux.resolve_type_by_id(id))?;
            if let Some(v) = self.enumerator_in(&ty, enumerator)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn enumerator_in(&self, ty: &Type, enumerator: &str) -> Result<Option<i64>, BtfError> {
        match ty {
            Type::Enum(e) => {
                for m in &e.members {
                    if Self::query(enumerator, self.vmlinux.resolve_name(m))? == enumerator {
                        let v = if e.is_signed() {
                            m.val() as i32 as i64
                        } else {
                            m.val() as i64
                        };
                        return Ok(Some(v));
                    }
                }
            }
            Type::Enum64(e) => {
                for m in &e.members {
                    if Self::query(enumerator, self.vmlinux.resolve_name(m))? == enumerator {
                        return Ok(Some(m.val() as i64));
                    }
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// The prototype of function `name`, in vmlinux or in `module`'s BTF
    /// (which must have been loaded with [`Self::load_module`]).
    pub fn function(&self, name: &str, module: Option<&str>) -> Result<Option<FuncInfo>, BtfError> {
        let btf = match module {
            None => &self.vmlinux,
            Some(m) => match self.modules.get(m) {
                Some(b) => b,
                None => return Ok(None),
            },
        };
        let types = Self::query(name, btf.resolve_types_by_name(name))?;
        for ty in types {
            let Type::Func(func) = ty else { continue };
            let proto = Self::query(name, btf.resolve_chained_type(&func))?;
            let Type::FuncProto(proto) = proto else {
                continue;
            };
            let mut params = Vec::new();
            for p in proto.parameters.iter().filter(|p| !p.is_variadic()) {
                params.push(Self::query(name, btf.resolve_name(p))?);
            }
            return Ok(Some(FuncInfo {
                module: module.map(str::to_string),
                nargs: params.len().min(u8::MAX as usize) as u8,
                params,
            }));
        }
        Ok(None)
    }
}
