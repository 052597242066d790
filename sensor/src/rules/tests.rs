use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::*;

fn load(files: &[(&str, &str)]) -> Result<Catalogue, Vec<RuleError>> {
    Catalogue::from_sources(
        files
            .iter()
            .map(|(n, t)| (PathBuf::from(n), (*t).to_string()))
            .collect(),
    )
}

fn errs(text: &str) -> Vec<RuleError> {
    load(&[("t.toml", text)]).expect_err("should fail")
}

/// The single error of `text`, as `line:col: message`.
fn one_err(text: &str) -> (usize, usize, String) {
    let e = errs(text);
    assert_eq!(e.len(), 1, "{e:?}");
    (e[0].line, e[0].col, e[0].message.clone())
}

const HEAD: &str = "family = \"test\"\n";

fn tool(extra: &str) -> String {
    format!(
        "{HEAD}[[tool]]\nid = \"x\"\nsid = 1\nname = \"X\"\ncategory = \"rmm\"\nseverity = 2\n{extra}"
    )
}

const DOMAINS: &str = r#"
family = "test"
[[tool]]
id = "wide"
sid = 1
name = "Wide"
category = "rmm"
severity = 3
domains = ["*.example.com", "example.org"]

[[tool]]
id = "narrow"
sid = 2
name = "Narrow"
category = "remote-access"
severity = 2
domains = ["*.relay.example.com", "exact.example.com"]
"#;

#[test]
fn domain_exact_suffix_specific_case_dot() {
    let c = load(&[("d.toml", DOMAINS)]).unwrap();
    let wide = c.find("wide").unwrap();
    let narrow = c.find("narrow").unwrap();
    assert_eq!(c.match_domain("example.org"), Some(wide));
    assert_eq!(c.match_domain("www.example.org"), None, "exact only");
    assert_eq!(c.match_domain("example.com"), None, "*. excludes the apex");
    assert_eq!(c.match_domain("a.example.com"), Some(wide));
    assert_eq!(c.match_domain("a.b.example.com"), Some(wide));
    assert_eq!(c.match_domain("x.relay.example.com"), Some(narrow));
    assert_eq!(c.match_domain("relay.example.com"), Some(wide));
    assert_eq!(c.match_domain("exact.example.com"), Some(narrow));
    assert_eq!(c.match_domain("sub.exact.example.com"), Some(wide));
    assert_eq!(c.match_domain("X.Relay.EXAMPLE.com"), Some(narrow));
    assert_eq!(c.match_domain("example.org."), Some(wide));
    assert_eq!(c.match_domain("a.example.com."), Some(wide));
    assert_eq!(c.match_domain("notexample.com"), None);
    assert_eq!(c.match_domain(""), None);
    assert_eq!(c.match_domain("."), None);
    assert_eq!(c.tool(narrow).name, "Narrow");
    assert_eq!(c.tool(narrow).line, 11);
    assert_eq!(c.tool(narrow).category, Category::RemoteAccess);
    assert_eq!(c.tool(narrow).family, "test");
}

#[test]
fn other_matchers() {
    let text = tool(
        r#"alpn = ["anydesk/"]
cert = ["philandro Software GmbH"]
user_agent = ["AnyDesk"]
http_server = ["PiKVM"]
ports = ["tcp/7070", "udp/21115-21117"]
addresses = ["8.8.8.8", "10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"]
payload = [
  { dir = "to_server", offset = 0, hex = "17 24", min_len = 4 },
  { dir = "any", offset = 0, hex = "1130" },
  { dir = "to_client", offset = 2, hex = "aa bb cc" },
]
"#,
    );
    let more = r#"
family = "second"
[[tool]]
id = "y"
sid = 2
name = "Y"
category = "resolver"
severity = 4
addresses = ["10.1.2.0/24"]
ports = ["udp/21117"]
payload = [{ hex = "17 24 ff" }]
"#;
    let c = load(&[("a.toml", &text), ("b.toml", more)]).unwrap();
    let (x, y) = (c.find("x").unwrap(), c.find("y").unwrap());
    assert_eq!(c.match_alpn(b"anydesk/6.2"), Some(x));
    assert_eq!(c.match_alpn(b"anydesk"), None);
    assert_eq!(c.match_alpn(b"h2"), None);
    assert_eq!(
        c.match_cert("CN=AnyDesk Client, O=PHILANDRO SOFTWARE GMBH"),
        Some(x)
    );
    assert_eq!(c.match_cert("CN=example"), None);
    assert_eq!(c.match_user_agent("Mozilla anydesk/1"), Some(x));
    assert_eq!(c.match_http_server("nginx"), None);
    assert_eq!(c.match_http_server("pikvm"), Some(x));
    assert_eq!(c.tools_on_port(6, 7070), &[x]);
    assert_eq!(c.tools_on_port(17, 7070), &[] as &[ToolId]);
    assert_eq!(c.tools_on_port(17, 21116), &[x]);
    assert_eq!(c.tools_on_port(17, 21117), &[x, y]);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(c.match_address(ip("8.8.8.8")), Some(x));
    assert_eq!(c.match_address(ip("::ffff:8.8.8.8")), Some(x));
    assert_eq!(c.match_address(ip("8.8.4.4")), None);
    assert_eq!(c.match_address(ip("10.9.9.9")), Some(x));
    assert_eq!(c.match_address(ip("10.1.2.3")), Some(y), "longest prefix");
    assert_eq!(c.match_address(ip("10.1.3.3")), Some(x));
    assert_eq!(c.match_address(ip("2001:db8::1")), Some(x));
    // Longer pattern wins within a bucket; min_len is honoured.
    assert_eq!(c.match_payload(true, &[0x17, 0x24, 0xff, 0]), Some(y));
    assert_eq!(c.match_payload(true, &[0x17, 0x24, 0, 0]), Some(x));
    assert_eq!(c.match_payload(true, &[0x17, 0x24, 0]), None);
    assert_eq!(c.match_payload(false, &[0x17, 0x24, 0, 0]), None);
    assert_eq!(c.match_payload(false, &[0x11, 0x30]), Some(x));
    assert_eq!(c.match_payload(false, &[0, 0, 0xaa, 0xbb, 0xcc]), Some(x));
    assert_eq!(c.match_payload(true, &[0, 0, 0xaa, 0xbb, 0xcc]), None);
    assert_eq!(c.match_payload(true, &[]), None);
}

#[test]
fn syntax_error_has_line_and_col() {
    let (l, c, m) = one_err("family = \"x\"\n[[tool]\nid = 1\n");
    assert_eq!((l, c), (2, 8), "{m}");
}

#[test]
fn unknown_key_is_an_error() {
    let (l, _, m) = one_err(&tool("colour = \"red\"\n"));
    assert_eq!(l, 8, "{m}");
    assert!(m.contains("colour"), "{m}");
}

#[test]
fn missing_field_is_an_error() {
    let (l, _, m) = one_err(&format!("{HEAD}[[tool]]\nid = \"x\"\nsid = 1\n"));
    assert!(l >= 2, "{m}");
    assert!(m.contains("name"), "{m}");
}

#[test]
fn semantic_errors_point_at_the_value() {
    // line 8 is the first line after the common header in `tool()`.
    let cases: &[(&str, usize, &str)] = &[
        ("domains = [\"ok.com\", \"a b.com\"]", 22, "whitespace"),
        ("domains = [\"https://a.com\"]", 12, "scheme"),
        ("domains = [\"a.com:443\"]", 12, "port"),
        (
            "domains = [\"relay-[a-f0-9]{8}.a.com\"]",
            12,
            "regular-expression",
        ),
        ("domains = [\"a.com/x\"]", 12, "path"),
        ("domains = [\"com\"]", 12, "too broad"),
        ("domains = [\"a*.b.com\"]", 12, "wildcard"),
        ("domains = [\"A.com\"]", 12, "lower-case"),
        ("domains = [\"1.2.3.4\"]", 12, "IP address"),
        ("alpn = [\"\"]", 9, "empty pattern"),
        ("cert = [\" \"]", 9, "empty pattern"),
        ("ports = [\"tcp/70000\"]", 10, "out of range"),
        ("ports = [\"tcp/0\"]", 10, "out of range"),
        ("ports = [\"sctp/1\"]", 10, "tcp or udp"),
        ("ports = [\"tcp/9-3\"]", 10, "range start"),
        ("addresses = [\"10.0.0.0/33\"]", 14, "prefix length"),
        ("addresses = [\"10.0.0.1/8\"]", 14, "host bits"),
        ("addresses = [\"dns.google\"]", 14, "not an IPv4"),
        ("payload = [{ hex = \"zz\" }]", 20, "not a hex"),
        ("payload = [{ hex = \"1\" }]", 20, "odd number"),
        ("payload = [{ hex = \"\" }]", 20, "empty"),
        ("payload = [{ hex = \"01\", dir = \"up\" }]", 32, "dir"),
        ("payload = [{ hex = \"01\", min_len = 0 }]", 36, "min_len"),
        ("payload = [{ hex = \"01\", offset = -1 }]", 35, "offset"),
    ];
    for (extra, col, needle) in cases {
        let (l, c, m) = one_err(&tool(&format!("{extra}\n")));
        assert_eq!((l, c), (8, *col), "{extra}: {m}");
        assert!(m.contains(needle), "{extra}: {m}");
    }
}

#[test]
fn header_field_errors() {
    let base = "family = \"test\"\n[[tool]]\nid = \"x\"\nsid = 1\nname = \"X\"\ncategory = \"rmm\"\nseverity = 2\n";
    let bad = |from: &str, to: &str| one_err(&base.replace(from, to));
    let (l, c, m) = bad("id = \"x\"", "id = \"X_y\"");
    assert_eq!((l, c), (3, 6), "{m}");
    assert!(m.contains("[a-z0-9]"), "{m}");
    let (l, c, m) = bad("category = \"rmm\"", "category = \"rat\"");
    assert_eq!((l, c), (6, 12), "{m}");
    assert!(m.contains("unknown category"), "{m}");
    let (l, c, m) = bad("severity = 2", "severity = 5");
    assert_eq!((l, c), (7, 12), "{m}");
    assert!(m.contains("severity"), "{m}");
    let (l, _, m) = bad("sid = 1", "sid = 0");
    assert_eq!(l, 4, "{m}");
    let (l, _, m) = bad("family = \"test\"", "family = \"Te st\"");
    assert_eq!(l, 1, "{m}");
}

#[test]
fn duplicates_across_files_name_the_other_place() {
    let a = tool("domains = [\"a.example\"]\n");
    let b = "family = \"b\"\n\n[[tool]]\nid = \"x\"\nsid = 1\nname = \"X2\"\ncategory = \"rmm\"\nseverity = 2\n\n[[tool]]\nid = \"z\"\nsid = 3\nname = \"Z\"\ncategory = \"rmm\"\nseverity = 2\ndomains = [\"a.example\"]\n";
    let e = load(&[("a.toml", &a), ("b.toml", b)]).expect_err("duplicates");
    let shown: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert!(
        shown[0].starts_with("b.toml:4:6: duplicate id \"x\" (already defined at a.toml:2)"),
        "{shown:#?}"
    );
    assert!(
        shown[1].starts_with("b.toml:5:7: duplicate sid 1"),
        "{shown:#?}"
    );
    assert!(shown[1].contains("a.toml:2"), "{shown:#?}");
    assert!(
        shown[2]
            .starts_with("b.toml:16:12: domain \"a.example\" already claimed by \"x\" at a.toml:2"),
        "{shown:#?}"
    );
}

#[test]
fn all_errors_are_collected() {
    let text = tool("domains = [\"a b\", \"c:1\"]\nports = [\"tcp/0\"]\n");
    let e = errs(&text);
    assert_eq!(e.len(), 3, "{e:?}");
    let other = "family = \"o\"\n[[tool]\n";
    let e = load(&[("a.toml", &text), ("b.toml", other)]).expect_err("bad");
    assert_eq!(e.len(), 4, "{e:?}");
}

#[test]
fn broken_temp_file_reports_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), tool("")).unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        "family = \"b\"\n[[tool]]\nid = \"q\"\nsid = 9\nname = \"Q\"\ncategory = \"rmm\"\nseverity = 1\nports = [\"udp/99999\"]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let (out, ok) = check_report(dir.path());
    assert!(!ok);
    let want = format!(
        "{}:8:10: port \"udp/99999\"",
        dir.path().join("b.toml").display()
    );
    assert!(out.starts_with(&want), "{out}");
    std::fs::write(dir.path().join("b.toml"), "family = \"b\"\n").unwrap();
    let (out, ok) = check_report(dir.path());
    assert!(ok, "{out}");
    assert_eq!(out, "ok: 1 tools in 2 files\n");
}

#[test]
fn missing_dir_is_an_error() {
    let (out, ok) = check_report(Path::new("/nonexistent/spanwatch-rules"));
    assert!(!ok);
    assert!(out.contains("cannot read rules directory"), "{out}");
}

fn repo_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

#[test]
fn builtin_loads_and_covers_remote_access() {
    let c = Catalogue::builtin();
    let remote = c
        .tools()
        .iter()
        .filter(|t| {
            matches!(
                t.category,
                Category::RemoteAccess | Category::Rmm | Category::Vdi | Category::Ikvm
            )
        })
        .count();
    // 40 LOLRMM tools that nothing on the wire can name were dropped (rules/README.md).
    assert!(
        remote >= 190,
        "only {remote} remote-access/rmm/vdi/ikvm tools"
    );
    let from_disk = Catalogue::load_dir(&repo_rules()).unwrap();
    let ids = |c: &Catalogue| -> Vec<(String, Vec<String>)> {
        c.tools()
            .iter()
            .map(|t| (t.id.clone(), t.domains.clone()))
            .collect()
    };
    assert_eq!(ids(&from_disk), ids(&c), "builtin is stale");
    // A few anchors the detectors rely on.
    let id = |s: &str| c.find(s).unwrap_or_else(|| panic!("no tool {s}"));
    assert_eq!(
        c.match_domain("relay-1234abcd.net.anydesk.com"),
        Some(id("anydesk"))
    );
    assert_eq!(
        c.match_domain("router15.teamviewer.com"),
        Some(id("teamviewer"))
    );
    assert_eq!(c.match_alpn(b"anydesk/7"), Some(id("anydesk")));
    assert!(c.tools_on_port(6, 5938).contains(&id("teamviewer")));
    assert_eq!(c.match_domain("s3.amazonaws.com"), None);
    assert_eq!(c.match_domain("www.microsoft.com"), None);
    assert_eq!(c.match_domain("github.com"), Some(id("github")));
    assert_eq!(
        c.match_address("8.8.8.8".parse().unwrap())
            .map(|t| c.tool(t).category),
        Some(Category::Resolver)
    );
    let list = list_report(&c);
    assert_eq!(list.lines().count(), c.len() + 1);
    assert!(list
        .lines()
        .last()
        .unwrap()
        .starts_with(&format!("total: {} tools", c.len())));
}

#[test]
fn repo_rules_check_passes() {
    let (out, ok) = check_report(&repo_rules());
    assert!(ok, "{out}");
    assert!(out.starts_with("ok: "), "{out}");
}

#[test]
fn line_index_agrees_with_counting_from_the_top() {
    let text = "a = 1\n\nb = \"é∂x\"\r\n  c = [\n\"ü\", 2]\n";
    let lines = schema::Lines::new(text);
    for (off, _) in text.char_indices().chain([(text.len(), ' ')]) {
        let before = &text[..off];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = text[start..off].chars().count() + 1;
        assert_eq!(lines.line_col(off), (line, col), "offset {off}");
    }
    assert_eq!(lines.line_col(10_000), (6, 1));
}

#[test]
fn many_domains_load_and_duplicates_are_still_found() {
    let mut doms: Vec<String> = (0..20_000).map(|i| format!("\"h{i}.example\"")).collect();
    let text = tool(&format!("domains = [{}]\n", doms.join(", ")));
    let c = load(&[("a.toml", &text)]).expect("loads");
    assert_eq!(c.tools()[0].domains.len(), 20_000);
    assert_eq!(c.match_domain("h19999.example"), Some(0));
    doms.push("\"h7.example\"".into());
    let text = tool(&format!("domains = [{}]\n", doms.join(", ")));
    let e = load(&[("a.toml", &text)]).expect_err("duplicate");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].message.contains("\"h7.example\" listed twice"),
        "{e:?}"
    );
}

#[test]
fn fingerprint_matchers() {
    let text = tool(
        r#"ja3 = ["41bc9ae914d6cb3bd0bd0a5453ab7d7f"]
ja4 = ["q13d0211an_62ed6f6ca7ad_4d634acda6c0"]
"#,
    );
    let c = load(&[("a.toml", &text)]).unwrap();
    let x = c.find("x").unwrap();
    assert_eq!(c.match_ja3("41bc9ae914d6cb3bd0bd0a5453ab7d7f"), Some(x));
    assert_eq!(c.match_ja3("41bc9ae914d6cb3bd0bd0a5453ab7d7e"), None);
    assert_eq!(c.match_ja4("q13d0211an_62ed6f6ca7ad_4d634acda6c0"), Some(x));
    // The TCP form of the same client is another fingerprint.
    assert_eq!(c.match_ja4("t13d0211an_62ed6f6ca7ad_4d634acda6c0"), None);
    assert_eq!(c.tool(x).pattern_count(), 2);
    for (bad, what) in [
        (
            r#"ja3 = ["41BC9AE914D6CB3BD0BD0A5453AB7D7F"]"#,
            "ja3: \"41BC",
        ),
        (
            r#"ja3 = ["771,4865-4866,0-10,29,0"]"#,
            "is not 32 lower-case hex digits",
        ),
        (
            r#"ja4 = ["x13d0211an_62ed6f6ca7ad_4d634acda6c0"]"#,
            "ja4: \"x13d",
        ),
        (r#"ja4 = ["t13d0211an_62ed6f6ca7ad"]"#, "is not a JA4"),
    ] {
        let e = errs(&tool(bad));
        assert_eq!(e.len(), 1, "{bad}: {e:?}");
        let msg = e[0].to_string();
        assert!(msg.contains(what), "{bad}: {msg}");
        assert!(msg.starts_with("t.toml:"), "{msg}");
    }
}
