//! Issue 15's capabilities on recordings of real programs (tests/fixtures/README.md says how
//! each was made; the tests/live/<name>.sh scenario records it again with
//! SPANWATCH_LIVE_RECORD=1): protocols named by one side (OpenSSH, xrdp), DNS tunnels other
//! than iodine's default, a DNS tunnel inside DoH, Tor bridges, QUIC, WebSocket tunnels, IPsec
//! without IKE, a TLS server named from its certificate when the client sent no SNI. Runs
//! without root.

mod common;
use common::*;
use serde_json::Value;

fn flows_to(recs: &[Value], port: u16) -> Vec<&Value> {
    flows(recs)
        .into_iter()
        .filter(|f| f["dest_port"] == port)
        .collect()
}

fn sids(recs: &[Value]) -> Vec<u64> {
    alerts(recs)
        .iter()
        .map(|a| a["alert"]["signature_id"].as_u64().unwrap())
        .collect()
}

#[test]
fn http_and_text_sent_to_openssh_and_a_broken_tpkt_to_xrdp() {
    // curl http://sshd:2222/ and a line of text with nc: the client never speaks SSH, the
    // server's banner names both flows
    let r = fixture("live-one_side.pcap");
    let ssh = flows_to(&r, 2222);
    assert_eq!(ssh.len(), 2);
    for f in &ssh {
        assert_eq!(f["app_proto"], "ssh", "{f}");
        assert_eq!(f["ssh"]["server"]["software_version"], "OpenSSH_9.2p1");
        assert!(f["ssh"]["client"].is_null(), "{f}");
    }
    assert!(ssh
        .iter()
        .any(|f| f["http"]["http_user_agent"] == "curl/7.88.1"));
    // an X.224 request whose TPKT length (47) is not its packet's (43), answered by xrdp
    let rdp = flows_to(&r, 3389);
    assert_eq!(rdp.len(), 1);
    assert_eq!(rdp[0]["app_proto"], "rdp");
    assert!(alerts(&r).is_empty(), "{:?}", sids(&r));
}

#[test]
fn dns2tcp_and_iodine_raw_udp_mode() {
    let r = fixture("live-dns_tunnel_variants.pcap");
    // dns2tcp: an SSH session in TXT queries under d.spanwatch.test, to 10.77.0.3
    let d2t = alerts(&r)
        .into_iter()
        .find(|a| a["dest_ip"] == "10.77.0.3")
        .expect("an alert on the dns2tcp flow");
    assert_eq!(d2t["alert"]["signature_id"], 9_300_002);
    assert_eq!(d2t["alert"]["category"], "tunnel");
    assert_eq!(d2t["alert"]["metadata"]["domain"][0], "spanwatch.test");
    let q = d2t["alert"]["metadata"]["example_query"][0]
        .as_str()
        .unwrap();
    assert!(q.ends_with(".d.spanwatch.test"), "{q}");
    // iodine without -r: DNS first, then its raw UDP mode on the same socket, port 53
    let io = alerts(&r)
        .into_iter()
        .find(|a| a["dest_ip"] == "10.77.0.2")
        .expect("an alert on the iodine flow");
    assert_eq!(io["alert"]["signature_id"], 9_300_100);
    assert_eq!(io["app_proto"], "dns");
    assert_eq!(
        io["alert"]["metadata"]["evidence"][0],
        "4 datagrams that are not DNS after DNS messages"
    );
    assert_eq!(alerts(&r).len(), 2, "{:?}", sids(&r));
    let f = flows_to(&r, 53);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f["app_proto"] == "dns"));
}

#[test]
fn ngtcp2_http3_to_an_rmm_relay_name_is_read_from_the_initials() {
    // gtlsclient → gtlsserver (ngtcp2 0.12), QUIC v1 then draft-29, SNI router1.teamviewer.com
    let r = fixture("live-quic.pcap");
    let q = flows_to(&r, 443);
    assert_eq!(q.len(), 2);
    let mut versions: Vec<&str> = q
        .iter()
        .map(|f| f["quic"]["version"].as_str().unwrap())
        .collect();
    versions.sort();
    assert_eq!(versions, ["1", "ff00001d"]);
    for f in &q {
        assert_eq!(f["app_proto"], "quic");
        assert_eq!(f["app"], "teamviewer");
        assert_eq!(f["quic"]["sni"], "router1.teamviewer.com");
        assert_eq!(f["quic"]["alpn"][0], "h3");
        let ja4 = f["quic"]["ja4"].as_str().unwrap();
        assert!(ja4.starts_with("q13d") && ja4.contains("h3_"), "{ja4}");
        assert!(f["quic"]["ja4s"].as_str().unwrap().starts_with("q13"));
    }
    // one remote-access alert: the second session falls in the first one's suppression window
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{:?}", sids(&r));
    assert_eq!(a[0]["app"], "teamviewer");
    assert_eq!(a[0]["app_proto"], "quic");
    assert_eq!(a[0]["alert"]["category"], "remote-access");
}

#[test]
fn ssh_inside_websocket_frames_from_python_websockets() {
    // tests/live/ws_tunnel.py (python3-websockets 10.4) carrying an OpenSSH session
    let r = fixture("live-websocket.pcap");
    let f = flows_to(&r, 80);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["app_proto"], "websocket");
    assert_eq!(f[0]["proxy"]["protocol"], "websocket");
    assert_eq!(f[0]["proxy"]["inner_app_proto"], "ssh");
    assert_eq!(f[0]["http"]["status"], 101);
    assert_eq!(
        f[0]["http"]["http_user_agent"],
        "Python/3.11 websockets/10.4"
    );
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{:?}", sids(&r));
    assert_eq!(a[0]["alert"]["signature_id"], 9_400_011);
    assert_eq!(a[0]["alert"]["category"], "tunnel");
    assert_eq!(a[0]["alert"]["metadata"]["inner_app_proto"][0], "ssh");
}

#[test]
fn tor_client_to_an_offline_bridge_is_named_from_its_client_hello() {
    // tor 0.4.9 client (UseBridges) → tor bridge on 9001: TLS 1.3, so no certificate in
    // view; the ClientHello's random www.<base32>.com SNI, no ALPN, groups ending in P-224
    let r = fixture("live-tor.pcap");
    let f = flows_to(&r, 9001);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["app_proto"], "tor");
    assert_eq!(f[0]["tls"]["version"], "TLSv1.3");
    let sni = f[0]["tls"]["sni"].as_str().unwrap();
    assert!(sni.starts_with("www.") && sni.ends_with(".com"), "{sni}");
    assert!(f[0]["tls"]["alpn"].is_null());
    assert!(f[0]["tls"]["ja3"]["string"]
        .as_str()
        .unwrap()
        .ends_with(",23-29-21,0-1-2"));
    let a = alerts(&r);
    assert_eq!(a.len(), 1, "{:?}", sids(&r));
    assert_eq!(a[0]["alert"]["signature_id"], 9_400_002);
    assert_eq!(a[0]["alert"]["category"], "vpn");
    assert_eq!(a[0]["app"], "tor");
}

#[test]
fn manually_keyed_esp_and_ah_with_no_ike_in_view() {
    // scapy's IPsec (tests/live/ipsec_tun.py) on TUN devices: ESP over IPv4 and IPv6, AH
    // over IPv4 and IPv6, ESP in UDP 4500, each carrying a ping and a 100 kB download; and
    // AH in transport mode between 10.77.0.11 and 10.77.0.12 (their own ping and a 2 kB
    // download, the AH after their IP header); three AH-protected OSPFv3 Hellos to ff02::5
    let r = fixture("live-ipsec.pcap");
    assert!(!r.iter().any(|x| x["dest_port"] == 500), "no IKE");
    let esp: Vec<&Value> = flows(&r)
        .into_iter()
        .filter(|f| f["proto"] == "ESP")
        .collect();
    let mut ends: Vec<&str> = esp.iter().map(|f| f["dest_ip"].as_str().unwrap()).collect();
    ends.sort();
    assert_eq!(ends, ["10.77.0.2", "fd77::2"]);
    for f in &esp {
        assert_eq!(f["app_proto"], "esp");
        // both directions in one flow: two SAs, one per direction
        assert!(f["flow"]["pkts_toclient"].as_u64().unwrap() > 50, "{f}");
    }
    let nat_t = flows_to(&r, 4500);
    assert_eq!(nat_t.len(), 1);
    assert_eq!(nat_t[0]["app_proto"], "esp");
    // AH authenticates without encrypting: the inner flows are read, marked ipsec.ah
    for inner in ["10.90.3.2", "10.90.4.2"] {
        let f = flows(&r)
            .into_iter()
            .find(|f| f["dest_ip"] == inner && f["dest_port"] == 8000)
            .expect("the download through AH");
        assert_eq!(f["app_proto"], "http");
        assert_eq!(f["ipsec"]["ah"], "tunnel");
    }
    // transport mode: the hosts' own flows, read through the AH
    let host = |proto: &str| {
        flows(&r)
            .into_iter()
            .find(|f| f["proto"] == proto && f["dest_ip"] == "10.77.0.12")
            .unwrap_or_else(|| panic!("the {proto} flow in AH transport mode"))
    };
    let (icmp, tcp) = (host("ICMP"), host("TCP"));
    assert_eq!(icmp["src_ip"], "10.77.0.11");
    assert_eq!(tcp["dest_port"], 8000);
    assert_eq!(tcp["app_proto"], "http");
    for f in [icmp, tcp] {
        assert_eq!(f["ipsec"]["ah"], "transport", "{f}");
        assert_eq!(f["flow"]["alerted"], true, "{f}");
    }
    // AH authenticating a routing protocol to a multicast group: recorded, not raised
    let ospf = flows(&r)
        .into_iter()
        .find(|f| f["dest_ip"] == "ff02::5")
        .expect("the OSPFv3 Hellos");
    assert_eq!(ospf["proto"], "89");
    assert_eq!(ospf["flow"]["pkts_toserver"], 3);
    assert_eq!(ospf["ipsec"]["ah"], "transport");
    assert_eq!(ospf["flow"]["alerted"], false);
    let mut got: Vec<(String, u64)> = alerts(&r)
        .iter()
        .map(|a| {
            (
                format!(
                    "{} {}",
                    a["proto"].as_str().unwrap(),
                    a["dest_ip"].as_str().unwrap()
                ),
                a["alert"]["signature_id"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, u64)> = [
        ("ESP 10.77.0.2", 9_400_001),
        ("ESP fd77::2", 9_400_001),
        ("ICMP 10.77.0.12", 9_400_014),
        ("ICMP 10.90.3.2", 9_400_005),
        ("ICMP 10.90.4.2", 9_400_005),
        ("TCP 10.77.0.12", 9_400_014),
        ("TCP 10.90.3.2", 9_400_005),
        ("TCP 10.90.4.2", 9_400_005),
        ("UDP 10.77.0.2", 9_400_001),
    ]
    .iter()
    .map(|(k, s)| (k.to_string(), *s))
    .collect();
    assert_eq!(got, want);
    assert!(alerts(&r).iter().all(|a| a["alert"]["category"] == "vpn"));
}

#[test]
fn tls_server_without_sni_is_named_from_its_certificate_subject_alt_names() {
    // openssl s_server (TLS 1.2) with CN=sni.cdn.test and subjectAltName sni.cdn.test,
    // *.cdn.test, www.example.test, psiphon3.net, *.psiphon3.net; openssl s_client once with
    // -noservername, once with -servername www.example.test
    let r = fixture("live-cert_names.pcap");
    let tls = flows_to(&r, 443);
    assert_eq!(tls.len(), 2);
    for f in &tls {
        assert_eq!(f["app_proto"], "tls", "{f}");
        assert_eq!(f["tls"]["version"], "TLSv1.2", "{f}");
        assert_eq!(f["tls"]["subject"], "CN=sni.cdn.test", "{f}");
    }
    let unnamed = tls
        .iter()
        .find(|f| f["tls"]["sni"].is_null())
        .expect("the flow with no SNI");
    assert_eq!(unnamed["app"], "psiphon");
    assert_eq!(unnamed["evidence"][0], "tls.cert_dns=psiphon3.net");
    let named = tls
        .iter()
        .find(|f| f["tls"]["sni"] == "www.example.test")
        .expect("the flow with SNI www.example.test");
    // the client asked for another name the certificate also lists: that is what it reached
    assert!(named["app"].is_null(), "{named}");
    assert!(named["evidence"].is_null(), "{named}");
    assert_eq!(named["flow"]["alerted"], false);
    // one alert: the Psiphon catalogue entry, on the flow without SNI
    let a = alerts(&r);
    assert_eq!(sids(&r), [9_140_012]);
    assert_eq!(a[0]["app"], "psiphon");
    assert_eq!(a[0]["src_port"], unnamed["src_port"]);
    assert_eq!(a[0]["alert"]["category"], "vpn");
    assert_eq!(
        a[0]["alert"]["metadata"]["evidence"][0],
        "tls.cert_dns=psiphon3.net"
    );
}

#[test]
fn iodine_through_doh_polls_are_held_and_an_ordinary_doh_session_is_not() {
    // dnss (DNS to DoH) in swa to dnsdist's DoH frontend for cloudflare-dns.com in swb, which
    // forwards the tunnel domain to iodined: first six lookups at a human pace through one
    // dnss (closed after), then iodine through another, with pings pushed from the server's
    // side while the client's query is held
    let r = fixture("live-doh_tunnel.pcap");
    let mut doh: Vec<&Value> = flows_to(&r, 443)
        .into_iter()
        .filter(|f| f["resolver_bypass"]["kind"] == "doh")
        .collect();
    doh.sort_by_key(|f| f["flow"]["start"].as_str().unwrap().to_string());
    assert_eq!(doh.len(), 2, "{doh:?}");
    for f in &doh {
        assert_eq!(f["resolver_bypass"]["resolver"], "cloudflare-dns");
        assert_eq!(f["tls"]["sni"], "cloudflare-dns.com");
        assert_eq!(f["dest_ip"], "10.77.0.2");
    }
    let (ordinary, tunnel) = (doh[0], doh[1]);
    assert_eq!(sids(&r), [9_300_101]);
    let a = alerts(&r)[0];
    assert_eq!(a["flow_id"], tunnel["flow_id"]);
    assert_eq!(a["alert"]["category"], "tunnel");
    let md = &a["alert"]["metadata"];
    assert_eq!(md["carrier"][0], "doh");
    assert_eq!(md["inner"][0], "dns-tunnel");
    assert_eq!(md["held_polls"][0], "3");
    // the server's pings come every 1.5 s: each held about that long
    let held: u64 = md["longest_hold_ms"][0].as_str().unwrap().parse().unwrap();
    assert!((1_000..3_000).contains(&held), "{held}");
    assert_eq!(tunnel["wrapped"]["inner"], "dns-tunnel");
    assert_eq!(tunnel["wrapped"]["outer"], "doh");
    assert_eq!(tunnel["flow"]["alerted"], true);
    // the ordinary session: answered in milliseconds, asked 1.3 s apart
    assert!(ordinary["wrapped"].is_null(), "{ordinary}");
    assert_eq!(ordinary["flow"]["alerted"], false);
    assert_eq!(ordinary["flow"]["state"], "closed");
}
