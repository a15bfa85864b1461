//! Loading and attaching points on several threads. Loading is mostly the
//! kernel's verifier, which runs in the loading thread: under QEMU TCG it
//! took 9.6 s of the 18 s a `daxtrace probes` took on 6.1, point after
//! point on one CPU. Points whose programs are disjoint load side by side.
//!
//! Each job owns the programs its points may use (taken out of the object
//! by name), so the threads never share a program.
use std::collections::HashMap;
use std::sync::Mutex;

use aya::programs::{Program, ProgramError};
use dax_trace_common::probe::{Family, Hook, POINTS, Point};

use crate::session::probe_report::AttachKind;

/// The programs of a job, by name.
pub type Programs<'p> = HashMap<String, &'p mut Program>;

/// The program `name` of `programs` as a `T` (FEntry, KProbe...).
pub fn program<'s, T>(programs: &'s mut Programs<'_>, name: &str) -> Result<&'s mut T, String>
where
    &'s mut T: TryFrom<&'s mut Program, Error = ProgramError>,
{
    let prog: &'s mut Program = programs
        .get_mut(name)
        .map(|p| &mut **p)
        .ok_or_else(|| format!("program {name} is missing from the eBPF object"))?;
    prog.try_into().map_err(|e: ProgramError| e.to_string())
}

/// The names of the programs attaching `point` with `kind` may touch (the
/// same names `attach_kind` asks for).
pub fn program_names(point: &Point, kind: AttachKind) -> Vec<String> {
    let stem = point.stem;
    match kind {
        AttachKind::Fentry if point.hook == Hook::Exit => vec![format!("fexit_{stem}")],
        AttachKind::Fentry => vec![format!("fentry_{stem}"), format!("fexit_{stem}")],
        AttachKind::Kprobe => vec![format!("kprobe_{stem}"), format!("kretprobe_{stem}")],
        AttachKind::Tracepoint => vec![format!("tp_{stem}")],
        AttachKind::PerfEvent => vec!["timer_stuck_scan".to_string()],
    }
}

/// Requests (by index) that share no program with any other job, and the
/// programs (`P`: an aya program, or a stand-in in tests) they own.
pub struct Job<P> {
    pub requests: Vec<usize>,
    pub programs: HashMap<String, P>,
}

impl<P> Job<P> {
    fn empty() -> Self {
        Self {
            requests: Vec::new(),
            programs: HashMap::new(),
        }
    }
}

/// Groups requests (each given as the program names it may touch) into
/// jobs: two requests naming one program land in one job, in request order.
/// Names not in `pool` are left out (attaching reports them missing).
pub fn group<P>(names_per_request: &[Vec<String>], mut pool: HashMap<String, P>) -> Vec<Job<P>> {
    let mut jobs: Vec<Job<P>> = Vec::new();
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, names) in names_per_request.iter().enumerate() {
        let mut owners: Vec<usize> = names.iter().filter_map(|n| owner.get(n).copied()).collect();
        owners.sort_unstable();
        owners.dedup();
        let target = match owners.first() {
            Some(&first) => {
                // This request joins two jobs: the later ones fold into the first.
                for &other in owners[1..].iter().rev() {
                    let moved = std::mem::replace(&mut jobs[other], Job::empty());
                    for name in moved.programs.keys() {
                        owner.insert(name.clone(), first);
                    }
                    jobs[first].requests.extend(moved.requests);
                    jobs[first].programs.extend(moved.programs);
                }
                first
            }
            None => {
                jobs.push(Job::empty());
                jobs.len() - 1
            }
        };
        jobs[target].requests.push(i);
        for name in names {
            if let Some(prog) = pool.remove(name) {
                owner.insert(name.clone(), target);
                jobs[target].programs.insert(name.clone(), prog);
            }
        }
    }
    jobs.retain(|j| !j.requests.is_empty());
    for job in &mut jobs {
        job.requests.sort_unstable();
    }
    jobs
}

/// The threads to load with: the CPUs, at most 4 (more only contend in
/// the kernel's BTF and trampoline locks), at least 1.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Runs `work` on every job on up to `threads` threads, returning its
/// results by request index. The pin-owner points (the largest programs
/// to verify) are taken first, so that no thread is left with a long one
/// at the end.
pub fn run_jobs<P, R, F>(
    mut jobs: Vec<Job<P>>,
    points: &[u16],
    threads: usize,
    work: F,
) -> Vec<(usize, R)>
where
    P: Send,
    R: Send,
    F: Fn(usize, &mut HashMap<String, P>) -> R + Sync,
{
    let heavy = |job: &Job<P>| {
        job.requests.iter().any(|&i| {
            POINTS
                .get(usize::from(points[i]))
                .is_some_and(|p| p.family == Family::Pin)
        })
    };
    // Popped from the end: heavy jobs last in the vector.
    jobs.sort_by_key(|j| (heavy(j), std::cmp::Reverse(j.requests[0])));
    let queue = Mutex::new(jobs);
    let results = Mutex::new(Vec::new());
    let worker = || {
        loop {
            // A poisoned lock means another worker panicked: stop taking work.
            let Some(mut job) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                break;
            };
            let done: Vec<(usize, R)> = job
                .requests
                .iter()
                .map(|&i| (i, work(i, &mut job.programs)))
                .collect();
            if let Ok(mut r) = results.lock() {
                r.extend(done);
            }
        }
    };
    if threads <= 1 {
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(worker);
            }
        });
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    fn pool(names: &[&str]) -> HashMap<String, u32> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i as u32))
            .collect()
    }

    #[test]
    fn requests_naming_one_program_share_a_job_and_others_do_not() {
        let got = group(
            &names(&[&["a", "b"], &["c"], &["b"], &["d"], &["e", "x"]]),
            pool(&["a", "b", "c", "d", "e"]),
        );
        let requests: Vec<Vec<usize>> = got.iter().map(|j| j.requests.clone()).collect();
        assert_eq!(requests, [vec![0, 2], vec![1], vec![3], vec![4]]);
        let mut owned: Vec<&str> = got[0].programs.keys().map(String::as_str).collect();
        owned.sort_unstable();
        assert_eq!(owned, ["a", "b"]);
        // A name the object lacks is owned by nobody.
        assert!(!got[3].programs.contains_key("x"));
    }

    #[test]
    fn a_request_naming_two_jobs_programs_merges_them() {
        let got = group(
            &names(&[&["a"], &["b"], &["c"], &["b", "a"]]),
            pool(&["a", "b", "c"]),
        );
        let requests: Vec<Vec<usize>> = got.iter().map(|j| j.requests.clone()).collect();
        assert_eq!(requests, [vec![0, 1, 3], vec![2]]);
        assert_eq!(got[0].programs.len(), 2);
        // Without programs nothing is owned: every request alone.
        let alone = group(&names(&[&["a"], &["a"]]), HashMap::<String, u32>::new());
        assert_eq!(alone.len(), 2);
    }

    #[test]
    fn every_request_runs_once_and_results_come_back_in_order() {
        let points: Vec<u16> = (0..POINTS.len() as u16).collect();
        let jobs: Vec<Job<u32>> = (0..points.len())
            .map(|i| Job {
                requests: vec![i],
                programs: HashMap::new(),
            })
            .collect();
        let seen = Mutex::new(Vec::new());
        let got = run_jobs(jobs, &points, 3, |i, _| {
            seen.lock().unwrap().push(i);
            i * 10
        });
        let want: Vec<(usize, usize)> = (0..points.len()).map(|i| (i, i * 10)).collect();
        assert_eq!(got, want);
        assert_eq!(seen.into_inner().unwrap().len(), points.len());
    }

    #[test]
    fn pin_points_are_taken_first() {
        let pin = POINTS.iter().position(|p| p.family == Family::Pin).unwrap() as u16;
        let other = POINTS.iter().position(|p| p.family != Family::Pin).unwrap() as u16;
        let points = [other, pin, other];
        let jobs: Vec<Job<u32>> = (0..3)
            .map(|i| Job {
                requests: vec![i],
                programs: HashMap::new(),
            })
            .collect();
        let order = Mutex::new(Vec::new());
        run_jobs(jobs, &points, 1, |i, _| order.lock().unwrap().push(i));
        assert_eq!(order.into_inner().unwrap(), [1, 0, 2]);
    }

    #[test]
    fn program_names_follow_the_hook() {
        let exit = POINTS.iter().find(|p| p.hook == Hook::Exit).unwrap();
        assert_eq!(
            program_names(exit, AttachKind::Fentry),
            [format!("fexit_{}", exit.stem)]
        );
        let pair = POINTS.iter().find(|p| p.hook == Hook::EntryExit).unwrap();
        assert_eq!(program_names(pair, AttachKind::Kprobe).len(), 2);
    }
}
