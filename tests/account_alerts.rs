//! The account view's alerts beyond "one account from many networks" (tests/accounts.rs):
//! impossible travel (country change, City coordinates), a new device after warm-up, many
//! failed logins from several sources; novelty (a host's first use of a remote-access tool
//! after warm-up, several remote-access vendors on one host); the account view and the
//! novelty kept in the state file across a restart, bad entries rejected one by one.
//! Replayed from generated captures with MaxMind-format databases written by the testkit.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::MmdbValue::*;
use spanwatch_testkit::*;
use std::path::{Path, PathBuf};

/// One HTTP Basic login as `user` from `client` to the intranet server, answered `status`,
/// with an optional User-Agent; then `gap_s` seconds pass.
fn login(sc: &mut Scene, user: &str, client: &str, port: u16, ua: Option<&str>, status: u16) {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:secret-pw"));
    let ua = ua
        .map(|u| format!("User-Agent: {u}\r\n"))
        .unwrap_or_default();
    let mut t = sc.tcp_session((v4(client), port), (v4("10.0.0.5"), 80));
    t.handshake(sc);
    t.client_sends(
        sc,
        format!("GET / HTTP/1.1\r\nHost: intranet\r\n{ua}Authorization: Basic {token}\r\n\r\n")
            .as_bytes(),
    );
    t.server_sends(
        sc,
        format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    );
    t.close(sc);
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("spanwatch.toml");
    std::fs::write(
        &p,
        format!("[sensor]\nhome_net = [\"10.0.0.0/8\"]\n{extra}"),
    )
    .unwrap();
    p
}

fn replay_cfg(bytes: &[u8], cfg: &Path) -> Vec<Value> {
    replay_checked(bytes, &["--config", cfg.to_str().unwrap()])
}

/// A /24, its country code and, when given, its coordinates.
type Placed<'a> = ([u8; 4], &'a str, Option<(f64, f64)>);

/// A City-shaped database: country code and, when given, coordinates per /24.
fn geo_db(dir: &Path, entries: &[Placed]) -> PathBuf {
    let rows: Vec<([u8; 4], u8, MmdbValue)> = entries
        .iter()
        .map(|(net, cc, loc)| {
            let mut m = vec![(
                "country".to_string(),
                Map(vec![("iso_code".into(), Str(cc.to_string()))]),
            )];
            if let Some((la, lo)) = loc {
                m.push((
                    "location".into(),
                    Map(vec![
                        ("latitude".into(), F64(*la)),
                        ("longitude".into(), F64(*lo)),
                    ]),
                ));
            }
            (*net, 24, Map(m))
        })
        .collect();
    let p = dir.join("geo.mmdb");
    std::fs::write(&p, mmdb_v4("GeoLite2-City", &rows)).unwrap();
    p
}

fn geo_cfg(dir: &Path, db: &Path) -> PathBuf {
    config(
        dir,
        &format!(
            "[host.fan_in]\ngeoip_country_db = {:?}\n",
            db.to_str().unwrap()
        ),
    )
}

/// alice from two places `gap_s` apart.
fn two_places(a: &str, b: &str, gap_s: u64) -> Vec<u8> {
    let mut sc = Scene::new(1_700_000_000);
    login(&mut sc, "alice", a, 40_001, None, 200);
    sc.advance_ms(gap_s * 1000);
    login(&mut sc, "alice", b, 40_002, None, 200);
    sc.bytes().to_vec()
}

#[test]
fn two_countries_within_the_travel_window_without_coordinates() {
    let dir = tmpdir();
    let db = geo_db(
        dir.path(),
        &[
            ([198, 51, 100, 0], "DE", None),
            ([203, 0, 113, 0], "FR", None),
        ],
    );
    let cfg = geo_cfg(dir.path(), &db);
    let recs = replay_cfg(&two_places("198.51.100.7", "203.0.113.9", 600), &cfg);
    let t = by_sid(&recs, 9_300_081);
    assert_eq!(t.len(), 1, "{:#?}", alerts(&recs));
    let m = &t[0]["alert"]["metadata"];
    assert_eq!(t[0]["alert"]["category"], "account");
    assert_eq!(m["account"][0], "alice");
    assert_eq!(m["countries"], serde_json::json!(["DE", "FR"]));
    assert_eq!(
        m["sources"],
        serde_json::json!(["198.51.100.7", "203.0.113.9"])
    );
    assert_eq!(m["travel_window_s"][0], "3600");
    // two hours apart is travel a person can do
    let recs = replay_cfg(&two_places("198.51.100.7", "203.0.113.9", 7200), &cfg);
    assert!(by_sid(&recs, 9_300_081).is_empty(), "{:#?}", alerts(&recs));
}

#[test]
fn impossible_travel_from_city_coordinates() {
    let dir = tmpdir();
    let db = geo_db(
        dir.path(),
        &[
            ([198, 51, 100, 0], "DE", Some((52.52, 13.40))), // Berlin
            ([203, 0, 113, 0], "AU", Some((-33.87, 151.21))), // Sydney
            ([192, 0, 2, 0], "FR", Some((48.86, 2.35))),     // Paris
        ],
    );
    let cfg = geo_cfg(dir.path(), &db);
    // Berlin to Sydney (about 16000 km) in two hours
    let recs = replay_cfg(&two_places("198.51.100.7", "203.0.113.9", 7200), &cfg);
    let t = by_sid(&recs, 9_300_081);
    assert_eq!(t.len(), 1, "{:#?}", alerts(&recs));
    let km: u64 = t[0]["alert"]["metadata"]["distance_km"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((15_500..16_500).contains(&km), "{km}");
    // Berlin to Paris (about 880 km) in two hours: a flight
    let recs = replay_cfg(&two_places("198.51.100.7", "192.0.2.9", 7200), &cfg);
    assert!(by_sid(&recs, 9_300_081).is_empty(), "{:#?}", alerts(&recs));
    // ... but not in ten minutes
    let recs = replay_cfg(&two_places("198.51.100.7", "192.0.2.9", 600), &cfg);
    assert_eq!(by_sid(&recs, 9_300_081).len(), 1);
}

/// alice from each address in turn, `gap_s` apart.
fn places(addrs: &[&str], gap_s: u64) -> Vec<u8> {
    let mut sc = Scene::new(1_700_000_000);
    for (i, a) in addrs.iter().enumerate() {
        login(&mut sc, "alice", a, 40_100 + i as u16, None, 200);
        sc.advance_ms(gap_s * 1000);
    }
    sc.bytes().to_vec()
}

#[test]
fn one_account_from_three_countries_within_the_window() {
    let dir = tmpdir();
    // Country-only entries: no coordinates, and logins two hours apart (past the travel
    // window), so only the countries count.
    let db = geo_db(
        dir.path(),
        &[
            ([198, 51, 100, 0], "DE", None),
            ([203, 0, 113, 0], "FR", None),
            ([192, 0, 2, 0], "JP", None),
        ],
    );
    let cfg = geo_cfg(dir.path(), &db);
    let three = ["198.51.100.7", "203.0.113.9", "192.0.2.4"];
    let recs = replay_cfg(&places(&three, 7200), &cfg);
    let n = by_sid(&recs, 9_300_080);
    assert_eq!(n.len(), 1, "{:#?}", alerts(&recs));
    assert_eq!(
        n[0]["alert"]["signature"],
        "SPANWATCH account: one account from 3 countries"
    );
    let m = &n[0]["alert"]["metadata"];
    assert_eq!(m["account"][0], "alice");
    assert_eq!(m["countries"], serde_json::json!(["DE", "FR", "JP"]));
    assert_eq!(m["networks"].as_array().unwrap().len(), 3);
    assert!(by_sid(&recs, 9_300_081).is_empty(), "{:#?}", alerts(&recs));
    // two countries, or three spread over more than the window (24 h), raise nothing
    let recs = replay_cfg(&places(&three[..2], 7200), &cfg);
    assert!(by_sid(&recs, 9_300_080).is_empty(), "{:#?}", alerts(&recs));
    let recs = replay_cfg(&places(&three, 13 * 3600), &cfg);
    assert!(by_sid(&recs, 9_300_080).is_empty(), "{:#?}", alerts(&recs));
    // min_countries = 2 raises on two
    let cfg2 = config(
        dir.path(),
        &format!(
            "[host.fan_in]\ngeoip_country_db = {:?}\n[host.accounts]\nmin_countries = 2\n",
            db.to_str().unwrap()
        ),
    );
    let recs = replay_cfg(&places(&three[..2], 7200), &cfg2);
    assert_eq!(by_sid(&recs, 9_300_080).len(), 1, "{:#?}", alerts(&recs));
    // without a database nothing is placed: three networks only, no alert
    let plain = config(dir.path(), "");
    assert!(by_sid(&replay_cfg(&places(&three, 7200), &plain), 9_300_080).is_empty());
}

#[test]
fn min_countries_out_of_range_is_refused_naming_the_key() {
    let dir = tmpdir();
    for bad in ["1", "17"] {
        let cfg = config(
            dir.path(),
            &format!("[host.accounts]\nmin_countries = {bad}\n"),
        );
        let (_, out) = replay_bytes(
            &places(&["10.1.0.1"], 1),
            &["--config", cfg.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("host.accounts.min_countries") && err.contains("2 to 16"),
            "{err}"
        );
    }
}

fn failures(n: usize, clients: &[&str]) -> Vec<u8> {
    let mut sc = Scene::new(1_700_000_000);
    for i in 0..n {
        let c = clients[i % clients.len()];
        login(&mut sc, "bob", c, 41_000 + i as u16, None, 401);
        sc.advance_ms(20_000);
    }
    sc.bytes().to_vec()
}

#[test]
fn many_failed_logins_from_several_sources() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let srcs = ["10.1.0.1", "10.2.0.1", "10.3.0.1"];
    let recs = replay_cfg(&failures(12, &srcs), &cfg);
    let f = by_sid(&recs, 9_300_083);
    assert_eq!(f.len(), 1, "{:#?}", alerts(&recs));
    let m = &f[0]["alert"]["metadata"];
    assert_eq!(m["account"][0], "bob");
    assert_eq!(m["failures"][0], "10");
    assert_eq!(m["sources"], serde_json::json!(srcs));
    // nine failures, or many from one source, raise nothing
    assert!(by_sid(&replay_cfg(&failures(9, &srcs), &cfg), 9_300_083).is_empty());
    assert!(by_sid(&replay_cfg(&failures(30, &srcs[..1]), &cfg), 9_300_083).is_empty());
}

fn devices(uas: &[&str]) -> Vec<u8> {
    let mut sc = Scene::new(1_700_000_000);
    for (i, ua) in uas.iter().enumerate() {
        login(
            &mut sc,
            "carol",
            "10.1.0.9",
            42_000 + i as u16,
            Some(ua),
            200,
        );
        sc.advance_ms(120_000);
    }
    sc.bytes().to_vec()
}

#[test]
fn a_device_the_account_never_used_after_warm_up() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "[host.accounts]\ndevice_warmup_s = 60\n");
    let cap = devices(&["curl/8.0", "curl/8.0", "Mozilla/5.0 (X11; Linux)"]);
    let recs = replay_cfg(&cap, &cfg);
    let d = by_sid(&recs, 9_300_082);
    assert_eq!(d.len(), 1, "{:#?}", alerts(&recs));
    let m = &d[0]["alert"]["metadata"];
    assert_eq!(m["device"][0], "ua:Mozilla/5.0 (X11; Linux)");
    assert_eq!(m["known_devices"], serde_json::json!(["ua:curl/8.0"]));
    // the same device again, or a new one before warm-up (default 7 days), raise nothing
    let again = devices(&["curl/8.0", "curl/8.0", "curl/8.0"]);
    assert!(by_sid(&replay_cfg(&again, &cfg), 9_300_082).is_empty());
    let dflt = config(dir.path(), "");
    assert!(by_sid(&replay_cfg(&cap, &dflt), 9_300_082).is_empty());
}

fn tools(uses: &[(&str, &str)]) -> Vec<u8> {
    tools_at(1_700_000_000, uses)
}

fn tools_at(start: u64, uses: &[(&str, &str)]) -> Vec<u8> {
    let mut sc = Scene::new(start);
    for (i, (host, sni)) in uses.iter().enumerate() {
        let mut t = sc.tcp_session((v4(host), 43_000 + i as u16), (v4("198.51.100.80"), 443));
        t.handshake(&mut sc);
        t.client_sends(&mut sc, &tls_client_hello(Some(sni), &["h2"]));
        t.server_sends(&mut sc, &tls_server_hello_cert(Some("h2"), None));
        t.close(&mut sc);
        sc.advance_ms(60_000);
    }
    sc.bytes().to_vec()
}

const USES: [(&str, &str); 3] = [
    ("10.0.0.7", "relay-1.net.anydesk.com"),
    ("10.0.0.8", "relay-2.net.anydesk.com"),
    ("10.0.0.7", "router1.teamviewer.com"),
];

#[test]
fn first_use_of_a_tool_and_several_vendors_on_one_host() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "[host.novelty]\nwarmup_s = 0\n");
    let recs = replay_cfg(&tools(&USES), &cfg);
    let first: Vec<(String, String, String)> = by_sid(&recs, 9_300_084)
        .iter()
        .map(|a| {
            let m = &a["alert"]["metadata"];
            assert_eq!(a["alert"]["severity"], 4);
            assert_eq!(a["alert"]["category"], "remote-access");
            (
                m["host"][0].as_str().unwrap().to_string(),
                m["tool"][0].as_str().unwrap().to_string(),
                m["prevalence"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        first,
        vec![
            s("10.0.0.7", "anydesk", "1"),
            s("10.0.0.8", "anydesk", "2"),
            s("10.0.0.7", "teamviewer", "1")
        ]
    );
    let v = by_sid(&recs, 9_300_085);
    assert_eq!(v.len(), 1, "{:#?}", alerts(&recs));
    assert_eq!(v[0]["alert"]["severity"], 2);
    let m = &v[0]["alert"]["metadata"];
    assert_eq!(m["host"][0], "10.0.0.7");
    assert_eq!(m["tools"], serde_json::json!(["anydesk", "teamviewer"]));
    assert_eq!(
        m["prevalence"],
        serde_json::json!(["anydesk=2", "teamviewer=1"])
    );
    // Default warm-up (7 days watched): first uses are learnt, not raised; vendors still are.
    let dflt = config(dir.path(), "");
    let recs = replay_cfg(&tools(&USES), &dflt);
    assert!(by_sid(&recs, 9_300_084).is_empty());
    assert_eq!(by_sid(&recs, 9_300_085).len(), 1);
}

/// alice from two networks at `start`, then two more networks.
fn halves(start: u64, nets: [&str; 2]) -> Vec<u8> {
    let mut sc = Scene::new(start);
    for (i, c) in nets.iter().enumerate() {
        login(&mut sc, "alice", c, 44_000 + i as u16, None, 200);
        sc.advance_ms(60_000);
    }
    sc.bytes().to_vec()
}

#[test]
fn account_view_and_tools_survive_a_restart_bad_entries_rejected_one_by_one() {
    let dir = tmpdir();
    let state = dir.path().join("host-state.json");
    let cfg = config(
        dir.path(),
        &format!(
            "[host]\nstate_file = {:?}\n[host.novelty]\nwarmup_s = 0\n",
            state.to_str().unwrap()
        ),
    );
    let first = halves(1_700_000_000, ["198.51.100.7", "203.0.113.9"]);
    let second = halves(1_700_000_600, ["192.0.2.44", "100.64.3.2"]);
    assert!(alerts(&replay_cfg(&first, &cfg)).is_empty());
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["accounts"][0][0], "alice");
    assert_eq!(
        saved["accounts"][0][1]["sources"].as_array().unwrap().len(),
        2
    );
    // A hand-damaged entry beside the good one costs that entry only.
    let mut damaged = saved.clone();
    damaged["accounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(["mallory", {"first_ns": 5, "last_ns": 1}]));
    damaged["novelty"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(["10.9.9.9", {"last_ns": "x"}]));
    std::fs::write(&state, damaged.to_string()).unwrap();
    let recs = replay_cfg(&second, &cfg);
    let n = by_sid(&recs, 9_300_080);
    assert_eq!(n.len(), 1, "{:#?}", alerts(&recs));
    assert_eq!(
        n[0]["alert"]["metadata"]["networks"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".bad-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged file is kept aside");
    let resaved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let names: Vec<&str> = resaved["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[0].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice"]);
    // Without the state file the second half alone is two networks: nothing.
    let none = config(dir.path(), "");
    assert!(by_sid(&replay_cfg(&second, &none), 9_300_080).is_empty());
}

#[test]
fn a_tool_first_used_after_a_restart_counts_the_watched_time_before_it() {
    let dir = tmpdir();
    let state = dir.path().join("host-state.json");
    let cfg = config(
        dir.path(),
        &format!(
            "[host]\nstate_file = {:?}\n[host.novelty]\nwarmup_s = 1800\n",
            state.to_str().unwrap()
        ),
    );
    // 40 minutes of one host's AnyDesk use: watched, learnt, not raised
    let mut sc = Scene::new(1_700_000_000);
    for i in 0..40u16 {
        let mut t = sc.tcp_session((v4("10.0.0.7"), 45_000 + i), (v4("198.51.100.80"), 443));
        t.handshake(&mut sc);
        t.client_sends(
            &mut sc,
            &tls_client_hello(Some("relay-1.net.anydesk.com"), &["h2"]),
        );
        t.close(&mut sc);
        sc.advance_ms(60_000);
    }
    assert!(by_sid(&replay_cfg(sc.bytes(), &cfg), 9_300_084).is_empty());
    // after the restart: AnyDesk again is not new, TeamViewer is
    let later = tools_at(
        1_700_003_000,
        &[
            ("10.0.0.7", "relay-1.net.anydesk.com"),
            ("10.0.0.7", "router1.teamviewer.com"),
        ],
    );
    let recs = replay_cfg(&later, &cfg);
    let f = by_sid(&recs, 9_300_084);
    assert_eq!(f.len(), 1, "{:#?}", alerts(&recs));
    assert_eq!(f[0]["alert"]["metadata"]["tool"][0], "teamviewer");
}

#[test]
fn malformed_kerberos_is_counted_not_a_panic() {
    let mut sc = Scene::new(1_700_000_000);
    let mut t = sc.tcp_session((v4("10.0.0.9"), 46_000), (v4("10.0.0.2"), 88));
    t.handshake(&mut sc);
    // an AS-REQ's record mark and application tag, the rest still to come
    t.client_sends(&mut sc, &[0, 0, 1, 0, 0x6a, 0x82, 0x00, 0xfc, 0x30, 0x82]);
    // the answer's record mark has the reserved bit set
    t.server_sends(&mut sc, &[0x80, 0, 0, 5, 0x7e, 3, 2, 1, 0]);
    t.close(&mut sc);
    let dir = tmpdir();
    let m = dir.path().join("metrics.prom");
    let (recs, out) = replay_bytes(sc.bytes(), &["--metrics-file", m.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(flows(&recs)[0]["app_proto"], "krb5");
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(
        text.contains("spanwatch_malformed_flows_total{protocol=\"krb5\"} 1"),
        "{text}"
    );
    assert!(text.contains("spanwatch_malformed_flows_total{protocol=\"ldap\"} 0"));
}

/// An NTLMSSP AUTHENTICATE with OEM names (MS-NLMP §2.2.1.3), LM and NT responses empty
/// but for a dummy NT response.
fn ntlm_authenticate(domain: &str, user: &str, host: &str) -> Vec<u8> {
    let fields: [&[u8]; 6] = [
        b"",
        &[0x11; 24],
        domain.as_bytes(),
        user.as_bytes(),
        host.as_bytes(),
        b"",
    ];
    let mut m = b"NTLMSSP\0\x03\0\0\0".to_vec();
    let mut at = 88u32;
    for f in fields {
        m.extend((f.len() as u16).to_le_bytes());
        m.extend((f.len() as u16).to_le_bytes());
        m.extend(at.to_le_bytes());
        at += f.len() as u32;
    }
    m.extend(2u32.to_le_bytes()); // NTLMSSP_NEGOTIATE_OEM
    m.extend([0u8; 8 + 16]); // version, MIC
    for f in fields {
        m.extend_from_slice(f);
    }
    m
}

/// A connection-oriented DCE/RPC PDU with an NTLMSSP auth verifier.
fn rpc_pdu(ptype: u8, body: &[u8], auth: &[u8]) -> Vec<u8> {
    let frag = 16 + body.len() + 8 + auth.len();
    let mut v = vec![5, 0, ptype, 3, 0x10, 0, 0, 0];
    v.extend((frag as u16).to_le_bytes());
    v.extend((auth.len() as u16).to_le_bytes());
    v.extend(1u32.to_le_bytes());
    v.extend_from_slice(body);
    v.extend([10, 6, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(auth);
    v
}

#[test]
fn dcerpc_auth3_names_the_account() {
    let mut sc = Scene::new(1_700_000_000);
    let mut t = sc.tcp_session((v4("10.0.0.9"), 47_000), (v4("10.0.0.2"), 49_667));
    t.handshake(&mut sc);
    let negotiate = b"NTLMSSP\0\x01\0\0\0\x07\x82\x08\xa2";
    t.client_sends(
        &mut sc,
        &rpc_pdu(
            11,
            &[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 0, 0, 0, 0],
            negotiate,
        ),
    );
    t.server_sends(
        &mut sc,
        &rpc_pdu(
            12,
            &[0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0],
            b"NTLMSSP\0\x02\0\0\0",
        ),
    );
    t.client_sends(
        &mut sc,
        &rpc_pdu(
            16,
            &[0, 0, 0, 0],
            &ntlm_authenticate("CORP", "svc-backup", "WS7"),
        ),
    );
    t.close(&mut sc);
    let dir = tmpdir();
    let recs = replay_cfg(sc.bytes(), &config(dir.path(), ""));
    let f = flows(&recs);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["app_proto"], "dcerpc");
    assert_eq!(f[0]["account"], "CORP\\svc-backup");
    assert_eq!(f[0]["dcerpc"]["request"], "AUTH3");
    assert_eq!(f[0]["dcerpc"]["ntlmssp"]["host"], "WS7");
}

/// tests/fixtures/live-accounts.pcap, recorded by tests/live/accounts.sh from MIT krb5kdc
/// and kinit: bob from four addresses of one /24, alice from four /24s, carol (pre-auth
/// required) with a wrong password twelve times from three addresses.
#[test]
fn recorded_kerberos_raises_networks_and_failed_logins_for_the_right_accounts() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-accounts.pcap");
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let (recs, out) = replay(&p, &["--config", cfg.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_schema(&recs);
    let mut acc: Vec<(u64, String)> = alerts(&recs)
        .iter()
        .map(|a| {
            (
                a["alert"]["signature_id"].as_u64().unwrap(),
                a["alert"]["metadata"]["account"][0]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    acc.sort();
    assert_eq!(
        acc,
        vec![
            (9_300_080, "alice@EXAMPLE.TEST".to_string()),
            (9_300_083, "carol@EXAMPLE.TEST".to_string())
        ]
    );
    let failed = flows(&recs)
        .iter()
        .filter(|f| f["account"] == "carol@EXAMPLE.TEST" && f["krb5"]["error_code"] == 24)
        .count();
    assert_eq!(failed, 12);
}
