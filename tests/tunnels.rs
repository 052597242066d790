//! Beacons, long connections and resolver bypass on captures built here (testkit): each
//! test asserts exactly the alerts expected, and none on the ordinary traffic beside.

mod common;

use common::*;
use serde_json::Value;
use spanwatch_testkit::*;
use std::net::IpAddr;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000;

fn config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let p = dir.join("spanwatch.toml");
    std::fs::write(
        &p,
        format!("[sensor]\nhome_net = [\"10.0.0.0/8\"]\n{extra}"),
    )
    .unwrap();
    p
}

fn replay_cfg(bytes: &[u8], cfg: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--config", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (recs, out) = replay_bytes(bytes, &args);
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_schema(&recs);
    recs
}

fn cat_alerts<'a>(recs: &'a [Value], cat: &str) -> Vec<&'a Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["category"] == cat)
        .collect()
}

fn md<'a>(a: &'a Value, k: &str) -> &'a str {
    a["alert"]["metadata"][k][0].as_str().unwrap_or("")
}

/// A short TLS session: ClientHello with `sni`, server flight, `up` bytes of client data,
/// close.
fn tls_session(sc: &mut Scene, c: (IpAddr, u16), s: (IpAddr, u16), sni: Option<&str>, up: usize) {
    let mut t = sc.tcp_session(c, s);
    t.handshake(sc);
    t.client_sends(sc, &tls_client_hello(sni, &["http/1.1"]));
    t.server_sends(sc, &tls_server_hello_cert(Some("http/1.1"), None));
    if up > 0 {
        t.client_sends(sc, &tls_app_data(up, 3));
    }
    t.server_sends(sc, &tls_app_data(900, 4));
    t.close(sc);
}

/// Two hours of an office: an implant calling home every 60 s (±2 s) with the same few
/// hundred bytes, a chat client holding one connection open for two hours, and ordinary
/// traffic: browsing several sites at irregular times, a second host reaching one site
/// fifteen times, NTP every 64 s, an internal server polled every 30 s, a backup job
/// sending 200 kB every 60 s.
fn office_capture() -> Vec<u8> {
    let mut sc = Scene::new(T0);
    let host = v4("10.1.0.5");
    let c2 = (v4("203.0.113.10"), 443);
    let mut events: Vec<(u64, u8, u32)> = Vec::new(); // (time ms, what, n)
    for i in 0..120u64 {
        events.push((i * 60_000 + (i * 7 % 5) * 400, 0, i as u32));
    }
    // browsing: bursts at irregular times to four sites, varied sizes
    let bursts = [
        13u64, 14, 15, 95, 97, 640, 641, 1800, 1802, 1803, 2500, 4100, 4101, 4102, 5000, 6600,
    ];
    for (i, b) in bursts.iter().enumerate() {
        events.push((b * 1000 + 500, 1, i as u32));
    }
    // another host, one site, fifteen visits at irregular times
    for (i, m) in [
        3u64, 9, 10, 22, 41, 42, 43, 60, 61, 77, 90, 91, 100, 110, 118,
    ]
    .iter()
    .enumerate()
    {
        events.push((m * 60_000 + 20_000, 2, i as u32));
    }
    // NTP every 64 s, internal monitoring every 30 s
    for i in 0..110u64 {
        events.push((i * 64_000 + 7_000, 3, i as u32));
    }
    for i in 0..230u64 {
        events.push((i * 30_000 + 11_000, 4, i as u32));
    }
    // a backup job: every 60 s too, but 200 kB a time (a transfer, not a beacon)
    for i in 0..120u64 {
        events.push((i * 60_000 + 30_000, 6, i as u32));
    }
    // the chat connection's keep-alives, every 5 minutes
    for i in 0..25u64 {
        events.push((i * 300_000 + 2_000, 5, i as u32));
    }
    events.sort();
    let mut chat = None;
    for (ms, what, n) in events {
        let at = T0 * S + ms * 1_000_000;
        if at > sc.now_ns {
            sc.now_ns = at;
        }
        match what {
            0 => tls_session(
                &mut sc,
                (host, 40_000 + n as u16),
                c2,
                Some("cdn.example-updates.net"),
                300,
            ),
            1 => {
                let sites = ["198.51.100.20", "198.51.100.21", "192.0.2.30", "192.0.2.31"];
                let s = v4(sites[n as usize % 4]);
                tls_session(
                    &mut sc,
                    (host, 50_000 + n as u16),
                    (s, 443),
                    Some("www.example.org"),
                    200 + (n as usize * 7717) % 20_000,
                );
            }
            2 => tls_session(
                &mut sc,
                (v4("10.1.0.6"), 51_000 + n as u16),
                (v4("198.51.100.40"), 443),
                Some("news.example.com"),
                400 + (n as usize * 3331) % 9000,
            ),
            3 => {
                let (c, s) = ((host, 123), (v4("192.0.2.123"), 123));
                let mut ntp = vec![0x23u8];
                ntp.resize(48, 0);
                sc.udp(c, s, &ntp);
                ntp[0] = 0x24;
                sc.udp(s, c, &ntp);
            }
            4 => {
                let mut t =
                    sc.tcp_session((v4("10.1.0.7"), 52_000 + n as u16), (v4("10.9.0.1"), 443));
                t.handshake(&mut sc);
                t.client_sends(&mut sc, &tls_app_data(300, 1));
                t.close(&mut sc);
            }
            6 => tls_session(
                &mut sc,
                (v4("10.1.0.8"), 30_000 + n as u16),
                (v4("203.0.113.20"), 443),
                Some("backup.example.net"),
                200_000,
            ),
            _ => {
                let t = chat.get_or_insert_with(|| {
                    let mut t = sc.tcp_session((host, 45_000), (v4("192.0.2.50"), 5222));
                    t.handshake(&mut sc);
                    t
                });
                t.client_sends(&mut sc, &tls_app_data(40, 9));
                t.server_sends(&mut sc, &tls_app_data(40, 9));
            }
        }
    }
    if let Some(mut t) = chat {
        t.close(&mut sc);
    }
    sc.bytes().to_vec()
}

#[test]
fn beacon_and_long_connection_and_nothing_else() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let recs = replay_cfg(&office_capture(), &cfg, &[]);
    let b = cat_alerts(&recs, "beacon");
    let beacons: Vec<&&Value> = b
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 9_300_060)
        .collect();
    assert_eq!(beacons.len(), 1, "{b:#?}");
    let a = beacons[0];
    assert_eq!(
        (
            &a["src_ip"],
            &a["dest_ip"],
            &a["dest_port"],
            &a["direction"]
        ),
        (
            &Value::from("10.1.0.5"),
            &Value::from("203.0.113.10"),
            &Value::from(443),
            &Value::from("outbound")
        )
    );
    let score: f64 = md(a, "score").parse().unwrap();
    assert!(score >= 0.9, "{a:#}");
    for part in ["ts_score", "ds_score", "hist_score", "dur_score"] {
        let v: f64 = md(a, part).parse().unwrap();
        assert!((0.0..=1.0).contains(&v), "{part} {a:#}");
    }
    // raised as soon as the pair had enough connections, long before the two hours end;
    // intervals to the millisecond (the implant's start jitters by up to 1.6 s)
    let median: f64 = md(a, "ts_median_s").parse().unwrap();
    assert!((59.0..=61.6).contains(&median), "{a:#}");
    let n: u64 = md(a, "connections").parse().unwrap();
    assert!((10..=20).contains(&n), "{a:#}");
    assert!(md(a, "ds_score").parse::<f64>().unwrap() > 0.9, "{a:#}");

    let long: Vec<&&Value> = b
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 9_300_061)
        .collect();
    assert_eq!(long.len(), 1, "{b:#?}");
    assert_eq!(long[0]["dest_port"], 5222);
    assert!(md(long[0], "duration_s").parse::<u64>().unwrap() >= 3600);
    // and nothing else at all
    assert_eq!(alerts(&recs).len(), 2, "{:#?}", alerts(&recs));
    // replaying again gives the same flow and alert records (stats read live counters)
    let sorted = |r: &[Value]| {
        let mut v: Vec<String> = r
            .iter()
            .filter(|x| x["event_type"] != "stats")
            .map(|x| x.to_string())
            .collect();
        v.sort();
        v
    };
    let again = replay_cfg(&office_capture(), &cfg, &[]);
    assert!(sorted(&recs) == sorted(&again));
}

#[test]
fn beacon_thresholds_come_from_the_config() {
    let dir = tmpdir();
    // more connections than the implant makes and a longer long-connection threshold:
    // nothing (a pair scored as soon as it has its connections can score 1.0 early on,
    // its span then being the whole data set's)
    let cfg = config(
        dir.path(),
        "[detect.beacon]\nmin_connections = 121\nlong_connection_s = 36000\n",
    );
    let recs = replay_cfg(&office_capture(), &cfg, &[]);
    assert!(cat_alerts(&recs, "beacon").is_empty());
    // the destination allowed: no beacon alert
    let cfg = config(
        dir.path(),
        "[detect.beacon]\nallow = [\"203.0.113.0/24\"]\n",
    );
    let recs = replay_cfg(&office_capture(), &cfg, &[]);
    let b = cat_alerts(&recs, "beacon");
    assert!(
        b.iter().all(|a| a["alert"]["signature_id"] != 9_300_060),
        "{b:#?}"
    );
    // weights that do not add up are refused, naming the section
    let cfg = config(dir.path(), "[detect.beacon]\nts_weight = 0.5\n");
    let (_, out) = replay_bytes(b"", &["--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("detect.beacon"));
}

/// A beacon every 200 ms for two minutes (a fast implant), nothing else.
#[test]
fn beacons_under_a_second_apart_are_raised_as_the_evidence_comes() {
    let mut sc = Scene::new(T0);
    let c2 = (v4("203.0.113.77"), 8443);
    for i in 0..600u64 {
        let at = T0 * S + i * 200_000_000;
        if at > sc.now_ns {
            sc.now_ns = at;
        }
        tls_session(&mut sc, (v4("10.1.0.9"), 20_000 + i as u16), c2, None, 150);
    }
    let end_ns = sc.now_ns;
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let recs = replay_cfg(sc.bytes(), &cfg, &[]);
    let b: Vec<&Value> = cat_alerts(&recs, "beacon")
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == 9_300_060)
        .collect();
    assert_eq!(b.len(), 1, "{b:#?}");
    let a = b[0];
    assert_eq!(md(a, "ts_mode_s"), "0.20", "{a:#}");
    assert!(
        a["alert"]["signature"]
            .as_str()
            .unwrap()
            .contains("every ~0.20 s"),
        "{a:#}"
    );
    // raised while the connections came (flow records come 10 s after each close, and
    // the data set must span min_span_s = 60 s), not at the end of the capture
    let n: u64 = md(a, "connections").parse().unwrap();
    assert!((300..=400).contains(&n), "{a:#}");
    let ts = chrono_free_ns(a["timestamp"].as_str().unwrap());
    assert!(
        ts + 30 * S < end_ns,
        "alert at {ts}, capture ends at {end_ns}"
    );
}

/// Nanoseconds since the epoch of an EVE timestamp (`2023-11-14T22:13:20.000000+0000`).
fn chrono_free_ns(t: &str) -> u64 {
    let (date, rest) = t.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (y, m, day) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    // days from the civil date (Howard Hinnant's algorithm)
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let h: f64 = rest[0..2].parse().unwrap();
    let mi: f64 = rest[3..5].parse().unwrap();
    let sec: f64 = rest[6..15].parse().unwrap();
    (days as u64) * 86_400 * S + ((h * 3600.0 + mi * 60.0 + sec) * 1e9).round() as u64
}

/// A QUIC v1 Initial from the client (long header, padded to 1200 bytes).
fn quic_initial() -> Vec<u8> {
    let mut p = vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0];
    p.resize(1200, 0);
    p
}

fn resolver_capture() -> Vec<u8> {
    let mut sc = Scene::new(T0);
    let (a, b, c, d) = (
        v4("10.2.0.7"),
        v4("10.2.0.8"),
        v4("10.2.0.9"),
        v4("10.2.0.10"),
    );
    // DoT to Quad9 by name and address
    tls_session(
        &mut sc,
        (a, 41_000),
        (v4("9.9.9.9"), 853),
        Some("dns.quad9.net"),
        120,
    );
    // DoH to Cloudflare by name, on an address the catalogue does not list
    tls_session(
        &mut sc,
        (b, 41_001),
        (v4("104.16.248.249"), 443),
        Some("cloudflare-dns.com"),
        200,
    );
    // DoH to Cloudflare by address only (no SNI), from another host
    tls_session(&mut sc, (d, 41_002), (v4("1.1.1.1"), 443), None, 200);
    // DoQ to AdGuard
    sc.udp((c, 41_003), (v4("94.140.14.14"), 853), &quic_initial());
    sc.udp((v4("94.140.14.14"), 853), (c, 41_003), &quic_initial());
    // DoT to a server the catalogue does not know
    tls_session(
        &mut sc,
        (c, 41_004),
        (v4("198.51.100.99"), 853),
        Some("dot.example.net"),
        120,
    );
    // ordinary: a web site, and the organisation's own DoT resolver
    tls_session(
        &mut sc,
        (a, 41_005),
        (v4("198.51.100.5"), 443),
        Some("www.example.com"),
        500,
    );
    tls_session(
        &mut sc,
        (a, 41_006),
        (v4("10.0.0.53"), 853),
        Some("resolver.corp.example"),
        120,
    );
    sc.bytes().to_vec()
}

fn bypass_flows(recs: &[Value]) -> Vec<(String, u64, String, String)> {
    let mut v: Vec<(String, u64, String, String)> = flows(recs)
        .iter()
        .filter(|f| f.get("resolver_bypass").is_some())
        .map(|f| {
            (
                f["src_ip"].as_str().unwrap().to_string(),
                f["src_port"].as_u64().unwrap(),
                f["resolver_bypass"]["kind"].as_str().unwrap().to_string(),
                f["resolver_bypass"]["resolver"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn resolver_bypass_recorded_counted_and_alerted_on_demand() {
    let dir = tmpdir();
    let cfg = config(dir.path(), "");
    let prom = dir.path().join("m.prom");
    let recs = replay_cfg(
        &resolver_capture(),
        &cfg,
        &["--metrics-file", prom.to_str().unwrap()],
    );
    let s = |x: &str| x.to_string();
    assert_eq!(
        bypass_flows(&recs),
        vec![
            (s("10.2.0.10"), 41_002, s("doh"), s("cloudflare-dns")),
            (s("10.2.0.7"), 41_000, s("dot"), s("quad9")),
            (s("10.2.0.8"), 41_001, s("doh"), s("cloudflare-dns")),
            (s("10.2.0.9"), 41_003, s("doq"), s("adguard-dns")),
            (s("10.2.0.9"), 41_004, s("dot"), s("unlisted")),
        ]
    );
    // not alerted by default
    assert!(alerts(&recs).is_empty(), "{:#?}", alerts(&recs));
    let m = std::fs::read_to_string(&prom).unwrap();
    for (kind, n) in [("dot", 2), ("doh", 2), ("doq", 1)] {
        let line = format!("spanwatch_resolver_bypass_flows_total{{kind=\"{kind}\"}} {n}");
        assert!(m.lines().any(|l| l == line), "{line} not in\n{m}");
    }

    // alerts when asked, except for the allowed resolver; one per host, resolver and kind
    let cfg = config(
        dir.path(),
        "[detect.resolver_bypass]\nalert = true\nallowed_resolvers = [\"quad9\"]\n",
    );
    let recs = replay_cfg(&resolver_capture(), &cfg, &[]);
    let al = cat_alerts(&recs, "resolver-bypass");
    let mut got: Vec<(&str, &str, &str)> = al
        .iter()
        .map(|a| {
            (
                a["src_ip"].as_str().unwrap(),
                md(a, "resolver"),
                md(a, "kind"),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("10.2.0.10", "cloudflare-dns", "doh"),
            ("10.2.0.8", "cloudflare-dns", "doh"),
            ("10.2.0.9", "adguard-dns", "doq"),
            ("10.2.0.9", "unlisted", "dot"),
        ]
    );
    assert_eq!(alerts(&recs).len(), 4);
    let doh = al.iter().find(|a| a["src_ip"] == "10.2.0.8").unwrap();
    assert_eq!(md(doh, "sni"), "cloudflare-dns.com");
    assert_eq!(doh["alert"]["signature_id"], 9_300_070);
    assert_eq!(doh["direction"], "outbound");
    // the host's own count is in its alerts: 10.2.0.9 bypassed twice (DoQ, then DoT)
    let c: Vec<(u64, u64, u64)> = al
        .iter()
        .filter(|a| a["src_ip"] == "10.2.0.9")
        .map(|a| {
            let n = |k: &str| md(a, k).parse::<u64>().unwrap();
            (n("host_flows"), n("host_dot_flows"), n("host_doq_flows"))
        })
        .collect();
    assert!(c.contains(&(2, 1, 1)), "{c:?}");
}
