//! The detection catalogue: tools described as data in `rules/*.toml`, loaded, validated
//! and compiled into matchers that are built once and queried per flow.
//!
//! One file holds one family (`family = "remote-access"`) and any number of `[[tool]]`
//! tables. Every error is reported as `file:line:col: message`, and loading collects all of
//! them instead of stopping at the first. [`Catalogue::builtin`] is the repository's
//! `rules/` folder embedded at compile time by `build.rs`.
//!
//! Matching never loops over rules per packet: domains are looked up by label suffix in
//! hash maps, substrings go through one Aho-Corasick automaton per field, ALPN prefixes
//! through a map per distinct prefix length, payload patterns through a first-byte index
//! per offset (each entry carries its direction; the longest pattern wins), ports through a `(proto, port)` map and addresses through
//! a map per distinct prefix length.

mod matcher;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ahash::AHashMap;

use matcher::Matchers;

/// Index of a tool in its [`Catalogue`].
pub type ToolId = u16;

/// What kind of thing a tool is. The string form is what rule files and EVE use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    RemoteAccess,
    Rmm,
    Vdi,
    Ikvm,
    TunnelService,
    VpnService,
    Resolver,
    CodeHosting,
    CloudStorage,
    FileTransfer,
    Paste,
    Calls,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::RemoteAccess,
        Category::Rmm,
        Category::Vdi,
        Category::Ikvm,
        Category::TunnelService,
        Category::VpnService,
        Category::Resolver,
        Category::CodeHosting,
        Category::CloudStorage,
        Category::FileTransfer,
        Category::Paste,
        Category::Calls,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::RemoteAccess => "remote-access",
            Category::Rmm => "rmm",
            Category::Vdi => "vdi",
            Category::Ikvm => "ikvm",
            Category::TunnelService => "tunnel-service",
            Category::VpnService => "vpn-service",
            Category::Resolver => "resolver",
            Category::CodeHosting => "code-hosting",
            Category::CloudStorage => "cloud-storage",
            Category::FileTransfer => "file-transfer",
            Category::Paste => "paste",
            Category::Calls => "calls",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Packet direction a payload pattern applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    ToServer,
    ToClient,
    Any,
}

impl Dir {
    pub fn as_str(self) -> &'static str {
        match self {
            Dir::ToServer => "to_server",
            Dir::ToClient => "to_client",
            Dir::Any => "any",
        }
    }
}

/// A byte pattern at a fixed offset of a flow's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadPattern {
    pub dir: Dir,
    pub offset: u16,
    pub bytes: Vec<u8>,
    /// The payload must be at least this long (defaults to `offset + bytes.len()`).
    pub min_len: u16,
}

/// `tcp/N` or `udp/N-M`; proto is the IP protocol number (6 or 17).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub proto: u8,
    pub lo: u16,
    pub hi: u16,
}

/// A literal address (`prefix` = full length) or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// One tool of the catalogue, validated.
#[derive(Debug, Clone)]
pub struct Tool {
    pub id: String,
    pub sid: u32,
    pub name: String,
    pub category: Category,
    pub family: String,
    pub vendor: Option<String>,
    /// 1 high .. 4 info.
    pub severity: u8,
    pub reference: Option<String>,
    /// File the tool was defined in and the line of its `[[tool]]` table.
    pub file: PathBuf,
    pub line: usize,
    /// Lower-case; `*.x.y` means any subdomain of `x.y`.
    pub domains: Vec<String>,
    pub alpn: Vec<String>,
    pub cert: Vec<String>,
    pub user_agent: Vec<String>,
    pub http_server: Vec<String>,
    pub ports: Vec<PortRange>,
    pub addresses: Vec<IpNet>,
    pub payload: Vec<PayloadPattern>,
    /// JA3 client fingerprints: MD5s, lower-case hex.
    pub ja3: Vec<String>,
    /// JA4 client fingerprints (`t…` over TCP, `q…` over QUIC), exact.
    pub ja4: Vec<String>,
}

impl Tool {
    /// Number of patterns other than domains (ALPN, cert, UA, server, payload, addresses).
    pub fn pattern_count(&self) -> usize {
        self.alpn.len()
            + self.cert.len()
            + self.user_agent.len()
            + self.http_server.len()
            + self.payload.len()
            + self.addresses.len()
            + self.ja3.len()
            + self.ja4.len()
    }
}

/// A problem in a rule file, located at `file:line:col` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

impl std::error::Error for RuleError {}

/// The loaded, validated and compiled catalogue.
pub struct Catalogue {
    tools: Vec<Tool>,
    files: Vec<PathBuf>,
    m: Matchers,
}

impl fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalogue")
            .field("tools", &self.tools.len())
            .field("files", &self.files)
            .finish()
    }
}

mod builtin_files {
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

impl Catalogue {
    /// The catalogue in `dir`, or the one built into the binary: the one way every caller
    /// (start, SIGHUP reload, `rules list`) loads rules, with one error format that names
    /// each file, line and problem.
    pub fn load(dir: Option<&Path>) -> Result<Catalogue, String> {
        let Some(d) = dir else {
            return Ok(Catalogue::builtin());
        };
        Catalogue::load_dir(d).map_err(|errs| {
            let mut s = format!("rules in {} failed to load:", d.display());
            for e in errs {
                s.push_str(&format!("\n  {e}"));
            }
            s
        })
    }

    /// Reads every `*.toml` of `dir` in sorted order.
    pub fn load_dir(dir: &Path) -> Result<Catalogue, Vec<RuleError>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                return Err(vec![RuleError {
                    file: dir.to_path_buf(),
                    line: 0,
                    col: 0,
                    message: format!("cannot read rules directory: {e}"),
                }])
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        paths.sort();
        let mut sources = Vec::with_capacity(paths.len());
        let mut errors = Vec::new();
        for p in paths {
            match std::fs::read_to_string(&p) {
                Ok(text) => sources.push((p, text)),
                Err(e) => errors.push(RuleError {
                    file: p,
                    line: 0,
                    col: 0,
                    message: format!("cannot read file: {e}"),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Catalogue::from_sources(sources)
    }

    /// Loads `(file name, text)` pairs, in the order given.
    pub fn from_sources(sources: Vec<(PathBuf, String)>) -> Result<Catalogue, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut tools: Vec<Tool> = Vec::new();
        let mut files = Vec::new();
        // id / sid -> (index into tools)
        let mut ids: AHashMap<String, usize> = AHashMap::new();
        let mut sids: AHashMap<u32, usize> = AHashMap::new();
        let mut domains: AHashMap<String, usize> = AHashMap::new();
        for (path, text) in &sources {
            files.push(path.clone());
            let lines = schema::Lines::new(text);
            let parsed = schema::parse_file(path, text, &lines, &mut errors);
            for (tool, spans) in parsed {
                let idx = tools.len();
                let here = |span: usize, message: String| {
                    let (line, col) = lines.line_col(span);
                    RuleError {
                        file: path.clone(),
                        line,
                        col,
                        message,
                    }
                };
                let mut ok = true;
                if let Some(&other) = ids.get(&tool.id) {
                    let o = &tools[other];
                    errors.push(here(
                        spans.id,
                        format!(
                            "duplicate id \"{}\" (already defined at {}:{})",
                            tool.id,
                            o.file.display(),
                            o.line
                        ),
                    ));
                    ok = false;
                }
                if let Some(&other) = sids.get(&tool.sid) {
                    let o = &tools[other];
                    errors.push(here(
                        spans.sid,
                        format!(
                            "duplicate sid {} (already used by \"{}\" at {}:{})",
                            tool.sid,
                            o.id,
                            o.file.display(),
                            o.line
                        ),
                    ));
                    ok = false;
                }
                for (d, span) in tool.domains.iter().zip(&spans.domains) {
                    if let Some(&other) = domains.get(d) {
                        let o = &tools[other];
                        errors.push(here(
                            *span,
                            format!(
                                "domain \"{d}\" already claimed by \"{}\" at {}:{}",
                                o.id,
                                o.file.display(),
                                o.line
                            ),
                        ));
                        ok = false;
                    }
                }
                if !ok {
                    continue;
                }
                ids.insert(tool.id.clone(), idx);
                sids.insert(tool.sid, idx);
                for d in &tool.domains {
                    domains.insert(d.clone(), idx);
                }
                tools.push(tool);
            }
        }
        if tools.len() > usize::from(ToolId::MAX) + 1 {
            errors.push(RuleError {
                file: PathBuf::new(),
                line: 0,
                col: 0,
                message: format!("too many tools: {} (at most 65536)", tools.len()),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let m = Matchers::build(&tools);
        Ok(Catalogue { tools, files, m })
    }

    /// The repository's `rules/` folder, embedded at compile time.
    ///
    /// # Panics
    /// If the embedded files do not load; a unit test keeps that from shipping.
    pub fn builtin() -> Catalogue {
        let sources = builtin_files::BUILTIN_RULES
            .iter()
            .map(|(name, text)| (Path::new("rules").join(name), (*text).to_string()))
            .collect();
        match Catalogue::from_sources(sources) {
            Ok(c) => c,
            Err(errs) => {
                let msg: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                panic!("builtin rules do not load:\n{}", msg.join("\n"))
            }
        }
    }

    pub fn tool(&self, id: ToolId) -> &Tool {
        &self.tools[usize::from(id)]
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn len(&self) -> usize {
        self.tools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The files the catalogue was loaded from, in load order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Finds the tool by its string id.
    pub fn find(&self, id: &str) -> Option<ToolId> {
        self.m.by_id.get(id).copied()
    }

    /// Exact names beat `*.` suffixes; a longer suffix beats a shorter one.
    /// Case-insensitive; a trailing dot is ignored.
    pub fn match_domain(&self, name: &str) -> Option<ToolId> {
        self.m.match_domain(name)
    }

    /// Longest configured prefix of the ALPN protocol id.
    pub fn match_alpn(&self, alpn: &[u8]) -> Option<ToolId> {
        self.m.match_alpn(alpn)
    }

    pub fn match_cert(&self, subject_or_issuer: &str) -> Option<ToolId> {
        self.m.cert.find(subject_or_issuer)
    }

    pub fn match_user_agent(&self, ua: &str) -> Option<ToolId> {
        self.m.user_agent.find(ua)
    }

    pub fn match_http_server(&self, s: &str) -> Option<ToolId> {
        self.m.http_server.find(s)
    }

    /// A client's JA3 hash (32 lower-case hex digits), exactly.
    pub fn match_ja3(&self, hash: &str) -> Option<ToolId> {
        self.m.ja3.get(hash).copied()
    }

    /// A client's JA4 fingerprint, exactly (a `t…` pattern does not match the `q…` one).
    pub fn match_ja4(&self, ja4: &str) -> Option<ToolId> {
        self.m.ja4.get(ja4).copied()
    }

    /// `payload` is the first payload of a flow in the given direction.
    pub fn match_payload(&self, to_server: bool, payload: &[u8]) -> Option<ToolId> {
        self.m.match_payload(to_server, payload)
    }

    /// Tools whose port hints name this port; `proto` is 6 (TCP) or 17 (UDP).
    pub fn tools_on_port(&self, proto: u8, port: u16) -> &[ToolId] {
        self.m.tools_on_port(proto, port)
    }

    /// Most specific address or CIDR that contains `addr`.
    pub fn match_address(&self, addr: IpAddr) -> Option<ToolId> {
        self.m.match_address(addr)
    }
}

/// Text and success for `spanwatch rules check DIR`.
pub fn check_report(dir: &Path) -> (String, bool) {
    match Catalogue::load_dir(dir) {
        Ok(c) => (
            format!("ok: {} tools in {} files\n", c.len(), c.files().len()),
            true,
        ),
        Err(errs) => {
            let mut out = String::new();
            for e in &errs {
                out.push_str(&e.to_string());
                out.push('\n');
            }
            out.push_str(&format!("{} error(s)\n", errs.len()));
            (out, false)
        }
    }
}

/// Text for `spanwatch rules list`: one line per tool, then a total line.
pub fn list_report(c: &Catalogue) -> String {
    let mut out = String::new();
    let mut per_cat: BTreeMap<Category, usize> = BTreeMap::new();
    for t in c.tools() {
        *per_cat.entry(t.category).or_default() += 1;
        out.push_str(&format!(
            "{:<32} {:<14} sev={} {:<40} domains={} patterns={} ports={}\n",
            t.id,
            t.category.as_str(),
            t.severity,
            t.name,
            t.domains.len(),
            t.pattern_count(),
            t.ports.len()
        ));
    }
    let cats: Vec<String> = per_cat
        .iter()
        .map(|(k, v)| format!("{}={v}", k.as_str()))
        .collect();
    out.push_str(&format!(
        "total: {} tools in {} files ({})\n",
        c.len(),
        c.files().len(),
        cats.join(", ")
    ));
    out
}
