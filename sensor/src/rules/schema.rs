//! The on-disk TOML shape and its validation into [`Tool`]s.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{Category, Dir, IpNet, PayloadPattern, PortRange, RuleError, Tool};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    family: Spanned<String>,
    #[serde(default)]
    tool: Vec<Spanned<RawTool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    id: Spanned<String>,
    sid: Spanned<i64>,
    name: Spanned<String>,
    category: Spanned<String>,
    vendor: Option<Spanned<String>>,
    severity: Spanned<i64>,
    reference: Option<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    alpn: Vec<Spanned<String>>,
    #[serde(default)]
    cert: Vec<Spanned<String>>,
    #[serde(default)]
    user_agent: Vec<Spanned<String>>,
    #[serde(default)]
    http_server: Vec<Spanned<String>>,
    #[serde(default)]
    ports: Vec<Spanned<String>>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    #[serde(default)]
    payload: Vec<Spanned<RawPayload>>,
    #[serde(default)]
    ja3: Vec<Spanned<String>>,
    #[serde(default)]
    ja4: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload {
    dir: Option<Spanned<String>>,
    offset: Option<Spanned<i64>>,
    hex: Spanned<String>,
    min_len: Option<Spanned<i64>>,
}

/// Byte offsets of a tool's fields, for errors found after parsing (duplicates).
pub(super) struct Spans {
    pub id: usize,
    pub sid: usize,
    pub domains: Vec<usize>,
}

/// Where the lines of a file start, to turn byte offsets into lines and columns in
/// O(log lines) (counting newlines from the top for every tool was quadratic).
pub(super) struct Lines<'a> {
    text: &'a str,
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Lines { text, starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let line_start = self.starts[line - 1];
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }
}

const MAX_PAYLOAD_OFFSET: i64 = 1500;
const MAX_PAYLOAD_BYTES: usize = 64;

/// Parses and validates one file; errors are appended, valid tools returned.
pub(super) fn parse_file(
    path: &Path,
    text: &str,
    lines: &Lines<'_>,
    errors: &mut Vec<RuleError>,
) -> Vec<(Tool, Spans)> {
    let err = |errors: &mut Vec<RuleError>, offset: usize, message: String| {
        let (line, col) = lines.line_col(offset);
        errors.push(RuleError {
            file: path.to_path_buf(),
            line,
            col,
            message,
        });
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            err(errors, at, e.message().trim().replace('\n', " "));
            return Vec::new();
        }
    };
    let family = raw.family.get_ref().clone();
    if let Err(m) = check_id(&family) {
        err(errors, raw.family.span().start, format!("family: {m}"));
    }
    let mut out = Vec::new();
    for st in raw.tool {
        let table_start = st.span().start;
        let t = st.into_inner();
        let before = errors.len();
        let mut e = |sp: &Span, m: String| err(errors, sp.start, m);

        let id = t.id.get_ref().clone();
        if let Err(m) = check_id(&id) {
            e(&t.id.span(), format!("id: {m}"));
        }
        let sid = *t.sid.get_ref();
        if !(1..=i64::from(u32::MAX)).contains(&sid) {
            e(
                &t.sid.span(),
                format!("sid {sid} out of range 1..=4294967295"),
            );
        }
        let name = t.name.get_ref().trim().to_string();
        if name.is_empty() {
            e(&t.name.span(), "name is empty".into());
        }
        let category = Category::parse(t.category.get_ref());
        if category.is_none() {
            let all: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            e(
                &t.category.span(),
                format!(
                    "unknown category \"{}\" (expected one of: {})",
                    t.category.get_ref(),
                    all.join(", ")
                ),
            );
        }
        let severity = *t.severity.get_ref();
        if !(1..=4).contains(&severity) {
            e(
                &t.severity.span(),
                format!("severity {severity} out of range 1..=4 (1 high .. 4 info)"),
            );
        }
        let vendor = t.vendor.map(|v| {
            if v.get_ref().trim().is_empty() {
                e(&v.span(), "vendor is empty".into());
            }
            v.into_inner()
        });
        let reference = t.reference.map(|r| {
            let s = r.get_ref();
            if !(s.starts_with("https://") || s.starts_with("http://")) {
                e(
                    &r.span(),
                    format!("reference \"{s}\" is not an http(s) URL"),
                );
            }
            r.into_inner()
        });

        let mut domains = Vec::new();
        let mut domain_spans = Vec::new();
        let mut seen: ahash::AHashSet<&str> = ahash::AHashSet::with_capacity(t.domains.len());
        for d in &t.domains {
            match check_domain(d.get_ref()) {
                Ok(()) => {
                    if !seen.insert(d.get_ref().as_str()) {
                        e(
                            &d.span(),
                            format!("domain \"{}\" listed twice", d.get_ref()),
                        );
                    } else {
                        domains.push(d.get_ref().clone());
                        domain_spans.push(d.span().start);
                    }
                }
                Err(m) => e(&d.span(), m),
            }
        }
        let alpn = strings("alpn", &t.alpn, &mut e);
        let cert = strings("cert", &t.cert, &mut e);
        let user_agent = strings("user_agent", &t.user_agent, &mut e);
        let http_server = strings("http_server", &t.http_server, &mut e);
        let ja3 = fingerprints("ja3", &t.ja3, check_ja3, &mut e);
        let ja4 = fingerprints("ja4", &t.ja4, check_ja4, &mut e);

        let mut ports = Vec::new();
        for p in &t.ports {
            match parse_port(p.get_ref()) {
                Ok(r) => ports.push(r),
                Err(m) => e(&p.span(), m),
            }
        }
        let mut addresses = Vec::new();
        for a in &t.addresses {
            match parse_net(a.get_ref()) {
                Ok(n) => addresses.push(n),
                Err(m) => e(&a.span(), m),
            }
        }
        let mut payload = Vec::new();
        for p in t.payload {
            let p = p.into_inner();
            let dir = match &p.dir {
                None => Dir::Any,
                Some(d) => match d.get_ref().as_str() {
                    "to_server" => Dir::ToServer,
                    "to_client" => Dir::ToClient,
                    "any" => Dir::Any,
                    other => {
                        e(
                            &d.span(),
                            format!("dir \"{other}\": expected to_server, to_client or any"),
                        );
                        Dir::Any
                    }
                },
            };
            let offset = match &p.offset {
                None => 0,
                Some(o) => {
                    let v = *o.get_ref();
                    if !(0..=MAX_PAYLOAD_OFFSET).contains(&v) {
                        e(
                            &o.span(),
                            format!("offset {v} out of range 0..={MAX_PAYLOAD_OFFSET}"),
                        );
                        0
                    } else {
                        v as u16
                    }
                }
            };
            let bytes = match parse_hex(p.hex.get_ref()) {
                Ok(b) => b,
                Err(m) => {
                    e(&p.hex.span(), m);
                    continue;
                }
            };
            let need = offset as usize + bytes.len();
            let min_len = match &p.min_len {
                None => need as u16,
                Some(m) => {
                    let v = *m.get_ref();
                    if v < need as i64 || v > i64::from(u16::MAX) {
                        e(
                            &m.span(),
                            format!(
                                "min_len {v} must be in {need}..=65535 (offset + pattern length)"
                            ),
                        );
                        need as u16
                    } else {
                        v as u16
                    }
                }
            };
            payload.push(PayloadPattern {
                dir,
                offset,
                bytes,
                min_len,
            });
        }

        if errors.len() != before {
            continue;
        }
        let (line, _) = lines.line_col(table_start);
        let spans = Spans {
            id: t.id.span().start,
            sid: t.sid.span().start,
            domains: domain_spans,
        };
        out.push((
            Tool {
                id,
                sid: sid as u32,
                name,
                category: category.unwrap_or(Category::RemoteAccess),
                family: family.clone(),
                vendor,
                severity: severity as u8,
                reference,
                file: path.to_path_buf(),
                line,
                domains,
                alpn,
                cert,
                user_agent,
                http_server,
                ports,
                addresses,
                payload,
                ja3,
                ja4,
            },
            spans,
        ));
    }
    out
}

type Span = std::ops::Range<usize>;

fn strings(field: &str, list: &[Spanned<String>], e: &mut dyn FnMut(&Span, String)) -> Vec<String> {
    let mut v = Vec::new();
    for s in list {
        let raw = s.get_ref();
        if raw.trim().is_empty() {
            e(&s.span(), format!("{field}: empty pattern"));
        } else if !raw.is_ascii() {
            e(
                &s.span(),
                format!("{field}: pattern \"{raw}\" must be ASCII"),
            );
        } else {
            v.push(raw.clone());
        }
    }
    v
}

fn fingerprints(
    field: &str,
    list: &[Spanned<String>],
    check: fn(&str) -> bool,
    e: &mut dyn FnMut(&Span, String),
) -> Vec<String> {
    let mut v = Vec::new();
    for s in list {
        let raw = s.get_ref();
        if check(raw) {
            v.push(raw.clone());
        } else {
            let want = if field == "ja3" {
                "32 lower-case hex digits (the MD5 of the JA3 string)"
            } else {
                "a JA4 such as t13d1516h2_8daaf6152771_e5627efa2ab1 (t, q or d, lower-case hex)"
            };
            e(&s.span(), format!("{field}: \"{raw}\" is not {want}"));
        }
    }
    v
}

fn lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_ja3(s: &str) -> bool {
    s.len() == 32 && lower_hex(s)
}

/// JA4 `a_b_c`: `a` is 10 characters (transport t/q/d, version, d/i, two counts, ALPN),
/// `b` and `c` 12 lower-case hex digits each.
fn check_ja4(s: &str) -> bool {
    let p: Vec<&str> = s.split('_').collect();
    p.len() == 3
        && p[0].len() == 10
        && p[0].is_ascii()
        && matches!(p[0].as_bytes()[0], b't' | b'q' | b'd')
        && matches!(p[0].as_bytes()[3], b'd' | b'i')
        && p[0][4..8].bytes().all(|b| b.is_ascii_digit())
        && p[1..].iter().all(|x| x.len() == 12 && lower_hex(x))
}

/// `[a-z0-9][a-z0-9-]*`, at most 64 characters.
pub(super) fn check_id(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{s}\" must match [a-z0-9][a-z0-9-]* (at most 64 characters)"
        ))
    }
}

/// A host name, or `*.` followed by one; lower-case, no scheme, port, path or regex.
pub(super) fn check_domain(d: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("domain \"{d}\": {why}"));
    if d.is_empty() {
        return bad("empty");
    }
    if d.contains("://") {
        return bad("has a URL scheme; write the bare host name");
    }
    if d.chars().any(char::is_whitespace) {
        return bad("contains whitespace");
    }
    if d.contains('/') {
        return bad("contains a path; write the bare host name");
    }
    if d.contains(':') {
        return bad("contains a port (ports go in `ports`, addresses in `addresses`)");
    }
    if d.chars()
        .any(|c| "[](){}?+^$|\\,;'\"<>=!@#%&~`".contains(c))
    {
        return bad("contains regular-expression or other invalid characters");
    }
    let body = d.strip_prefix("*.").unwrap_or(d);
    if body.contains('*') {
        return bad("a wildcard is allowed only as a leading \"*.\"");
    }
    if body.bytes().any(|b| b.is_ascii_uppercase()) {
        return bad("must be lower-case");
    }
    if !body.is_ascii() {
        return bad("must be ASCII (write IDNs in their xn-- form)");
    }
    if body.len() > 253 {
        return bad("longer than 253 characters");
    }
    let labels: Vec<&str> = body.split('.').collect();
    for l in &labels {
        if l.is_empty() {
            return bad("has an empty label (leading, trailing or double dot)");
        }
        if l.len() > 63 {
            return bad("has a label longer than 63 characters");
        }
        if !l
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return bad("labels may hold only a-z, 0-9, '-' and '_'");
        }
        if l.starts_with('-') || l.ends_with('-') {
            return bad("a label starts or ends with '-'");
        }
    }
    if labels.len() < 2 {
        return bad("a bare top-level name is too broad");
    }
    if body.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("is an IP address; put it in `addresses`");
    }
    Ok(())
}

/// `tcp/N`, `udp/N` or `tcp/N-M`.
pub(super) fn parse_port(s: &str) -> Result<PortRange, String> {
    let bad = |why: &str| Err(format!("port \"{s}\": {why}"));
    let Some((proto, rest)) = s.split_once('/') else {
        return bad("expected tcp/N, udp/N or tcp/N-M");
    };
    let proto = match proto {
        "tcp" => 6,
        "udp" => 17,
        _ => return bad("protocol must be tcp or udp"),
    };
    let (lo, hi) = rest.split_once('-').unwrap_or((rest, rest));
    let num = |x: &str| -> Option<u32> {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) || x.len() > 6 {
            None
        } else {
            x.parse().ok()
        }
    };
    let (Some(lo), Some(hi)) = (num(lo), num(hi)) else {
        return bad("expected tcp/N, udp/N or tcp/N-M");
    };
    if lo == 0 || hi == 0 || lo > 65535 || hi > 65535 {
        return bad("port out of range 1..=65535");
    }
    if lo > hi {
        return bad("range start is above its end");
    }
    Ok(PortRange {
        proto,
        lo: lo as u16,
        hi: hi as u16,
    })
}

/// An address or CIDR with no host bits set.
pub(super) fn parse_net(s: &str) -> Result<IpNet, String> {
    let bad = |why: &str| Err(format!("address \"{s}\": {why}"));
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(addr) = a.parse::<IpAddr>() else {
        return bad("not an IPv4/IPv6 address or CIDR");
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && !p.starts_with('+') => n,
            _ => return bad(&format!("prefix length must be 0..={max}")),
        },
    };
    if super::matcher::mask(addr, prefix) != addr {
        return bad("host bits are set after the prefix");
    }
    Ok(IpNet { addr, prefix })
}

/// Hex bytes, optionally separated by spaces: `"17 24"` or `"1724"`.
pub(super) fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.is_empty() {
        return Err("hex: empty pattern".into());
    }
    if digits.len() % 2 != 0 {
        return Err(format!("hex \"{s}\": odd number of hex digits"));
    }
    let val = |b: u8| (b as char).to_digit(16).map(|v| v as u8);
    let mut out = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        match (val(pair[0]), val(pair[1])) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => return Err(format!("hex \"{s}\": not a hex byte sequence")),
        }
    }
    if out.len() > MAX_PAYLOAD_BYTES {
        return Err(format!(
            "hex \"{s}\": longer than {MAX_PAYLOAD_BYTES} bytes"
        ));
    }
    Ok(out)
}
