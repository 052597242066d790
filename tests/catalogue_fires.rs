//! Every entry of the detection catalogue (`rules/*.toml`) fires. The test reads the rule
//! files, builds for each tool a minimal flow from its first pattern (a TLS ClientHello with
//! the domain as SNI, an HTTP request with the User-Agent, a response with the `Server`
//! header, a certificate with the subject, an ALPN id, or the payload on the tool's port),
//! replays them all as one generated capture and checks that the tool's own alert (for
//! remote-access, rmm, vdi, ikvm, tunnel-service and vpn-service entries) or the flow's
//! `app` (the families that only name the service: resolvers, code hosting, cloud storage,
//! paste, calls) comes out. A second test does the same for every HTTP and certificate
//! trait, whatever its place in the entry.

mod common;
use common::*;
use spanwatch_testkit::*;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

const T0: u64 = 1_700_000_000;

/// One catalogue entry as the test needs it.
#[derive(Debug, Clone)]
struct Tool {
    id: String,
    sid: u64,
    category: String,
    domains: Vec<String>,
    user_agent: Vec<String>,
    http_server: Vec<String>,
    cert: Vec<String>,
    alpn: Vec<String>,
    ports: Vec<String>,
    payload: Vec<toml::Value>,
}

fn strs(t: &toml::Table, k: &str) -> Vec<String> {
    t.get(k)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn catalogue() -> Vec<Tool> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for t in doc["tool"].as_array().unwrap() {
            let t = t.as_table().unwrap();
            out.push(Tool {
                id: t["id"].as_str().unwrap().to_string(),
                sid: t["sid"].as_integer().unwrap() as u64,
                category: t["category"].as_str().unwrap().to_string(),
                domains: strs(t, "domains"),
                user_agent: strs(t, "user_agent"),
                http_server: strs(t, "http_server"),
                cert: strs(t, "cert"),
                alpn: strs(t, "alpn"),
                ports: strs(t, "ports"),
                payload: t
                    .get("payload")
                    .and_then(|v| v.as_array())
                    .cloned()
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// What one generated flow carries.
#[derive(Debug, Clone)]
enum Pattern {
    Sni(String),
    UserAgent(String),
    Server(String),
    Cert(String),
    Alpn(String),
    /// (tcp?, port, to_server?, bytes)
    Payload(bool, u16, bool, Vec<u8>),
    /// The name resolved just before a TLS session without SNI to the answered address.
    Dns(String),
}

/// A name that a domain pattern matches: `*.x.y` needs a label in front.
fn name_of(domain: &str) -> String {
    match domain.strip_prefix("*.") {
        Some(rest) => format!("host7.{rest}"),
        None => domain.to_string(),
    }
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// The payload pattern of `p`, on the first of the tool's ports of the same direction.
fn payload_pattern(t: &Tool, p: &toml::Value) -> Pattern {
    let p = p.as_table().unwrap();
    let off = p.get("offset").and_then(|v| v.as_integer()).unwrap_or(0) as usize;
    let bytes = hex(p["hex"].as_str().unwrap());
    let min = p.get("min_len").and_then(|v| v.as_integer()).unwrap_or(0) as usize;
    let mut buf = vec![0x41u8; off];
    buf.extend_from_slice(&bytes);
    while buf.len() < min.max(off + bytes.len()) {
        buf.push(0x42);
    }
    let dir = p.get("dir").and_then(|v| v.as_str()).unwrap_or("any");
    let port = t.ports.first().expect("a payload pattern needs a port");
    let (proto, range) = port.split_once('/').unwrap();
    let lo: u16 = range.split('-').next().unwrap().parse().unwrap();
    Pattern::Payload(proto == "tcp", lo, dir != "to_client", buf)
}

/// Entries named by their protocol's opening rather than a pattern of the entry (the
/// registry's probes name them): the opening the test sends instead.
fn protocol_opening(id: &str) -> Option<Pattern> {
    Some(match id {
        // tinc's meta protocol: the ID request "0 <name> <major>.<minor>\n".
        "tinc" => Pattern::Payload(true, 655, true, b"0 alpha 17.7\n".to_vec()),
        // PCoIP session data: transport header, ESP SPI and sequence 1, ciphertext.
        "vmware-horizon" => {
            let mut d = vec![0x80, 0, 0, 1, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1];
            d.extend(noise(96, 3));
            Pattern::Payload(false, 4172, true, d)
        }
        _ => return None,
    })
}

/// Entries that are hints to another detector and fire from no single flow (checked to
/// still carry their ports).
const PORT_HINTS: &[(&str, &str)] = &[
    // The calls detector names long-lived UDP media flows on a calls service's ports.
    ("facetime", "media ports of the calls detector"),
    // frp's control connection (tcp/7000) has no documented clear-text opening; the tunnel
    // detectors own it.
    ("frp", "tunnel-detection hint"),
];

fn first_pattern(t: &Tool) -> Pattern {
    if let Some(p) = protocol_opening(&t.id) {
        return p;
    }
    if let Some(d) = t.domains.first() {
        return Pattern::Sni(name_of(d));
    }
    if let Some(u) = t.user_agent.first() {
        return Pattern::UserAgent(u.clone());
    }
    if let Some(s) = t.http_server.first() {
        return Pattern::Server(s.clone());
    }
    if let Some(c) = t.cert.first() {
        return Pattern::Cert(c.clone());
    }
    if let Some(a) = t.alpn.first() {
        return Pattern::Alpn(a.clone());
    }
    if let Some(p) = t.payload.first() {
        return payload_pattern(t, p);
    }
    panic!(
        "catalogue entry {} has no pattern that can fire: give it one or drop it (rules/README.md)",
        t.id
    );
}

fn http_request(ua: &str) -> Vec<u8> {
    format!("GET /index.html HTTP/1.1\r\nHost: device.example\r\nUser-Agent: {ua}\r\nAccept: */*\r\n\r\n")
        .into_bytes()
}

fn http_response(server: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Length: 5\r\n\r\nhello").into_bytes()
}

/// Write the flow of `p` from `client` to `server` into the scene.
fn flow(sc: &mut Scene, client: IpAddr, server: IpAddr, p: &Pattern) {
    let tls = |sc: &mut Scene, sni: Option<&str>, alpn: &[&str], cert: Option<&str>| {
        let mut s = sc.tcp_session((client, 40000), (server, 443));
        s.handshake(sc);
        s.client_sends(sc, &tls_client_hello(sni, alpn));
        let c = cert.map(|cn| x509_cert(&[("CN", cn)], &[("CN", cn)]));
        s.server_sends(sc, &tls_server_hello_cert(None, c.as_deref()));
        s.client_sends(sc, &tls_app_data(200, 1));
        s.server_sends(sc, &tls_app_data(300, 2));
        s.close(sc);
    };
    match p {
        Pattern::Dns(n) => {
            let resolver = (IpAddr::from([10, 255, 255, 53]), 53);
            let IpAddr::V4(a) = server else {
                unreachable!()
            };
            sc.udp((client, 53000), resolver, &dns_query(0x1234, n, 1));
            sc.udp(
                resolver,
                (client, 53000),
                &dns_response_a(0x1234, n, &[a.octets()]),
            );
            tls(sc, None, &[], None)
        }
        Pattern::Sni(n) => tls(sc, Some(n), &[], None),
        Pattern::Cert(c) => tls(sc, None, &[], Some(c)),
        Pattern::Alpn(a) => tls(sc, None, &[a], None),
        Pattern::UserAgent(_) | Pattern::Server(_) => {
            let (ua, srv) = match p {
                Pattern::UserAgent(u) => (u.as_str(), "nginx"),
                Pattern::Server(s) => ("curl/8.5.0", s.as_str()),
                _ => unreachable!(),
            };
            let mut s = sc.tcp_session((client, 40000), (server, 80));
            s.handshake(sc);
            s.client_sends(sc, &http_request(ua));
            s.server_sends(sc, &http_response(srv));
            s.close(sc);
        }
        Pattern::Payload(tcp, port, to_server, buf) => {
            let reply = noise(48, 9);
            if *tcp {
                let mut s = sc.tcp_session((client, 40000), (server, *port));
                s.handshake(sc);
                if *to_server {
                    s.client_sends(sc, buf);
                    s.server_sends(sc, &reply);
                } else {
                    s.server_sends(sc, buf);
                    s.client_sends(sc, &reply);
                }
                s.close(sc);
            } else if *to_server {
                sc.udp((client, 40000), (server, *port), buf);
                sc.udp((server, *port), (client, 40000), &reply);
            } else {
                sc.udp((client, 40000), (server, *port), &reply);
                sc.udp((server, *port), (client, 40000), buf);
            }
        }
    }
    sc.advance_ms(1000);
}

/// Categories whose entries raise an alert with the entry's own signature id.
fn alerting(category: &str) -> bool {
    matches!(
        category,
        "remote-access" | "rmm" | "vdi" | "ikvm" | "tunnel-service" | "vpn-service"
    )
}

fn addr(net: u8, i: usize) -> IpAddr {
    IpAddr::from([
        net,
        18 + (i / 250 / 250) as u8,
        (i / 250 % 250) as u8,
        (i % 250 + 1) as u8,
    ])
}

/// Replay one flow per (tool, pattern); every tool must fire on its flow.
fn fire_all(cases: &[(Tool, Pattern)]) {
    let mut sc = Scene::new(T0);
    let mut by_server: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (_, p)) in cases.iter().enumerate() {
        let (client, server) = (addr(10, i), addr(198, i));
        by_server.insert(server.to_string(), i);
        flow(&mut sc, client, server, p);
    }
    let (recs, out) = replay_bytes(sc.bytes(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sids: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for a in alerts(&recs) {
        for k in ["dest_ip", "src_ip"] {
            if let Some(&i) = a[k].as_str().and_then(|s| by_server.get(s)) {
                let sid = a["alert"]["signature_id"].as_u64().unwrap();
                sids.entry(i).or_default().push(sid);
            }
        }
    }
    let mut apps: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for f in flows(&recs) {
        if let (Some(&i), Some(app)) = (
            f["dest_ip"].as_str().and_then(|s| by_server.get(s)),
            f["app"].as_str(),
        ) {
            apps.entry(i).or_default().push(app.to_string());
        }
    }
    let mut missed = Vec::new();
    for (i, (t, p)) in cases.iter().enumerate() {
        let ok = if alerting(&t.category) {
            sids.get(&i).is_some_and(|s| s.contains(&t.sid))
        } else {
            apps.get(&i).is_some_and(|a| a.contains(&t.id))
        };
        if !ok {
            missed.push(format!(
                "{} ({}, sid {}) from {p:?}: alerts {:?}, app {:?}",
                t.id,
                t.category,
                t.sid,
                sids.get(&i),
                apps.get(&i)
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "{} catalogue entries did not fire:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn every_catalogue_entry_fires_from_its_first_pattern() {
    let tools = catalogue();
    assert!(tools.len() > 250, "catalogue read: {} tools", tools.len());
    let mut cases = Vec::new();
    for t in &tools {
        if let Some((_, why)) = PORT_HINTS.iter().find(|(id, _)| *id == t.id) {
            assert!(!t.ports.is_empty(), "{} ({why}) lost its ports", t.id);
            continue;
        }
        cases.push((t.clone(), first_pattern(t)));
    }
    fire_all(&cases);
}

#[test]
fn every_domain_fires_from_the_dns_answer_before_the_session() {
    let cases: Vec<(Tool, Pattern)> = catalogue()
        .into_iter()
        .filter_map(|t| {
            let d = name_of(t.domains.first()?);
            Some((t, Pattern::Dns(d)))
        })
        .collect();
    assert!(cases.len() > 250, "{} tools with domains", cases.len());
    fire_all(&cases);
}

#[test]
fn every_http_and_certificate_trait_fires() {
    let mut cases = Vec::new();
    for t in catalogue() {
        for u in &t.user_agent {
            cases.push((t.clone(), Pattern::UserAgent(format!("Mozilla/5.0 {u}1.3"))));
        }
        for s in &t.http_server {
            cases.push((t.clone(), Pattern::Server(format!("{s}23.9.7.8804"))));
        }
        for c in &t.cert {
            cases.push((t.clone(), Pattern::Cert(format!("{c}0042"))));
        }
        for a in &t.alpn {
            cases.push((t.clone(), Pattern::Alpn(format!("{a}1"))));
        }
    }
    assert!(
        cases.len() >= 8,
        "HTTP and certificate traits: {}",
        cases.len()
    );
    fire_all(&cases);
}

/// The public capture a fingerprint of the catalogue was taken from (named in the rule's
/// comment), under ../shared/corpus.
const FINGERPRINT_CAPTURES: &[(&str, &str)] = &[("anydesk", "ndpi/pcap/anydesk.pcapng")];

/// Every JA3/JA4 trait fires alone: the entry cut down to its fingerprints (no domain,
/// ALPN or certificate left to name the flow), replayed over the capture the fingerprint
/// came from, names a TLS flow with that fingerprint. Skips, saying so, without the corpus.
#[test]
fn every_fingerprint_trait_fires_alone() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut checked = 0;
    for path in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
    {
        let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for t in doc["tool"].as_array().unwrap() {
            let t = t.as_table().unwrap();
            let (ja3, ja4) = (strs(t, "ja3"), strs(t, "ja4"));
            if ja3.is_empty() && ja4.is_empty() {
                continue;
            }
            let id = t["id"].as_str().unwrap();
            let cap = FINGERPRINT_CAPTURES
                .iter()
                .find(|(i, _)| *i == id)
                .unwrap_or_else(|| panic!("{id}: a fingerprint with no capture to check it on"))
                .1;
            let pcap = corpus.join(cap);
            if !pcap.is_file() {
                missing_prerequisite(&format!(
                    "{}: the fingerprint check needs the shared corpus",
                    pcap.display()
                ));
                return;
            }
            for (key, fp) in ja3
                .iter()
                .map(|f| ("ja3", f))
                .chain(ja4.iter().map(|f| ("ja4", f)))
            {
                let dir = tmpdir();
                let rules = format!(
                    "family = \"{fam}\"\n[[tool]]\nid = \"{id}\"\nsid = {sid}\nname = \"x\"\n\
                     category = \"{cat}\"\nseverity = 2\nreference = \"https://example.org/\"\n\
                     {key} = [\"{fp}\"]\n",
                    fam = doc["family"].as_str().unwrap(),
                    sid = t["sid"].as_integer().unwrap(),
                    cat = t["category"].as_str().unwrap(),
                );
                std::fs::write(dir.path().join("one.toml"), rules).unwrap();
                let (recs, out) = replay(&pcap, &["--rules", dir.path().to_str().unwrap()]);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let named = flows(&recs).into_iter().any(|f| {
                    f["app"] == id
                        && match key {
                            "ja3" => f["tls"]["ja3"]["hash"] == fp.as_str(),
                            _ => f["tls"]["ja4"] == fp.as_str(),
                        }
                });
                assert!(named, "{id}: {key} {fp} named no flow of {cap}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 2, "fingerprints checked: {checked}");
}
