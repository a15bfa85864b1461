//! Reading kernel memory for the state at start: the [`KernelMemory`]
//! trait the walkers use, and [`BpfReader`], which runs daxtrace's reader
//! program (`dax_trace_common::kread`) once per read through
//! `BPF_PROG_TEST_RUN`. Walkers never trust what they read: every list and
//! tree walk is bounded, and a failed read is an error, not a zero.
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use aya::Ebpf;
use aya::maps::{Array, MapData};
use aya::programs::RawTracePoint;
use dax_trace_common::kread::{KREAD_CHUNK, KreadBuffer, KreadRequest, KreadResult};

/// Name of the reader program in the eBPF object.
pub const READER_PROGRAM: &str = "daxtrace_kread";

/// A kernel read failed.
#[derive(Debug, thiserror::Error)]
pub enum KmemError {
    #[error("reading {len} bytes at {addr:#x}: bpf_probe_read_kernel returned {ret}")]
    Fault { addr: u64, len: usize, ret: i64 },
    #[error("running the reader program: {0}")]
    Run(#[source] std::io::Error),
    #[error("reader map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("loading the reader program: {0}")]
    Load(String),
}

/// Kernel virtual memory, read-only.
pub trait KernelMemory {
    /// Fills `out` from `addr`.
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), KmemError>;

    /// The reading task's `task_struct`, when the reader knows it.
    fn current_task(&self) -> Option<u64> {
        None
    }

    fn u64_at(&self, addr: u64) -> Result<u64, KmemError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn u32_at(&self, addr: u64) -> Result<u32, KmemError> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn i32_at(&self, addr: u64) -> Result<i32, KmemError> {
        self.u32_at(addr).map(|v| v as i32)
    }

    fn u8_at(&self, addr: u64) -> Result<u8, KmemError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// A NUL-terminated string of at most `max` bytes (lossy UTF-8).
    fn cstr_at(&self, addr: u64, max: usize) -> Result<String, KmemError> {
        let mut b = vec![0u8; max];
        self.read(addr, &mut b)?;
        let end = b.iter().position(|&c| c == 0).unwrap_or(max);
        Ok(String::from_utf8_lossy(&b[..end]).into_owned())
    }
}

/// `BPF_PROG_TEST_RUN`'s part of `union bpf_attr` (zeros where unused).
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// The reader program and its maps, taken out of the loaded object.
pub struct BpfReader {
    prog: OwnedFd,
    request: std::cell::RefCell<Array<MapData, KreadRequest>>,
    result: Array<MapData, KreadResult>,
    buffer: Array<MapData, KreadBuffer>,
    task: std::cell::Cell<u64>,
}

impl BpfReader {
    /// Loads the reader program of `ebpf` and takes its maps.
    pub fn new(ebpf: &mut Ebpf) -> Result<Self, KmemError> {
        let prog: &mut RawTracePoint = ebpf
            .program_mut(READER_PROGRAM)
            .ok_or_else(|| KmemError::Load(format!("the eBPF object has no {READER_PROGRAM}")))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| KmemError::Load(e.to_string()))?;
        prog.load().map_err(|e| KmemError::Load(chain(&e)))?;
        let prog = prog
            .fd()
            .map_err(|e| KmemError::Load(e.to_string()))?
            .as_fd()
            .try_clone_to_owned()
            .map_err(KmemError::Run)?;
        Ok(Self {
            prog,
            request: std::cell::RefCell::new(take_array(ebpf, "KREAD_REQUEST")?),
            result: take_array(ebpf, "KREAD_RESULT")?,
            buffer: take_array(ebpf, "KREAD_BUFFER")?,
            task: std::cell::Cell::new(0),
        })
    }

    fn run(&self) -> Result<(), KmemError> {
        let mut attr = TestRunAttr {
            prog_fd: self.prog.as_raw_fd() as u32,
            ..TestRunAttr::default()
        };
        // SAFETY: bpf(2) reads `attr` (of the size given) and writes back
        // `retval`; the struct outlives the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_TEST_RUN,
                &mut attr as *mut TestRunAttr,
                size_of::<TestRunAttr>() as u32,
            )
        };
        if rc < 0 {
            return Err(KmemError::Run(std::io::Error::last_os_error()));
        }
        if attr.retval != 0 {
            return Err(KmemError::Load(format!(
                "the reader program refused the request (returned {})",
                attr.retval
            )));
        }
        Ok(())
    }
}

/// An error with its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

fn take_array<V: aya::Pod>(
    ebpf: &mut Ebpf,
    name: &'static str,
) -> Result<Array<MapData, V>, KmemError> {
    let map = ebpf.take_map(name).ok_or(KmemError::Map {
        name,
        source: aya::maps::MapError::InvalidName {
            name: name.to_string(),
        },
    })?;
    Array::try_from(map).map_err(|source| KmemError::Map { name, source })
}

impl KernelMemory for BpfReader {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), KmemError> {
        for (i, chunk) in out.chunks_mut(KREAD_CHUNK).enumerate() {
            let at = addr.wrapping_add((i * KREAD_CHUNK) as u64);
            let req = KreadRequest {
                addr: at,
                len: chunk.len() as u32,
                _pad: 0,
            };
            self.request
                .borrow_mut()
                .set(0, req, 0)
                .map_err(|source| KmemError::Map {
                    name: "KREAD_REQUEST",
                    source,
                })?;
            self.run()?;
            let res = self.result.get(&0, 0).map_err(|source| KmemError::Map {
                name: "KREAD_RESULT",
                source,
            })?;
            self.task.set(res.task);
            if res.ret != 0 {
                return Err(KmemError::Fault {
                    addr: at,
                    len: chunk.len(),
                    ret: res.ret,
                });
            }
            let buf = self.buffer.get(&0, 0).map_err(|source| KmemError::Map {
                name: "KREAD_BUFFER",
                source,
            })?;
            chunk.copy_from_slice(&buf.bytes[..chunk.len()]);
        }
        Ok(())
    }

    fn current_task(&self) -> Option<u64> {
        (self.task.get() != 0).then(|| self.task.get())
    }
}

/// Memory made of byte ranges at chosen addresses, for walker tests.
#[cfg(test)]
#[derive(Default)]
pub struct FakeMemory {
    pub regions: Vec<(u64, Vec<u8>)>,
    pub task: Option<u64>,
}

#[cfg(test)]
impl FakeMemory {
    /// Maps `bytes` at `addr`.
    pub fn put(&mut self, addr: u64, bytes: Vec<u8>) {
        self.regions.push((addr, bytes));
    }

    /// Writes a little-endian value into an already mapped region.
    pub fn poke(&mut self, addr: u64, bytes: &[u8]) {
        for (base, data) in &mut self.regions {
            if addr >= *base && addr + bytes.len() as u64 <= *base + data.len() as u64 {
                let off = (addr - *base) as usize;
                data[off..off + bytes.len()].copy_from_slice(bytes);
                return;
            }
        }
        panic!("poke outside mapped memory at {addr:#x}");
    }

    pub fn poke_u64(&mut self, addr: u64, v: u64) {
        self.poke(addr, &v.to_le_bytes());
    }

    pub fn poke_u32(&mut self, addr: u64, v: u32) {
        self.poke(addr, &v.to_le_bytes());
    }
}

#[cfg(test)]
impl KernelMemory for FakeMemory {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), KmemError> {
        for (base, data) in &self.regions {
            if addr >= *base && addr + out.len() as u64 <= *base + data.len() as u64 {
                let off = (addr - *base) as usize;
                out.copy_from_slice(&data[off..off + out.len()]);
                return Ok(());
            }
        }
        Err(KmemError::Fault {
            addr,
            len: out.len(),
            ret: -14,
        })
    }

    fn current_task(&self) -> Option<u64> {
        self.task
    }
}
