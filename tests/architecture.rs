//! The shape of `sensor/src` (ARCHITECTURE.md): no import cycle between the crate's
//! top-level modules, `model/` importing nothing of the crate, the protocol parsers below
//! detection, and no source file over 600 lines outside its tests.
//!
//! Imports are read from the source text (`crate::<module>` paths, including grouped
//! `use crate::{a, b}`), leaving out test code (`tests.rs`, `*_tests.rs` and the
//! `#[cfg(test)] mod tests` block at a file's end), which may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read source folder") {
        let p = e.expect("folder entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// The file without its trailing test module.
fn non_test(src: &str) -> &str {
    match src.find("#[cfg(test)]\nmod tests") {
        Some(i) => &src[..i],
        None => src,
    }
}

/// Source files of the library: (path relative to sensor/src, text).
fn library() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sensor/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under sensor/src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).expect("read source file");
            (rel, text)
        })
        .collect()
}

/// The top-level module a file belongs to (`detect/identify.rs` → `detect`); None for the
/// crate roots and the binary's own modules.
fn top_module(rel: &str) -> Option<String> {
    let bin_only = ["main.rs", "cli.rs", "live.rs", "replay.rs", "lib.rs"];
    if bin_only.contains(&rel) {
        return None;
    }
    Some(rel.split('/').next()?.trim_end_matches(".rs").to_string())
}

/// Every top-level module a text names through `crate::`.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // use crate::{a::X, b, c::{..}}: the first segment of each top-level item
            let mut depth = 0usize;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        let id = ident(&group[j..]);
                        if !id.is_empty() && id != "self" {
                            out.insert(id);
                        }
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let id = ident(after);
            if !id.is_empty() {
                out.insert(id);
            }
        }
        rest = after;
    }
    out
}

/// Module → the modules it imports, with the files that do.
fn graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut g: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (rel, text) in library() {
        let Some(top) = top_module(&rel) else {
            continue;
        };
        let entry = g.entry(top.clone()).or_default();
        if is_test_file(&rel) {
            continue;
        }
        for m in crate_refs(non_test(&text)) {
            if m != top {
                entry.entry(m).or_default().insert(rel.clone());
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        if let Some(es) = g.get(v) {
            for w in es.keys() {
                let w = w.as_str();
                if !t.index.contains_key(w) {
                    visit(t, w);
                    let lw = t.low[w];
                    let lv = t.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if t.on.contains(w) {
                    let iw = t.index[w];
                    let lv = t.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn describe(g: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>, comp: &[String]) -> String {
    let mut s = String::new();
    for a in comp {
        for (b, files) in &g[a] {
            if comp.contains(b) {
                s.push_str(&format!(
                    "\n  {a} -> {b} ({})",
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    s
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph();
    assert!(g.len() >= 10, "too few modules found: {:?}", g.keys());
    let c = cycles(&g);
    let mut msg = String::new();
    for comp in &c {
        msg.push_str(&format!("\ncycle {comp:?}:{}", describe(&g, comp)));
    }
    assert!(c.is_empty(), "import cycles between modules:{msg}");
}

#[test]
fn model_imports_nothing_of_the_crate() {
    let g = graph();
    let model = g.get("model").expect("a model module");
    assert!(
        model.is_empty(),
        "model/ imports other modules of the crate: {model:?}"
    );
}

#[test]
fn layers_below_detection_stay_below() {
    // The parsers and the flow table know nothing of detection, the host stage, the
    // outputs, the pipeline or the configuration.
    let g = graph();
    let above = [
        "detect",
        "host",
        "output",
        "pipeline",
        "control",
        "config",
        "telemetry",
    ];
    for low in ["proto", "flow", "decode", "capture", "rules", "model"] {
        if let Some(es) = g.get(low) {
            for a in above {
                assert!(
                    !es.contains_key(a),
                    "{low} imports {a} (from {:?})",
                    es.get(a)
                );
            }
        }
    }
}

#[test]
fn the_checker_sees_cycles_and_groups() {
    // negative controls for the text reading and the cycle search
    let refs = crate_refs("use crate::{a::X, b, c::{d, e}};\nlet x = crate::f::g();");
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        ["a", "b", "c", "f"].map(String::from)
    );
    let mut g: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (a, b) in [("x", "y"), ("y", "z"), ("z", "x"), ("z", "w")] {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), BTreeSet::new());
        g.entry(b.into()).or_default();
    }
    assert_eq!(cycles(&g), vec![vec!["x", "y", "z"]]);
    assert_eq!(non_test("a\n#[cfg(test)]\nmod tests {}\n"), "a\n");
}

#[test]
fn no_source_file_over_600_lines_outside_tests() {
    let mut over = Vec::new();
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    for root in [base.join("sensor/src"), base.join("testkit/src")] {
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        for p in files {
            let rel = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            if is_test_file(&rel) {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("read source file");
            let n = non_test(&text).lines().count();
            if n > MAX_LINES {
                over.push(format!("{rel}: {n} lines"));
            }
        }
    }
    assert!(
        over.is_empty(),
        "files over {MAX_LINES} lines outside their tests:\n{}",
        over.join("\n")
    );
}
