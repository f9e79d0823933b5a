//! Tidy checks in the style of rust-analyzer's `tidy.rs`: plain tests that
//! read the repository's own files and fail when a document stops matching
//! the code. They live here because `tessera` is the crate at the top of the
//! graph, and they run with `cargo test --workspace` like any other test.
//!
//! The rules, one test each:
//!
//! - **Crates in the code map.** Every workspace member `crates/<name>` (from
//!   the root `Cargo.toml`) appears in ARCHITECTURE.md's bird's-eye list as
//!   `<name>/` and has a section headed ``### `crates/<name>` ``; every such
//!   heading names a member.
//! - **Files in the code map.** Every `.rs` file under a crate's `src/`
//!   (`lib.rs`, `main.rs` and `mod.rs` included) is named in that crate's
//!   section, as a code span holding its path relative to `src/`:
//!   `` `routes/token.rs` ``, `` `lib.rs` ``. The section runs from its heading
//!   to the next heading of level 2 or 3.
//! - **Only real files in the code map.** A code span ending in `.rs` inside a
//!   crate's section names a file that exists, under the crate's `src/`,
//!   under the crate itself (`tests/store.rs`) or under the repository root
//!   (`crates/tessera/tests/tidy.rs`).
//! - **Migrations in pairs.** `crates/store/migrations/counterparts.toml`
//!   says which SQLite migrations each PostgreSQL migration stands for; every
//!   SQLite migration is named there by exactly one PostgreSQL migration, and
//!   every name in the file is a migration that exists. (Migration files are
//!   never edited to say this: sqlx checks the checksum of every applied
//!   migration, so an edited file would stop existing databases from
//!   starting.)
//! - **Conformance citations resolve.** In `crates/**/*.rs`, `README.md`,
//!   `ARCHITECTURE.md` and `docs/*.md`, a citation is `docs/conformance.md`
//!   followed by a list of `§<section>`, `item <n>`, `items <n>-<m>` /
//!   `items <n>, <m>`, `decisions` or `decision on item <n>`, separated by
//!   `, ` or ` and `. Each section and item must exist in
//!   `docs/conformance.md`, and an item cited as a decision must be marked
//!   `[decision]` there. A test named `conformance_<section>_<n>_…` (e.g.
//!   `conformance_1a_04_…`, `conformance_1d_34_35_…`) must name items of that
//!   section. The old `CONFORMANCE.md` (outside the repository) and the
//!   `1J-74` shorthand are refused. Inside `docs/conformance.md` itself,
//!   `item <n>` must name an item, and items are numbered 1, 2, 3… in order.
//! - **Module docs.** Every `.rs` file under `crates/*/src` starts with a
//!   `//!` comment saying what the file is for.
//! - **File length.** No `.rs` file under `crates/*/src` is over
//!   [`MAX_LINES`] lines unless [`LONG_FILES`] gives a reason; an entry that
//!   is no longer needed must be removed.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The length past which a source file is expected to be split.
const MAX_LINES: usize = 600;

/// Source files allowed over [`MAX_LINES`], each with the reason. Remove an
/// entry as soon as its file is split: the test fails on stale entries.
const LONG_FILES: &[(&str, &str)] = &[];

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `path` relative to the repository root, with `/` separators.
fn rel(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every file under `dir` whose name ends with `suffix`, sorted.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    pending.push(path);
                }
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Fails with every problem found, one per line, after `what`.
fn report(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}:\n  {}\n",
        problems.join("\n  ")
    );
}

// ---- the workspace and ARCHITECTURE.md's code map ----

/// The workspace members' directory names (`core` for `crates/core`).
fn member_crates() -> Vec<String> {
    let manifest: toml::Table = read(&root().join("Cargo.toml"))
        .parse()
        .expect("the root Cargo.toml is TOML");
    let members = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .expect("the root Cargo.toml has [workspace] members");
    members
        .iter()
        .map(|m| {
            let m = m.as_str().expect("a member is a string");
            m.strip_prefix("crates/")
                .unwrap_or_else(|| panic!("member {m} is not under crates/"))
                .to_owned()
        })
        .collect()
}

/// The inline code spans of a Markdown text (between single backticks).
fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// ARCHITECTURE.md's crate sections: the crate's directory name → the text
/// from its ``### `crates/<name>` `` heading to the next `##`/`###` heading.
fn code_map_sections(architecture: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in architecture.lines() {
        if line.starts_with("## ") || line.starts_with("### ") {
            if let Some((name, body)) = current.take() {
                sections.insert(name, body);
            }
            if let Some(rest) = line.strip_prefix("### `crates/")
                && let Some((name, _)) = rest.split_once('`')
            {
                current = Some((name.to_owned(), String::new()));
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((name, body)) = current {
        sections.insert(name, body);
    }
    sections
}

fn architecture() -> String {
    read(&root().join("ARCHITECTURE.md"))
}

#[test]
fn every_crate_is_in_the_code_map() {
    let architecture = architecture();
    let sections = code_map_sections(&architecture);
    let members = member_crates();
    let mut problems = Vec::new();
    for name in &members {
        if !architecture
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{name}/ ")))
        {
            problems.push(format!(
                "crates/{name}: add a line `  {name}/  <package>: <purpose>` to the crate list \
                 in \"Bird's-eye view\""
            ));
        }
        if !sections.contains_key(name) {
            problems.push(format!(
                "crates/{name}: add a section \"### `crates/{name}`\" to the code map"
            ));
        }
    }
    for name in sections.keys() {
        if !members.contains(name) {
            problems.push(format!(
                "the code map has a section for crates/{name}, which is not a workspace member: \
                 remove or rename it"
            ));
        }
    }
    report("ARCHITECTURE.md does not list every crate", &problems);
}

#[test]
fn every_src_file_is_in_the_code_map() {
    let root = root();
    let sections = code_map_sections(&architecture());
    let mut problems = Vec::new();
    for name in member_crates() {
        let src = root.join("crates").join(&name).join("src");
        let spans: BTreeSet<String> = sections
            .get(&name)
            .map(|s| code_spans(s).into_iter().collect())
            .unwrap_or_default();
        for file in files_under(&src, ".rs") {
            let path = rel(&file);
            let in_src = path
                .strip_prefix(&format!("crates/{name}/src/"))
                .unwrap_or(&path)
                .to_owned();
            if !spans.contains(&in_src) {
                problems.push(format!(
                    "{path}: say what it is for in the \"### `crates/{name}`\" section, \
                     naming it as `{in_src}`"
                ));
            }
        }
    }
    report(
        "ARCHITECTURE.md's code map is missing source files",
        &problems,
    );
}

#[test]
fn the_code_map_names_only_files_that_exist() {
    let root = root();
    let mut problems = Vec::new();
    for (name, body) in code_map_sections(&architecture()) {
        let krate = root.join("crates").join(&name);
        for span in code_spans(&body) {
            let is_path = span.ends_with(".rs")
                && !span.contains(char::is_whitespace)
                && !span.contains("::");
            let exists = [krate.join("src"), krate.clone(), root.clone()]
                .iter()
                .any(|base| base.join(&span).is_file());
            if is_path && !exists {
                problems.push(format!(
                    "the \"### `crates/{name}`\" section names `{span}`, but there is no \
                     crates/{name}/src/{span}, crates/{name}/{span} or {span}: update or \
                     remove it"
                ));
            }
        }
    }
    report("ARCHITECTURE.md's code map names missing files", &problems);
}

// ---- migrations ----

/// Migration names (file stems) in `dir`.
fn migrations(dir: &Path) -> BTreeSet<String> {
    files_under(dir, ".sql")
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn every_sqlite_migration_has_a_postgres_counterpart() {
    let dir = root().join("crates/store/migrations");
    let sqlite = migrations(&dir.join("sqlite"));
    let postgres = migrations(&dir.join("postgres"));
    let file = dir.join("counterparts.toml");
    let counterparts: toml::Table = read(&file).parse().expect("counterparts.toml is TOML");
    let table = counterparts
        .get("postgres")
        .and_then(|t| t.as_table())
        .expect("counterparts.toml has a [postgres] table");

    let mut problems = Vec::new();
    let mut covered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pg, names) in table {
        if !postgres.contains(pg) {
            problems.push(format!(
                "counterparts.toml lists PostgreSQL migration {pg}, but there is no \
                 migrations/postgres/{pg}.sql: fix the name"
            ));
        }
        let Some(names) = names.as_array() else {
            problems.push(format!(
                "counterparts.toml: {pg} must be a list of SQLite migration names"
            ));
            continue;
        };
        for n in names {
            let n = n.as_str().unwrap_or_default().to_owned();
            if !sqlite.contains(&n) {
                problems.push(format!(
                    "counterparts.toml: {pg} names SQLite migration {n:?}, but there is no \
                     migrations/sqlite/{n}.sql: fix the name"
                ));
            }
            covered.entry(n).or_default().push(pg.clone());
        }
    }
    for pg in &postgres {
        if !table.contains_key(pg) {
            problems.push(format!(
                "migrations/postgres/{pg}.sql is not in counterparts.toml: add \
                 \"{pg}\" = [<the SQLite migrations it stands for>] under [postgres]"
            ));
        }
    }
    for s in &sqlite {
        match covered.get(s).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "migrations/sqlite/{s}.sql has no PostgreSQL counterpart: write one in \
                 migrations/postgres/ (next number) and add it to counterparts.toml"
            )),
            Some([_]) => {}
            Some(many) => problems.push(format!(
                "migrations/sqlite/{s}.sql is named by several PostgreSQL migrations ({}) in \
                 counterparts.toml: keep exactly one",
                many.join(", ")
            )),
        }
    }
    report("the two backends' migrations do not pair up", &problems);
}

// ---- docs/conformance.md and its citations ----

/// What `docs/conformance.md` defines.
struct Checklist {
    /// Section labels (`1A`, `2.1`, `4`, `decisions`).
    sections: BTreeSet<String>,
    /// Item number → its section's label.
    items: BTreeMap<u32, String>,
    /// Items marked `[decision]`.
    decisions: BTreeSet<u32>,
}

const CHECKLIST: &str = "docs/conformance.md";

/// A section heading's label, lower-cased for `decisions`.
fn heading_label(line: &str) -> Option<String> {
    let rest = line
        .strip_prefix("### ")
        .or_else(|| line.strip_prefix("## "))?;
    let word = rest.split_whitespace().next()?.trim_end_matches('.');
    if word.starts_with(|c: char| c.is_ascii_digit()) {
        Some(word.to_owned())
    } else if word.eq_ignore_ascii_case("decisions") {
        Some("decisions".to_owned())
    } else {
        None
    }
}

/// A numbered item's number, for a line `<n>. …` at the start.
fn item_number(line: &str) -> Option<u32> {
    let (n, rest) = line.split_once(". ")?;
    if rest.is_empty() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Section 1's subsections (`1A`…) hold the numbered items.
fn holds_items(label: &str) -> bool {
    let b = label.as_bytes();
    b.len() == 2 && b[0] == b'1' && b[1].is_ascii_uppercase()
}

fn checklist() -> (Checklist, Vec<String>) {
    let text = read(&root().join(CHECKLIST));
    let mut list = Checklist {
        sections: BTreeSet::new(),
        items: BTreeMap::new(),
        decisions: BTreeSet::new(),
    };
    let mut problems = Vec::new();
    let mut section = String::new();
    let mut current: Option<u32> = None;
    let mut expected = 1;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            current = None;
            if let Some(label) = heading_label(line) {
                list.sections.insert(label.clone());
                section = label;
            }
            continue;
        }
        if holds_items(&section)
            && let Some(n) = item_number(line)
        {
            if n != expected {
                problems.push(format!(
                    "{CHECKLIST}:{}: item {n} where item {expected} was expected: items are \
                     numbered once, in order, and never renumbered",
                    i + 1
                ));
            }
            expected = n + 1;
            list.items.insert(n, section.clone());
            current = Some(n);
        }
        if let Some(n) = current
            && line.contains("[decision")
        {
            list.decisions.insert(n);
        }
    }
    (list, problems)
}

/// A text with comment markers removed and lines joined by spaces, so a
/// citation broken over two comment lines reads as one; `lines[i]` is the
/// offset at which line `i + 1` starts.
struct Joined {
    text: String,
    lines: Vec<usize>,
}

impl Joined {
    fn new(source: &str) -> Self {
        let mut text = String::new();
        let mut lines = Vec::new();
        for line in source.lines() {
            lines.push(text.len());
            let t = line.trim_start();
            let t = ["//!", "///", "//"]
                .iter()
                .find_map(|m| t.strip_prefix(m))
                .unwrap_or(t);
            text.push_str(t.trim());
            text.push(' ');
        }
        Joined { text, lines }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.lines.partition_point(|&start| start <= offset)
    }
}

/// A number at the start of `s`, and the rest.
fn number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// `<n>`, `<n>-<m>`, `<n>, <m>`, `<n> and <m>`… at the start of `s`: the
/// numbers, and the rest.
fn number_list(mut s: &str) -> Option<(Vec<u32>, &str)> {
    let mut out = Vec::new();
    loop {
        let (n, rest) = number(s)?;
        s = rest;
        match rest.strip_prefix('-').and_then(number) {
            Some((m, rest)) if m >= n => {
                out.extend(n..=m);
                s = rest;
            }
            _ => out.push(n),
        }
        match separator(s) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => s = rest,
            _ => return Some((out, s)),
        }
    }
}

fn separator(s: &str) -> Option<&str> {
    s.strip_prefix(", and ")
        .or_else(|| s.strip_prefix(", "))
        .or_else(|| s.strip_prefix(" and "))
}

/// One cited thing.
#[derive(Debug)]
enum Cited {
    Section(String),
    Item(u32),
    Decision(u32),
}

/// The citation list right after `docs/conformance.md`, as far as it parses.
fn citations(after: &str) -> Vec<Cited> {
    let mut s = after.trim_start_matches('`').trim_start_matches(',');
    s = s.strip_prefix(' ').unwrap_or(s);
    let mut out = Vec::new();
    loop {
        let rest = if let Some(r) = s.strip_prefix('§') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(r.len());
            out.push(Cited::Section(r[..end].trim_end_matches('.').to_owned()));
            &r[end..]
        } else if let Some(r) = s.strip_prefix("decision on item ") {
            let Some((n, r)) = number(r) else { break };
            out.push(Cited::Decision(n));
            r
        } else if let Some(r) = s.strip_prefix("decisions") {
            out.push(Cited::Section("decisions".to_owned()));
            r
        } else if let Some(r) = s.strip_prefix("items ").or_else(|| s.strip_prefix("item ")) {
            let Some((ns, r)) = number_list(r) else { break };
            out.extend(ns.into_iter().map(Cited::Item));
            r
        } else {
            break;
        };
        match separator(rest) {
            Some(next) => s = next,
            None => break,
        }
    }
    out
}

/// The problem with one citation, if any.
fn check(list: &Checklist, cited: &Cited) -> Option<String> {
    match cited {
        Cited::Section(label) if !list.sections.contains(label) => {
            Some(format!("cites §{label}, which {CHECKLIST} does not have"))
        }
        Cited::Item(n) if !list.items.contains_key(n) => {
            Some(format!("cites item {n}, which {CHECKLIST} does not have"))
        }
        Cited::Decision(n) if !list.decisions.contains(n) => Some(format!(
            "cites a decision on item {n}, but {CHECKLIST} does not mark item {n} [decision]"
        )),
        _ => None,
    }
}

/// Files whose citations are checked. This file is left out: its docs
/// describe the forms with placeholders.
fn citing_files() -> Vec<PathBuf> {
    let root = root();
    let me = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tidy.rs");
    let me = me.canonicalize().unwrap_or(me);
    let mut files = files_under(&root.join("crates"), ".rs");
    files.retain(|f| *f != me);
    files.push(root.join("README.md"));
    files.push(root.join("ARCHITECTURE.md"));
    files.extend(files_under(&root.join("docs"), ".md"));
    files
}

/// `conformance_1a_04_…` → ("1A", [4]); `conformance_1d_34_35_…` → ("1D",
/// [34, 35]).
fn test_name_items(name: &str) -> Option<(String, Vec<u32>)> {
    let rest = name.strip_prefix("conformance_")?;
    let mut parts = rest.split('_');
    let section = parts.next()?.to_ascii_uppercase();
    let numbers: Vec<u32> = parts.map_while(|p| p.parse().ok()).collect();
    (!numbers.is_empty()).then_some((section, numbers))
}

/// The old shorthand `1J-74`: a digit, a capital, a dash and a digit, not
/// inside a word.
fn old_shorthand(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(3))
        .filter(|&i| {
            b[i] == b'1'
                && (b'A'..=b'M').contains(&b[i + 1])
                && b[i + 2] == b'-'
                && b[i + 3].is_ascii_digit()
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        })
        .collect()
}

#[test]
fn conformance_citations_name_existing_items() {
    let (list, mut problems) = checklist();
    let old_name = ["CONFORMANCE", ".md"].concat();
    for file in citing_files() {
        let path = rel(&file);
        let source = read(&file);
        let joined = Joined::new(&source);
        let at = |offset: usize| format!("{path}:{}", joined.line_of(offset));

        for (offset, _) in joined.text.match_indices(&old_name) {
            problems.push(format!(
                "{}: cites {old_name}, which is not in the repository: cite {CHECKLIST} \
                 (item <n>, §<section>, decisions)",
                at(offset)
            ));
        }
        for offset in old_shorthand(&joined.text) {
            let shorthand = &joined.text[offset..joined.text.len().min(offset + 6)];
            problems.push(format!(
                "{}: `{shorthand}…` is the old shorthand: write `{CHECKLIST} item <n>`",
                at(offset)
            ));
        }
        for (offset, _) in joined.text.match_indices(CHECKLIST) {
            let after = &joined.text[offset + CHECKLIST.len()..];
            for cited in citations(after) {
                if let Some(problem) = check(&list, &cited) {
                    problems.push(format!("{}: {problem}", at(offset)));
                }
            }
        }
        if path.ends_with(".rs") {
            for (i, line) in source.lines().enumerate() {
                let Some(name) = line
                    .split("fn ")
                    .nth(1)
                    .and_then(|r| r.split(['(', '<']).next())
                else {
                    continue;
                };
                let Some((section, numbers)) = test_name_items(name) else {
                    continue;
                };
                for n in numbers {
                    match list.items.get(&n) {
                        Some(s) if *s == section => {}
                        Some(s) => problems.push(format!(
                            "{path}:{}: test {name} says §{section}, but item {n} is in §{s}: \
                             rename it",
                            i + 1
                        )),
                        None => problems.push(format!(
                            "{path}:{}: test {name} names item {n}, which {CHECKLIST} does \
                             not have",
                            i + 1
                        )),
                    }
                }
            }
        }
        if path == CHECKLIST {
            for needle in ["item ", "items "] {
                for (offset, _) in joined.text.match_indices(needle) {
                    let after = &joined.text[offset + needle.len()..];
                    let before = &joined.text[..offset];
                    if before.ends_with(char::is_alphanumeric) {
                        continue;
                    }
                    for n in number_list(after).map(|(ns, _)| ns).unwrap_or_default() {
                        if !list.items.contains_key(&n) {
                            problems.push(format!(
                                "{}: refers to item {n}, which does not exist",
                                at(offset)
                            ));
                        }
                    }
                }
            }
        }
    }
    report(
        "citations of docs/conformance.md that do not resolve",
        &problems,
    );
}

// ---- source files ----

/// Every `.rs` file under `crates/*/src`.
fn src_files() -> Vec<PathBuf> {
    let root = root();
    member_crates()
        .iter()
        .flat_map(|name| files_under(&root.join("crates").join(name).join("src"), ".rs"))
        .collect()
}

#[test]
fn every_src_file_starts_with_a_module_doc() {
    let problems: Vec<String> = src_files()
        .iter()
        .filter(|f| !read(f).starts_with("//!"))
        .map(|f| {
            format!(
                "{}: start the file with a `//!` comment saying its one purpose",
                rel(f)
            )
        })
        .collect();
    report("source files without a module doc", &problems);
}

#[test]
fn no_src_file_is_over_600_lines_without_a_reason() {
    let mut problems = Vec::new();
    let mut long = BTreeSet::new();
    for file in src_files() {
        let path = rel(&file);
        let lines = read(&file).lines().count();
        if lines > MAX_LINES {
            long.insert(path.clone());
            if !LONG_FILES.iter().any(|(p, _)| *p == path) {
                problems.push(format!(
                    "{path} has {lines} lines: split it by purpose, or add it to LONG_FILES \
                     in crates/tessera/tests/tidy.rs with the reason"
                ));
            }
        }
    }
    for (path, _) in LONG_FILES {
        if !long.contains(*path) {
            problems.push(format!(
                "{path} is listed in LONG_FILES (crates/tessera/tests/tidy.rs) but is not over \
                 {MAX_LINES} lines (or is gone): remove the entry"
            ));
        }
    }
    report("source files over the length limit", &problems);
}
