//! Golden tests: small captures built here, replayed by the real binary, flow records
//! compared field by field; plus exit codes, bad input, determinism and worker sharding.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;

fn one_tcp_session() -> Vec<u8> {
    let mut sc = Scene::new(1_700_000_000);
    let mut s = sc.tcp_session((v4("10.0.0.5"), 40000), (v4("93.184.216.34"), 80));
    s.handshake(&mut sc);
    s.client_sends(
        &mut sc,
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5\r\n\r\n",
    );
    s.server_sends(
        &mut sc,
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 5\r\n\r\nhello",
    );
    s.close(&mut sc);
    sc.pcap.into_bytes()
}

#[test]
fn tcp_session_flow_record_field_by_field() {
    let (recs, out) = replay_bytes(&one_tcp_session(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_schema(&recs);
    let f = flows(&recs);
    assert_eq!(f.len(), 1);
    let f = f[0];
    assert_eq!(f["src_ip"], "10.0.0.5");
    assert_eq!(f["src_port"], 40000);
    assert_eq!(f["dest_ip"], "93.184.216.34");
    assert_eq!(f["dest_port"], 80);
    assert_eq!(f["proto"], "TCP");
    assert_eq!(f["app_proto"], "http");
    // handshake 3 + request 1 + its ack 1 (client→server: SYN, ACK, data, ACK, FIN, ACK)
    assert_eq!(f["flow"]["pkts_toserver"], 6);
    assert_eq!(f["flow"]["pkts_toclient"], 4);
    let req = 59u64; // bytes of the request line and headers
    assert_eq!(f["flow"]["bytes_toserver"], 6 * 54 + req);
    assert_eq!(f["flow"]["bytes_toclient"], 4 * 54 + 58);
    assert_eq!(f["flow"]["state"], "closed");
    assert_eq!(f["flow"]["reason"], "shutdown");
    assert_eq!(f["flow"]["start"], "2023-11-14T22:13:20.000000+0000");
    assert_eq!(f["flow"]["end"], "2023-11-14T22:13:20.009000+0000");
    assert_eq!(f["timestamp"], f["flow"]["end"]);
    let cid = spanwatch::model::community_id::community_id(
        0,
        false,
        &[10, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[93, 184, 216, 34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        6,
        40000,
        80,
    );
    assert_eq!(f["community_id"], cid);
}

#[test]
fn mid_stream_capture_orients_by_port() {
    // No handshake: the first packet is the server's reply; the well-known port decides.
    let mut sc = Scene::new(1_700_000_000);
    let mut s = sc.tcp_session((v4("10.0.0.5"), 40001), (v4("10.0.0.6"), 22));
    s.server_segment(&mut sc, b"more data from the server");
    s.client_segment(&mut sc, b"ack with data");
    let (recs, _) = replay_bytes(sc.bytes(), &[]);
    let f = flows(&recs);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["dest_port"], 22);
    assert_eq!(f[0]["src_ip"], "10.0.0.5");
    assert_eq!(f[0]["flow"]["pkts_toclient"], 1);
    assert_eq!(f[0]["flow"]["state"], "established");
}

#[test]
fn udp_dns_icmp_and_ipv6_vlan() {
    let mut sc = Scene::new(1_700_000_000);
    let (c, d) = (v4("192.168.1.10"), v4("192.168.1.1"));
    sc.udp((c, 5353), (d, 53), &dns_query(7, "example.org", 1));
    sc.udp(
        (d, 53),
        (c, 5353),
        &dns_response_a(7, "example.org", &[[93, 184, 216, 34]]),
    );
    sc.ip_packet(c, d, 1, &icmp_echo(true, 1, 1, b"abcdefgh"));
    sc.ip_packet(d, c, 1, &icmp_echo(false, 1, 1, b"abcdefgh"));
    sc.vlan = Some(42);
    let (a6, b6) = (
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
    );
    let mut s = sc.tcp_session((a6, 50000), (b6, 443));
    s.handshake(&mut sc);
    let (recs, _) = replay_bytes(sc.bytes(), &[]);
    assert_schema(&recs);
    let f = flows(&recs);
    assert_eq!(f.len(), 3, "{f:#?}");
    let dns = f.iter().find(|r| r["proto"] == "UDP").unwrap();
    assert_eq!(
        (dns["src_port"].as_u64(), dns["dest_port"].as_u64()),
        (Some(5353), Some(53))
    );
    assert_eq!(dns["app_proto"], "dns");
    assert_eq!(dns["flow"]["pkts_toserver"], 1);
    assert_eq!(dns["flow"]["pkts_toclient"], 1);
    let icmp = f.iter().find(|r| r["proto"] == "ICMP").unwrap();
    assert_eq!(icmp["icmp_type"], 8);
    assert_eq!(icmp["src_ip"], "192.168.1.10");
    assert_eq!(icmp["flow"]["pkts_toclient"], 1);
    let v6 = f.iter().find(|r| r["proto"] == "TCP").unwrap();
    assert_eq!(v6["src_ip"], "2001:db8::1");
    assert_eq!(v6["vlan"], serde_json::json!([42]));
    assert_eq!(v6["encapsulation"], serde_json::json!(["vlan"]));
    assert_eq!(v6["flow"]["state"], "established");
}

#[test]
fn idle_timeout_and_port_reuse_split_flows() {
    let mut sc = Scene::new(1_700_000_000);
    let (a, b) = (v4("10.1.1.1"), v4("10.1.1.2"));
    sc.udp((a, 1000), (b, 2000), b"one");
    sc.advance_ms(200_000); // past the 180 s UDP timeout
    sc.udp((a, 1000), (b, 2000), b"two");
    for _ in 0..2 {
        let mut s = sc.tcp_session((a, 3333), (b, 80));
        s.handshake(&mut sc);
        s.close(&mut sc);
    }
    let (recs, _) = replay_bytes(sc.bytes(), &[]);
    let f = flows(&recs);
    let udp: Vec<&&Value> = f.iter().filter(|r| r["proto"] == "UDP").collect();
    assert_eq!(udp.len(), 2);
    assert_eq!(udp[0]["flow"]["reason"], "timeout");
    let tcp: Vec<&&Value> = f.iter().filter(|r| r["proto"] == "TCP").collect();
    assert_eq!(tcp.len(), 2);
    assert_eq!(tcp[0]["flow"]["reason"], "reuse");
    assert_eq!(tcp[1]["flow"]["reason"], "shutdown");
}

#[test]
fn malformed_packets_are_counted_not_fatal() {
    let mut w = PcapWriter::new(1);
    let good = ether(
        0x0800,
        &ip(v4("10.0.0.1"), v4("10.0.0.2"), 17, &udp(1, 2, b"x")),
    );
    w.packet(1_000_000_000, &good);
    w.packet(1_000_000_001, &good[..20]); // IPv4 header cut
    let mut bad_tcp = ether(
        0x0800,
        &ip(v4("10.0.0.1"), v4("10.0.0.2"), 6, &tcp(1, 2, 0, 0, 2, b"")),
    );
    bad_tcp[14 + 20 + 12] = 0x10; // TCP data offset 4 bytes: impossible
    w.packet(1_000_000_002, &bad_tcp);
    w.packet(1_000_000_003, &[0xff; 3]);
    let dir = tmpdir();
    let p = dir.path().join("bad.pcap");
    w.write(&p).unwrap();
    let m = dir.path().join("m.prom");
    let (recs, out) = replay(&p, &["--metrics-file", m.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(flows(&recs).len(), 1);
    let metrics = std::fs::read_to_string(&m).unwrap();
    assert!(
        metrics.contains("spanwatch_decode_errors_total{layer=\"ipv4\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("spanwatch_decode_errors_total{layer=\"tcp\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("spanwatch_decode_errors_total{layer=\"link\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("spanwatch_packets_total 4"), "{metrics}");
}

#[test]
fn unreadable_files_are_named_and_the_rest_processed() {
    let dir = tmpdir();
    let good = dir.path().join("good.pcap");
    std::fs::write(&good, one_tcp_session()).unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file at all").unwrap();
    let mut cut = one_tcp_session();
    cut.truncate(cut.len() - 10);
    let short = dir.path().join("short.pcap");
    std::fs::write(&short, &cut).unwrap();
    let missing = dir.path().join("missing.pcap");
    let eve = dir.path().join("eve.json");
    let out = run(&[
        "replay",
        "-q",
        "--eve",
        eve.to_str().unwrap(),
        junk.to_str().unwrap(),
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
        short.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("junk.pcap") && l.contains("not a pcap")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("missing.pcap") && l.contains("cannot open")),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("short.pcap") && l.contains("cut short")),
        "{err}"
    );
    let text = std::fs::read_to_string(&eve).unwrap();
    // good.pcap's flow and short.pcap's (one flow: same tuple and times, so one record each)
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("\"event_type\":\"flow\""))
            .count(),
        2
    );
}

#[test]
fn bad_usage_and_config_exit_2() {
    let dir = tmpdir();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[flow]\nmax_flows = 100\nmax_flowz = 3\n").unwrap();
    let out = run(&["replay", "--config", cfg.to_str().unwrap(), "x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:3") && err.contains("max_flowz"),
        "{err}"
    );
    assert_eq!(run(&["replay"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        run(&["replay", "--home-net", "10.0.0.0/99", "x.pcap"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn replay_is_deterministic_and_workers_agree() {
    let bytes = spanwatch_testkit::demo::demo_capture();
    let dir = tmpdir();
    let p = dir.path().join("demo.pcap");
    std::fs::write(&p, &bytes).unwrap();
    let read = |extra: &[&str], name: &str| {
        let eve = dir.path().join(name);
        let mut args = vec!["replay", "-q", "--eve", eve.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(p.to_str().unwrap());
        assert!(run(&args).status.success());
        std::fs::read_to_string(&eve).unwrap()
    };
    let a = read(&[], "a.json");
    let b = read(&[], "b.json");
    assert_eq!(a, b, "two replays of one file differ");
    let recs: Vec<Value> = a
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_schema(&recs);
    // With two workers the same flow records come out (in another order).
    let c = read(&["--workers", "2"], "c.json");
    let sorted_flows = |t: &str| {
        let mut v: Vec<String> = t
            .lines()
            .filter(|l| l.contains("\"event_type\":\"flow\""))
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(sorted_flows(&a), sorted_flows(&c));
}

#[test]
fn link_types_sll2_null_raw_and_pcapng() {
    let pkt = ip(
        v4("10.9.9.1"),
        v4("10.9.9.2"),
        17,
        &udp(1111, 2222, b"hello"),
    );
    // Linux SLL2: protocol type first, 20-byte header
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    sll2.extend_from_slice(&pkt);
    // BSD null: host-order family 2
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(&pkt);
    for (lt, frame) in [(276u32, sll2), (0, null), (101, pkt.clone())] {
        let mut w = PcapWriter::new(lt);
        w.packet(5_000_000_000, &frame);
        let (recs, out) = replay_bytes(w.bytes(), &[]);
        assert!(out.status.success());
        let f = flows(&recs);
        assert_eq!(f.len(), 1, "linktype {lt}");
        assert_eq!(f[0]["dest_port"], 2222, "linktype {lt}");
    }
}

#[test]
fn demo_runs_and_reports() {
    let out = run(&["demo"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("spanwatch summary"), "{s}");
    assert!(s.contains("flows"), "{s}");
}
