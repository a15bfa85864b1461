//! The module-direction step of `cargo xtask test`: the top-level modules of
//! a crate's `src/` (dax-trace's, xtask's) must form layers, never a cycle.
//! Nothing else enforces direction inside one crate (ripgrep and tracexec
//! use crates for it), so a `use crate::a` in `b` while `a` uses `b` would
//! slip in unnoticed; this step names the cycle and the files that make it.
//!
//! The edges are read from the source text, not from the compiler: every
//! `crate::X` path (also inside `use crate::{X, Y::..}` groups) and every
//! `super::` chain that climbs to the crate root, counted per top-level
//! module. Comments and string literals are skipped, and inline `mod x {`
//! blocks (test modules) deepen the path `super::` starts from. A file
//! belongs to the crate whose root (`lib.rs` or `main.rs`) declares its
//! top-level module; paths into another crate (`dax_trace::`) are not edges.
//!
//! A module named [`TESTKIT`] is the top layer by construction: only tests
//! and a cargo feature compile it, so nothing shipped can use it, and tests
//! anywhere may. Edges into it are not counted; edges out of it are.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

mod tokens;

use tokens::{Token, ident, tokens};

/// One source file: its path relative to `src/` and its text.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// Edges between top-level modules: from -> to -> the first file (relative
/// to `src/`) that makes the edge.
pub type Edges = BTreeMap<String, BTreeMap<String, PathBuf>>;

/// The test generators' module: no edge into it is counted.
pub const TESTKIT: &str = "testkit";

/// Fails naming every cycle between the top-level modules of `src`.
pub fn check(src: &Path) -> anyhow::Result<()> {
    let files = read_tree(src)?;
    let cycles = cycles(&edges(&files));
    if cycles.is_empty() {
        eprintln!("module direction: {}: no cycle", src.display());
        return Ok(());
    }
    for cycle in &cycles {
        eprintln!("module cycle in {}: {cycle}", src.display());
    }
    bail!(
        "{} module cycle(s) in {}: {}",
        cycles.len(),
        src.display(),
        cycles.join("; ")
    )
}

/// Every `.rs` file under `src`, with paths relative to it, in a fixed order.
pub fn read_tree(src: &Path) -> anyhow::Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let rel = path.strip_prefix(src).unwrap_or(&path).to_path_buf();
                files.push(SourceFile { path: rel, text });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The top-level modules a crate root declares (`mod x;`, `pub mod x;`).
fn declared_modules(root: &str) -> BTreeSet<String> {
    let toks = tokens(root);
    let mut depth = 0usize;
    let mut out = BTreeSet::new();
    for (i, t) in toks.iter().enumerate() {
        match t {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Ident(m) if m == "mod" && depth == 0 => {
                if let (Some(name), Some(Token::Semi | Token::Open)) =
                    (ident(toks.get(i + 1)), toks.get(i + 2))
                {
                    out.insert(name.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

/// The module path of a file: `check/render.rs` -> [check, render],
/// `check/mod.rs` -> [check].
fn module_path(path: &Path) -> Vec<String> {
    let mut parts: Vec<String> = path
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The top-level modules `toks` names through `crate::` or `super::`, when
/// the file's module path is `path`.
fn targets(toks: &[Token], path: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    // Inline `mod x {` blocks: (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Token::Open => depth += 1,
            Token::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(m) if m == "mod" => {
                if let (Some(name), Some(Token::Open)) = (ident(toks.get(i + 1)), toks.get(i + 2)) {
                    inline.push((name.to_string(), depth + 1));
                }
            }
            Token::Ident(k) if k == "crate" && toks.get(i + 1) == Some(&Token::PathSep) => {
                collect_after(toks, i + 2, &mut found);
            }
            Token::Ident(k)
                if k == "super"
                    && toks.get(i + 1) == Some(&Token::PathSep)
                    && !(i >= 1 && toks[i - 1] == Token::PathSep) =>
            {
                let mut climbs = 0;
                let mut j = i;
                while ident(toks.get(j)) == Some("super")
                    && toks.get(j + 1) == Some(&Token::PathSep)
                {
                    climbs += 1;
                    j += 2;
                }
                let here = path.len() + inline.len();
                if climbs >= here {
                    collect_after(toks, j, &mut found);
                } else if let Some(top) = path.first() {
                    // Stays inside this file's top-level module.
                    found.insert(top.clone());
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The first segment of the path (or of each member of the group) at `i`.
fn collect_after(toks: &[Token], i: usize, found: &mut BTreeSet<String>) {
    match toks.get(i) {
        Some(Token::Ident(name)) => {
            found.insert(name.clone());
        }
        Some(Token::Open) => {
            let mut depth = 0usize;
            let mut member_start = true;
            for t in &toks[i + 1..] {
                match t {
                    Token::Open => depth += 1,
                    Token::Close if depth == 0 => break,
                    Token::Close => depth -= 1,
                    Token::Comma if depth == 0 => {
                        member_start = true;
                        continue;
                    }
                    Token::Ident(name) if depth == 0 && member_start => {
                        found.insert(name.clone());
                    }
                    _ => {}
                }
                member_start = false;
            }
        }
        _ => {}
    }
}

/// The edges between the top-level modules of one `src/` tree.
pub fn edges(files: &[SourceFile]) -> Edges {
    let mut crates: Vec<BTreeSet<String>> = Vec::new();
    for root in ["lib.rs", "main.rs"] {
        if let Some(f) = files.iter().find(|f| f.path == Path::new(root)) {
            crates.push(declared_modules(&f.text));
        }
    }
    let mut edges = Edges::new();
    for f in files {
        let path = module_path(&f.path);
        let Some(top) = path.first() else { continue };
        if path.len() == 1 && (top == "lib" || top == "main") {
            continue;
        }
        let Some(modules) = crates.iter().find(|c| c.contains(top)) else {
            continue;
        };
        for target in targets(&tokens(&f.text), &path) {
            if &target != top && target != TESTKIT && modules.contains(&target) {
                edges
                    .entry(top.clone())
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| f.path.clone());
            }
        }
    }
    edges
}

/// The cycles, each as `a -> b (file of a that uses b) -> a (file of b that
/// uses a)`: per strongly connected group of modules, the shortest cycle
/// through each of its modules, each cycle once.
pub fn cycles(edges: &Edges) -> Vec<String> {
    let nodes: BTreeSet<&String> = edges
        .iter()
        .flat_map(|(from, to)| std::iter::once(from).chain(to.keys()))
        .collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for start in nodes {
        let Some(mut cycle) = shortest_cycle(edges, start) else {
            continue;
        };
        // The same cycle found from another of its modules: start it at its
        // smallest module so both spell it the same.
        cycle.pop();
        let first = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap_or(0);
        cycle.rotate_left(first);
        cycle.push(cycle[0].clone());
        if !found.contains(&cycle) {
            found.push(cycle);
        }
    }
    found
        .iter()
        .map(|cycle| {
            let mut text = cycle[0].clone();
            for pair in cycle.windows(2) {
                let file = &edges[&pair[0]][&pair[1]];
                text.push_str(&format!(" -> {} ({})", pair[1], file.display()));
            }
            text
        })
        .collect()
}

/// Breadth-first from `start` back to it: the modules of the cycle, `start`
/// first and last.
fn shortest_cycle(edges: &Edges, start: &String) -> Option<Vec<String>> {
    let mut parent: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for next in edges.get(n).into_iter().flat_map(|m| m.keys()) {
            if next == start {
                let mut path = vec![start.clone(), n.clone()];
                let mut at = n;
                while at != start {
                    at = parent[at];
                    path.push(at.clone());
                }
                path.reverse();
                return Some(path);
            }
            if next != start && !parent.contains_key(next) {
                parent.insert(next, n);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
