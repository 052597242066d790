//! QUIC Initial packets sealed here (testkit, RFC 9001 §5 with the RustCrypto crates), to
//! catalogue names in rules/: the flow is `quic`, its ClientHello is read from the
//! decrypted CRYPTO frames (SNI, ALPN, JA3, JA4 with the `q` prefix), the server's from
//! its Initial (JA3S, JA4S), and the catalogue names and alerts as it does over TLS.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;

const T0: u64 = 1_700_000_000;

/// A client's Initial (its ClientHello split over two packets, the second datagram
/// first) and the server's Initial with the ServerHello, then short-header traffic.
fn quic_session(version: u32, sni: &str, alpn: &[&str]) -> Vec<u8> {
    let mut sc = Scene::new(T0);
    let (c, s) = ((v4("10.1.2.3"), 51_000), (v4("203.0.113.40"), 443));
    let dcid = [0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77];
    let scid = [0xc1, 0xc2, 0xc3, 0xc4];
    let ch = quic_client_hello(sni, alpn);
    let cut = ch.len() / 2;
    let p1 = quic_initial(
        version,
        &dcid,
        &dcid,
        &scid,
        false,
        0,
        &quic_crypto_frame(0, &ch[..cut]),
        1200,
    );
    let p2 = quic_initial(
        version,
        &dcid,
        &dcid,
        &scid,
        false,
        1,
        &quic_crypto_frame(cut as u64, &ch[cut..]),
        1200,
    );
    sc.udp(c, s, &p2);
    sc.advance_ms(1);
    sc.udp(c, s, &p1);
    sc.advance_ms(20);
    let sh = quic_server_hello();
    let sp = quic_initial(
        version,
        &dcid,
        &scid,
        &[0xd1; 8],
        true,
        0,
        &quic_crypto_frame(0, &sh),
        1200,
    );
    sc.udp(s, c, &sp);
    for i in 0..6u8 {
        sc.advance_ms(10);
        let mut short = vec![0x40 | (i & 3)];
        short.extend_from_slice(&[0xd1; 8]);
        short.extend(noise(300, u64::from(i)));
        sc.udp(c, s, &short);
        sc.udp(s, c, &short);
    }
    sc.bytes().to_vec()
}

fn run(bytes: &[u8]) -> Vec<Value> {
    let (recs, out) = replay_bytes(bytes, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_schema(&recs);
    recs
}

fn the_flow(recs: &[Value]) -> &Value {
    let f = flows(recs);
    assert_eq!(f.len(), 1, "{f:?}");
    f[0]
}

#[test]
fn quic_v1_to_an_rmm_vendor_is_named_and_alerted() {
    let recs = run(&quic_session(QUIC_V1, "router1.teamviewer.com", &["h3"]));
    let f = the_flow(&recs);
    assert_eq!(f["app_proto"], "quic");
    assert_eq!(f["app"], "teamviewer");
    let q = &f["quic"];
    assert_eq!(q["version"], "1");
    assert_eq!(q["sni"], "router1.teamviewer.com");
    assert_eq!(q["alpn"], serde_json::json!(["h3"]));
    let ja4 = q["ja4"].as_str().unwrap();
    assert!(ja4.starts_with("q13d0306h3_"), "{ja4}");
    assert_eq!(q["ja3"]["hash"].as_str().unwrap().len(), 32);
    assert!(q["ja3"]["string"]
        .as_str()
        .unwrap()
        .starts_with("771,4865-4866-49199,"));
    assert_eq!(q["ja4s"], "q130200_1301_234ea6891581");
    assert_eq!(q["ja3s"]["string"], "771,4865,51-43");
    assert!(f["evidence"]
        .as_array()
        .unwrap()
        .contains(&Value::from("quic.sni=router1.teamviewer.com")));
    assert!(f.get("tls").is_none(), "QUIC is not a TLS record");
    let a = alerts(&recs);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["app"], "teamviewer");
    assert_eq!(a[0]["app_proto"], "quic");
}

#[test]
fn quic_v2_and_draft29_are_read_too() {
    for (v, name) in [(QUIC_V2, "6b3343cf"), (QUIC_DRAFT29, "ff00001d")] {
        let recs = run(&quic_session(v, "relay-1a2b3c4d.net.anydesk.com", &[]));
        let f = the_flow(&recs);
        assert_eq!(f["app_proto"], "quic");
        assert_eq!(f["quic"]["version"], name);
        assert_eq!(f["quic"]["sni"], "relay-1a2b3c4d.net.anydesk.com");
        assert!(f["quic"]["ja4"]
            .as_str()
            .unwrap()
            .starts_with("q13d030500_"));
        assert_eq!(f["app"], "anydesk");
        assert_eq!(alerts(&recs).len(), 1);
    }
}

#[test]
fn quic_to_an_ordinary_site_raises_nothing() {
    let recs = run(&quic_session(QUIC_V1, "www.example.org", &["h3"]));
    let f = the_flow(&recs);
    assert_eq!(f["app_proto"], "quic");
    assert_eq!(f["quic"]["sni"], "www.example.org");
    assert!(f.get("app").is_none());
    assert!(alerts(&recs).is_empty());
}

/// Initial-sized datagrams that do not decrypt (random bytes under a QUIC header) keep
/// the flow `quic` without a `quic` record, and never stop the replay.
#[test]
fn undecryptable_initials_are_quic_without_metadata() {
    let mut sc = Scene::new(T0);
    let (c, s) = ((v4("10.1.2.3"), 51_001), (v4("203.0.113.41"), 443));
    for i in 0..3u64 {
        let mut d = vec![0xc3, 0, 0, 0, 1, 8];
        d.extend(noise(8, i));
        d.extend_from_slice(&[0, 0, 0x44, 0x9e]);
        d.extend(noise(1182, i + 10));
        sc.udp(c, s, &d);
    }
    let recs = run(sc.bytes());
    let f = the_flow(&recs);
    assert_eq!(f["app_proto"], "quic");
    assert!(f.get("quic").is_none());
    assert!(alerts(&recs).is_empty());
}

/// Only the client's side in view (a one-way tap): the flow still ends with what its
/// Initial showed — the product, the evidence and the resolver check (HTTP/3 to a public
/// resolver's name is DNS over HTTPS).
#[test]
fn client_side_only_is_finished_at_flow_end() {
    let mut sc = Scene::new(T0);
    let (c, s) = ((v4("10.1.2.3"), 51_002), (v4("203.0.113.42"), 443));
    let dcid = [0x44; 8];
    let ch = quic_client_hello("dns.google", &["h3"]);
    let p = quic_initial(
        QUIC_V1,
        &dcid,
        &dcid,
        &[],
        false,
        0,
        &quic_crypto_frame(0, &ch),
        1200,
    );
    sc.udp(c, s, &p);
    let recs = run(sc.bytes());
    let f = the_flow(&recs);
    assert_eq!(f["app_proto"], "quic");
    assert_eq!(f["app"], "google-dns");
    assert_eq!(f["quic"]["sni"], "dns.google");
    assert!(f["quic"].get("ja4s").is_none());
    assert_eq!(f["evidence"], serde_json::json!(["quic.sni=dns.google"]));
    assert_eq!(f["resolver_bypass"]["kind"], "doh");
    assert_eq!(f["resolver_bypass"]["resolver"], "google-dns");
}

/// A rule that lists a client's JA4 (QUIC form) or JA3 names the flow when nothing else
/// does; the TCP form of the same JA4 does not match a QUIC flow.
#[test]
fn a_rule_names_a_flow_by_its_fingerprint() {
    let bytes = quic_session(QUIC_V1, "cdn.example.net", &["h3"]);
    let recs = run(&bytes);
    let q = &the_flow(&recs)["quic"];
    let ja4 = q["ja4"].as_str().unwrap().to_string();
    let ja3 = q["ja3"]["hash"].as_str().unwrap().to_string();
    for (key, value, names) in [
        ("ja4", ja4.clone(), true),
        ("ja4", ja4.replacen('q', "t", 1), false),
        ("ja3", ja3.clone(), true),
    ] {
        let dir = tmpdir();
        let rules = format!(
            "family = \"test\"\n[[tool]]\nid = \"fp-tool\"\nsid = 9400050\nname = \"Fingerprinted\"\n\
             category = \"rmm\"\nseverity = 2\n{key} = [\"{value}\"]\n"
        );
        std::fs::write(dir.path().join("fp.toml"), rules).unwrap();
        let d = dir.path().to_str().unwrap();
        let (recs, out) = replay_bytes(&bytes, &["--rules", d]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let f = the_flow(&recs);
        if names {
            assert_eq!(f["app"], "fp-tool", "{key}");
            let ev = f["evidence"].as_array().unwrap();
            assert!(
                ev.contains(&Value::from(format!("quic.{key}={value}"))),
                "{ev:?}"
            );
            assert_eq!(alerts(&recs).len(), 1);
        } else {
            assert!(f.get("app").is_none());
            assert!(alerts(&recs).is_empty());
        }
    }
}
