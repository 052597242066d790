//! The documents that name metrics agree with the catalogue (`spanwatch::telemetry::names`),
//! the one place metric names, types and label value sets are written:
//! - the README's metrics table lists exactly the catalogue's families, each with its type and
//!   labels, the values of every fixed label set (enum-derived sets, such as `app_proto`, may
//!   be left out), and any value list it gives for a label is that label's set;
//! - `tests/deploy/metrics.txt` says "today" for exactly the catalogue's families;
//! - every query of the Grafana dashboard generator (`deploy/grafana/generate_dashboard.py`)
//!   names families of the catalogue, selects and groups by their labels only, and matches
//!   label values that exist.

use spanwatch::telemetry::names::{self, Metric, CATALOGUE};
use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn metric(name: &str) -> &'static Metric {
    names::find(name).unwrap_or_else(|| panic!("{name}: not in the catalogue"))
}

/// The `code spans` of a Markdown cell, each with the text that follows it up to the next span.
fn code_spans(cell: &str) -> Vec<(&str, &str)> {
    let parts: Vec<&str> = cell.split('`').collect();
    (1..parts.len())
        .step_by(2)
        .map(|i| (parts[i], parts.get(i + 1).copied().unwrap_or("")))
        .collect()
}

fn sorted(v: impl IntoIterator<Item = impl Into<String>>) -> BTreeSet<String> {
    v.into_iter().map(Into::into).collect()
}

#[test]
fn readme_table_lists_exactly_the_catalogue() {
    let readme = read("README.md");
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("| metric | type | labels |"));
    assert!(
        lines.next().is_some(),
        "README: no `| metric | type | labels |` table"
    );
    let mut listed = Vec::new();
    for row in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(cells.len() >= 4, "README row: {row}");
        let (mcell, kind, lcell) = (cells[1], cells[2], cells[3]);
        let metrics: Vec<&str> = code_spans(mcell).into_iter().map(|(c, _)| c).collect();
        assert!(!metrics.is_empty(), "README row without a metric: {row}");
        // labels: the cell's code spans that are label names (not `host.max_hosts` & co.)
        let labels: Vec<(&str, &str)> = code_spans(lcell)
            .into_iter()
            .filter(|(c, _)| {
                !c.is_empty() && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')
            })
            .collect();
        for name in metrics {
            let m = metric(name);
            listed.push(name.to_string());
            assert_eq!(kind, m.kind.as_str(), "README: type of {name}");
            let want = sorted(m.labels.iter().map(|l| l.name));
            let got = sorted(labels.iter().map(|(l, _)| *l));
            assert_eq!(got, want, "README: labels of {name}");
            for (l, after) in &labels {
                let def = m.labels.iter().find(|d| d.name == *l).unwrap();
                let (Some(allowed), Some(list)) =
                    (def.values.allowed(), after.trim_start().strip_prefix('('))
                else {
                    continue;
                };
                let list = &list[..list.find(')').unwrap_or(list.len())];
                let vals = sorted(list.split(',').map(str::trim));
                assert_eq!(vals, sorted(allowed), "README: the values of {name}{{{l}}}");
            }
        }
    }
    let mut dup = listed.clone();
    dup.sort();
    dup.dedup();
    assert_eq!(
        dup.len(),
        listed.len(),
        "README: a metric listed twice: {listed:?}"
    );
    assert_eq!(
        sorted(listed),
        sorted(CATALOGUE.iter().map(|m| m.name)),
        "README's metrics table vs the catalogue"
    );
}

#[test]
fn deploy_metrics_list_says_today_for_exactly_the_catalogue() {
    let mut today = BTreeSet::new();
    for line in read("tests/deploy/metrics.txt").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kind, name) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("metrics.txt: {line}"));
        match kind {
            "today" => assert!(today.insert(name.to_string()), "metrics.txt: {name} twice"),
            "soon" => assert!(
                names::find(name).is_none(),
                "metrics.txt: {name} is exported today"
            ),
            "prometheus" => assert!(!name.starts_with("spanwatch_"), "metrics.txt: {line}"),
            _ => panic!("metrics.txt: unknown kind in {line:?}"),
        }
    }
    assert_eq!(
        today,
        sorted(CATALOGUE.iter().map(|m| m.name)),
        "metrics.txt vs the catalogue"
    );
}

/// Every query (expression, legend) of the dashboard: from the generator itself, or where
/// python3 is missing (outside CI) from the JSON it wrote, which `tests/deploy/run.sh` holds
/// against the generator.
fn dashboard_queries() -> Vec<(String, String)> {
    let script = "import json, sys; sys.path.insert(0, 'deploy/grafana'); import generate_dashboard as g; print(json.dumps(g.build()))";
    let json = match std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(root())
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "python3 cannot run the dashboard generator under CI=true: {other:?}"
            );
            eprintln!("python3 cannot run the generator ({other:?}): checking the committed dashboard JSON");
            read("deploy/grafana/dashboards/spanwatch.json")
        }
    };
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut out = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for key in ["expr", "definition"] {
                    if let Some(e) = m.get(key).and_then(|e| e.as_str()) {
                        let legend = m.get("legendFormat").and_then(|l| l.as_str()).unwrap_or("");
                        out.push((e.to_string(), legend.to_string()));
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&d, &mut out);
    assert!(out.len() > 20, "only {} dashboard queries found", out.len());
    out
}

/// The `spanwatch_*` names of an expression with the byte offset just after each.
fn metric_refs(e: &str) -> Vec<(&str, usize)> {
    let mut v = Vec::new();
    let mut i = 0;
    while let Some(p) = e[i..].find("spanwatch_") {
        let s = i + p;
        let end = e[s..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(e.len(), |n| s + n);
        v.push((&e[s..end], end));
        i = end;
    }
    v
}

/// The text inside the parenthesis group that starts at `open` (an index of '(').
fn group(e: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in e[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &e[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in {e}")
}

const TARGET_LABELS: [&str; 2] = ["job", "instance"];

#[test]
fn dashboard_queries_use_catalogue_metrics_labels_and_values() {
    for (e, legend) in dashboard_queries() {
        check_query(&e, &legend);
    }
}

/// Negative controls: the check catches an unknown family, label or value, a `by` over a
/// label the family lacks, and a legend naming one.
#[test]
fn dashboard_check_catches_mistakes() {
    check_query(
        r#"sum by (kind) (rate(spanwatch_resolver_bypass_flows_total{job="spanwatch",kind="doh"}[5m]))"#,
        "{{kind}}",
    );
    for (e, legend) in [
        ("rate(spanwatch_packet_total[5m])", ""),
        (
            r#"rate(spanwatch_alerts_total{job="spanwatch",kind="x"}[5m])"#,
            "",
        ),
        (
            r#"rate(spanwatch_alerts_total{category=~"tunnel|vpm"}[5m])"#,
            "",
        ),
        ("sum by (reason) (rate(spanwatch_alerts_total[5m]))", ""),
        ("sum(rate(spanwatch_alerts_total[5m]))", "{{reason}}"),
    ] {
        let caught = std::panic::catch_unwind(|| check_query(e, legend)).is_err();
        assert!(caught, "not caught: {e} {legend}");
    }
}

fn check_query(e: &str, legend: &str) {
    let refs = metric_refs(e);
    let mut labels_here = BTreeSet::new();
    for (name, end) in &refs {
        let m = metric(name);
        labels_here.extend(m.labels.iter().map(|l| l.name));
        // the selector right after the name
        let Some(sel) = e[*end..].strip_prefix('{') else {
            continue;
        };
        let sel = &sel[..sel
            .find('}')
            .unwrap_or_else(|| panic!("{e}: selector not closed"))];
        for matcher in sel.split(',').filter(|s| !s.trim().is_empty()) {
            let op_at = matcher
                .find(['=', '!'])
                .unwrap_or_else(|| panic!("{e}: matcher {matcher}"));
            let (label, rest) = (matcher[..op_at].trim(), &matcher[op_at..]);
            if TARGET_LABELS.contains(&label) {
                continue;
            }
            let def = m
                .labels
                .iter()
                .find(|l| l.name == label)
                .unwrap_or_else(|| panic!("dashboard: {name} has no label {label} ({e})"));
            let value = rest
                .trim_start_matches(['=', '!', '~'])
                .trim()
                .trim_matches('"');
            let Some(allowed) = def.values.allowed() else {
                continue;
            };
            let alts: Vec<&str> = if rest.contains('~') {
                value.split('|').collect()
            } else {
                vec![value]
            };
            for v in alts {
                assert!(
                    allowed.contains(&v),
                    "dashboard: {name}{{{label}}} has no value {v:?} ({e})"
                );
            }
        }
    }
    // `by (a, b) (X)`: every family in X has the labels grouped by
    let mut i = 0;
    while let Some(p) = e[i..].find(" by (") {
        let open = i + p + 4;
        let by: Vec<&str> = group(e, open).split(',').map(str::trim).collect();
        let after = open + group(e, open).len() + 2;
        let arg_open = after
            + e[after..]
                .find('(')
                .unwrap_or_else(|| panic!("{e}: by without argument"));
        for (name, _) in metric_refs(group(e, arg_open)) {
            for l in by.iter().filter(|l| !TARGET_LABELS.contains(l)) {
                assert!(
                    metric(name).labels.iter().any(|d| d.name == *l),
                    "dashboard: sum by ({l}) over {name}, which has no such label ({e})"
                );
            }
        }
        i = after;
    }
    // legends name target labels or labels of the families queried
    let mut rest = legend;
    while let Some(p) = rest.find("{{") {
        let q = rest[p..]
            .find("}}")
            .map(|q| p + q)
            .unwrap_or_else(|| panic!("legend {legend}"));
        let l = rest[p + 2..q].trim();
        assert!(
            TARGET_LABELS.contains(&l) || labels_here.contains(l),
            "dashboard: legend {{{{{l}}}}} names no label of {refs:?}"
        );
        rest = &rest[q + 2..];
    }
}
