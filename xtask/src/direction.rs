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
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// One source file: its path relative to `src/` and its text.
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// Edges between top-level modules: from -> to -> the first file (relative
/// to `src/`) that makes the edge.
pub type Edges = BTreeMap<String, BTreeMap<String, PathBuf>>;

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

/// A token of Rust source, as far as paths need: identifiers, `::`, braces
/// and the punctuation that separates group members.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

/// Splits `text` into tokens, dropping comments, string and char literals.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 1;
            i += 2;
            while i < chars.len() && depth > 0 {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            i = skip_raw_string(&chars, i);
            out.push(Token::Other);
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(Token::Other);
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
            out.push(Token::Other);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Other);
        } else {
            out.push(match c {
                ':' if next == Some(':') => {
                    i += 1;
                    Token::PathSep
                }
                '{' => Token::Open,
                '}' => Token::Close,
                ',' => Token::Comma,
                ';' => Token::Semi,
                _ => Token::Other,
            });
            i += 1;
        }
    }
    out
}

/// True when a raw string (`r"`, `r#"`) starts at `i` (not an identifier
/// ending in r, which the caller has ruled out by position).
fn raw_string_at(chars: &[char], i: usize) -> bool {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return false;
    }
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

fn skip_raw_string(chars: &[char], i: usize) -> usize {
    let mut j = i + 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
            return j + 1 + hashes;
        }
        j += 1;
    }
    j
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token::Ident(s)) => Some(s),
        _ => None,
    }
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
            if &target != top && modules.contains(&target) {
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
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Vec<SourceFile> {
        files
            .iter()
            .map(|(path, text)| SourceFile {
                path: PathBuf::from(path),
                text: text.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_layered_tree_has_no_cycle() {
        let files = tree(&[
            (
                "lib.rs",
                "pub mod clock;\npub mod state;\npub mod source;\n",
            ),
            (
                "clock.rs",
                "//! uses crate::source in a comment only\npub fn now() {}\n",
            ),
            (
                "state/mod.rs",
                "mod events;\nuse crate::clock::now;\nconst S: &str = \"crate::source\";\n",
            ),
            (
                "state/events.rs",
                "use super::super::clock;\nuse super::mod_b;\n",
            ),
            ("source/mod.rs", "use crate::{clock, state::events};\n"),
        ]);
        let e = edges(&files);
        assert_eq!(
            e["state"].keys().collect::<Vec<_>>(),
            ["clock"],
            "comments and strings are not edges: {e:?}"
        );
        assert_eq!(e["source"].keys().collect::<Vec<_>>(), ["clock", "state"]);
        assert!(cycles(&e).is_empty(), "{:?}", cycles(&e));
    }

    #[test]
    fn a_cycle_is_named_with_its_files() {
        let files = tree(&[
            (
                "lib.rs",
                "pub mod source;\npub mod state;\npub mod trace;\n",
            ),
            (
                "state/events.rs",
                "pub fn now() { crate::source::live::clock_ns() }\n",
            ),
            ("source/live.rs", "use crate::state::Tracker;\n"),
            ("trace/mod.rs", "use crate::state;\n"),
        ]);
        let found = cycles(&edges(&files));
        assert_eq!(
            found,
            ["source -> state (source/live.rs) -> source (state/events.rs)"]
        );
    }

    #[test]
    fn super_from_a_test_module_climbs_one_more_level() {
        // In state/tracker.rs, `mod tests { use super::super::x }` is state::x;
        // `super::super::super::source` is crate::source.
        let files = tree(&[
            ("lib.rs", "pub mod source;\npub mod state;\n"),
            (
                "state/tracker.rs",
                "#[cfg(test)]\nmod tests {\n    use super::super::x;\n    fn f() { let c = '{'; }\n}\n",
            ),
            ("source/mod.rs", "use crate::state;\n"),
        ]);
        assert!(cycles(&edges(&files)).is_empty());
        let files = tree(&[
            ("lib.rs", "pub mod source;\npub mod state;\n"),
            (
                "state/tracker.rs",
                "mod tests {\n    use super::super::super::source::{self, x};\n}\n",
            ),
            ("source/mod.rs", "use crate::state;\n"),
        ]);
        assert_eq!(cycles(&edges(&files)).len(), 1);
    }

    #[test]
    fn a_longer_cycle_and_the_binary_crate() {
        let files = tree(&[
            ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
            ("main.rs", "mod cmd;\nmod run;\n"),
            ("a.rs", "use crate::b;\n"),
            ("b.rs", "use crate::c;\n"),
            ("c.rs", "use crate::a;\n"),
            // The binary's modules: edges among them only; dax_trace:: is not one.
            ("cmd/mod.rs", "use crate::run;\nuse dax_trace::a;\n"),
            ("run.rs", "fn f() {}\n"),
        ]);
        let e = edges(&files);
        assert_eq!(e["cmd"].keys().collect::<Vec<_>>(), ["run"]);
        assert_eq!(cycles(&e), ["a -> b (a.rs) -> c (b.rs) -> a (c.rs)"],);
    }

    #[test]
    fn the_repository_trees_have_no_cycle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for src in ["dax-trace/src", "xtask/src"] {
            let files = read_tree(&root.join(src)).expect("reads the tree");
            assert!(files.len() > 10, "{src}: {} files", files.len());
            let found = cycles(&edges(&files));
            assert!(found.is_empty(), "{src}: {found:?}");
        }
    }
}
