//! Devices naming themselves on the LAN, on captures generated here: mDNS/DNS-SD
//! announcements (UDP 5353), NetBIOS name registrations, node status answers and browser
//! announcements (UDP 137/138), SSDP notifies (UDP 1900), a web UI's `<title>` and a DHCP
//! vendor class. Each becomes its protocol's record on the flow (`mdns`, `netbios`, `ssdp`,
//! `http.title`), and the names of IP-KVMs among them announce the device ("IP-KVM on the
//! network") the way a DHCP host name does; the devices known survive a restart through
//! the state file. Look-alikes stay quiet: a query for a device's name, a laptop's names.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;

const T0: u64 = 1_700_000_000;
const DEVICE: u64 = 9_200_010;
const SESSION: u64 = 9_200_011;

fn dns_name(out: &mut Vec<u8>, n: &str) {
    for l in n.split('.') {
        out.push(l.len() as u8);
        out.extend(l.as_bytes());
    }
    out.push(0);
}

fn rr(out: &mut Vec<u8>, owner: &str, t: u16, rdata: &[u8]) {
    dns_name(out, owner);
    out.extend(t.to_be_bytes());
    out.extend([0x80, 1]);
    out.extend(120u32.to_be_bytes());
    out.extend((rdata.len() as u16).to_be_bytes());
    out.extend(rdata);
}

/// A DNS-SD announcement (RFC 6763): PTR, SRV and the host's A record.
fn mdns_announcement(instance: &str, service: &str, host: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 3, 0, 0, 0, 0];
    let full = format!("{instance}.{service}.local");
    let mut ptr = Vec::new();
    dns_name(&mut ptr, &full);
    rr(&mut m, &format!("{service}.local"), 12, &ptr);
    let mut srv = vec![0, 0, 0, 0, 1, 0xbb];
    dns_name(&mut srv, &format!("{host}.local"));
    rr(&mut m, &full, 33, &srv);
    rr(&mut m, &format!("{host}.local"), 1, &ip);
    m
}

fn mdns_query(name: &str) -> Vec<u8> {
    let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    dns_name(&mut m, name);
    m.extend([0, 1, 0, 1]);
    m
}

fn nb_encode(n: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..n.len()].copy_from_slice(n.as_bytes());
    raw[15] = suffix;
    let mut out = vec![32u8];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 15));
    }
    out.push(0);
    out
}

/// A broadcast name registration (RFC 1002 §4.2.2).
fn nb_registration(n: &str, ip: [u8; 4]) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
    m.extend(nb_encode(n, 0x20));
    m.extend([
        0, 0x20, 0, 1, 0xc0, 12, 0, 0x20, 0, 1, 0, 4, 0x93, 0xe0, 0, 6, 0, 0,
    ]);
    m.extend(ip);
    m
}

fn nb_query(n: &str) -> Vec<u8> {
    let mut m = vec![0x12, 0x35, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend(nb_encode(n, 0x20));
    m.extend([0, 0x20, 0, 1]);
    m
}

/// A browser host announcement (MS-BRWS §2.2.1) in a broadcast datagram (RFC 1002 §4.4).
fn browser_announcement(server: &str, comment: &str) -> Vec<u8> {
    let mut frame = vec![1u8, 0, 0xc0, 0xd4, 1, 0];
    let mut sn = [0u8; 16];
    sn[..server.len()].copy_from_slice(server.as_bytes());
    frame.extend(sn);
    frame.extend([6, 1, 3, 0x9a, 0, 0, 15, 1, 0x55, 0xaa]);
    frame.extend(comment.as_bytes());
    frame.push(0);
    let slot = b"\\MAILSLOT\\BROWSE\0";
    let mut smb = b"\xffSMB\x25".to_vec();
    smb.resize(32, 0);
    smb.push(17);
    let mut words = vec![0u8; 34];
    let data_off = 33 + 34 + 2 + slot.len();
    words[22..24].copy_from_slice(&(frame.len() as u16).to_le_bytes());
    words[24..26].copy_from_slice(&(data_off as u16).to_le_bytes());
    words[26] = 3;
    smb.extend(words);
    smb.extend(((slot.len() + frame.len()) as u16).to_le_bytes());
    smb.extend(slot);
    smb.extend(frame);
    let mut m = vec![0x11, 0x0a, 0, 1, 192, 168, 9, 30, 0, 138];
    let mut names = nb_encode(server, 0);
    names.extend(nb_encode("WORKGROUP", 0x1d));
    m.extend(((names.len() + smb.len()) as u16).to_be_bytes());
    m.extend([0, 0]);
    m.extend(names);
    m.extend(smb);
    m
}

fn ssdp_notify(server: &str) -> Vec<u8> {
    format!(
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n\
         LOCATION: http://192.168.9.40:80/description.xml\r\nNT: upnp:rootdevice\r\n\
         NTS: ssdp:alive\r\nSERVER: {server}\r\nUSN: uuid:0b7d3c1e-1111-4a2b-9c3d-0123456789ab::upnp:rootdevice\r\n\r\n"
    )
    .into_bytes()
}

fn web_page(sc: &mut Scene, client: &str, server: &str, head: &str, body: &str) {
    let mut t = sc.tcp_session((v4(client), 47000), (v4(server), 80));
    t.handshake(sc);
    t.client_sends(
        sc,
        b"GET / HTTP/1.1\r\nHost: kvm\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
    );
    let resp = format!(
        "HTTP/1.1 200 OK\r\n{head}Content-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    t.server_sends(sc, resp.as_bytes());
    t.close(sc);
    sc.advance_ms(1000);
}

fn with_sid(recs: &[Value], sid: u64) -> Vec<&Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == sid)
        .collect()
}

fn devices(recs: &[Value]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = with_sid(recs, DEVICE)
        .iter()
        .map(|a| {
            let md = &a["alert"]["metadata"];
            (
                md["ikvm"][0].as_str().unwrap().to_string(),
                md["device"][0].as_str().unwrap().to_string(),
                md["evidence"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn flow_with<'a>(recs: &'a [Value], proto: &str, src: &str) -> &'a Value {
    flows(recs)
        .into_iter()
        .find(|f| f["app_proto"] == proto && f["src_ip"] == src)
        .unwrap_or_else(|| panic!("no {proto} flow from {src}: {:#?}", flows(recs)))
}

#[test]
fn mdns_announcement_names_the_device_and_a_query_does_not() {
    let mut sc = Scene::new(T0);
    let group = (v4("224.0.0.251"), 5353);
    // a laptop asks for the device: no device
    sc.udp(
        (v4("192.168.9.20"), 5353),
        group,
        &mdns_query("pikvm.local"),
    );
    sc.advance_ms(200);
    sc.udp(
        (v4("192.168.9.50"), 5353),
        group,
        &mdns_announcement("PiKVM", "_https._tcp", "pikvm", [192, 168, 9, 50]),
    );
    sc.advance_ms(200);
    // a printer is no IP-KVM
    sc.udp(
        (v4("192.168.9.51"), 5353),
        group,
        &mdns_announcement("Office Printer", "_ipp._tcp", "printer", [192, 168, 9, 51]),
    );
    sc.advance_ms(1000);
    let r = replay_checked(sc.bytes(), &[]);
    let m = &flow_with(&r, "mdns", "192.168.9.50")["mdns"];
    assert_eq!(m["type"], "response");
    assert_eq!(m["hostnames"][0], "pikvm");
    assert_eq!(m["instances"][0], "PiKVM._https._tcp.local");
    assert_eq!(m["services"][0], "_https._tcp");
    let q = &flow_with(&r, "mdns", "192.168.9.20")["mdns"];
    assert_eq!(q["type"], "query");
    assert_eq!(q["queries"][0], "pikvm.local");
    assert_eq!(
        devices(&r),
        [(
            "pikvm".into(),
            "192.168.9.50".into(),
            "mdns.hostname=pikvm".into()
        )]
    );
}

#[test]
fn netbios_registration_and_browser_announcement_name_devices() {
    let mut sc = Scene::new(T0);
    sc.udp(
        (v4("192.168.9.60"), 137),
        (v4("192.168.9.255"), 137),
        &nb_registration("TINYPILOT", [192, 168, 9, 60]),
    );
    sc.advance_ms(200);
    // a query for a name is not the name's owner
    sc.udp(
        (v4("192.168.9.20"), 137),
        (v4("192.168.9.255"), 137),
        &nb_query("GLKVM"),
    );
    sc.advance_ms(200);
    sc.udp(
        (v4("192.168.9.30"), 138),
        (v4("192.168.9.255"), 138),
        &browser_announcement("JETKVM", "Samba 4.17.12-Debian"),
    );
    sc.advance_ms(200);
    sc.udp(
        (v4("192.168.9.31"), 138),
        (v4("192.168.9.255"), 138),
        &browser_announcement("LAPTOP-7", ""),
    );
    sc.advance_ms(1000);
    let r = replay_checked(sc.bytes(), &[]);
    let n = &flow_with(&r, "netbios", "192.168.9.60")["netbios"];
    assert_eq!(n["service"], "ns");
    assert_eq!(n["op"], "registration");
    assert_eq!(n["name"], "tinypilot");
    assert_eq!(n["names"][0], "TINYPILOT<20>");
    assert_eq!(n["hostnames"][0], "tinypilot");
    let q = &flow_with(&r, "netbios", "192.168.9.20")["netbios"];
    assert_eq!(q["op"], "query");
    assert!(q.get("hostnames").is_none(), "{q}");
    let b = &flow_with(&r, "netbios", "192.168.9.30")["netbios"];
    assert_eq!(b["service"], "dgm");
    assert_eq!(b["browser"]["command"], "host_announcement");
    assert_eq!(b["browser"]["server_name"], "JETKVM");
    assert_eq!(b["browser"]["comment"], "Samba 4.17.12-Debian");
    assert_eq!(
        devices(&r),
        [
            (
                "jetkvm".into(),
                "192.168.9.30".into(),
                "netbios.name=jetkvm".into()
            ),
            (
                "tinypilot".into(),
                "192.168.9.60".into(),
                "netbios.name=tinypilot".into()
            ),
        ]
    );
}

#[test]
fn ssdp_web_title_and_dhcp_vendor_class_name_devices() {
    let mut sc = Scene::new(T0);
    sc.udp(
        (v4("192.168.9.40"), 1900),
        (v4("239.255.255.250"), 1900),
        &ssdp_notify("Linux/4.19 UPnP/1.0 Raritan-Dominion-KX/4.2"),
    );
    sc.advance_ms(200);
    // an ordinary media server
    sc.udp(
        (v4("192.168.9.41"), 1900),
        (v4("239.255.255.250"), 1900),
        &ssdp_notify("Linux/6.1 UPnP/1.0 MiniDLNA/1.3.3"),
    );
    sc.advance_ms(200);
    web_page(
        &mut sc,
        "192.168.9.20",
        "192.168.9.70",
        "Server: nginx\r\n",
        "<!DOCTYPE html><html><head><title>PiKVM Login</title></head><body></body></html>",
    );
    web_page(
        &mut sc,
        "192.168.9.20",
        "192.168.9.71",
        "Server: nginx\r\n",
        "<html><head><TITLE>Router Login</TITLE></head></html>",
    );
    let r = replay_checked(sc.bytes(), &[]);
    let s = &flow_with(&r, "ssdp", "192.168.9.40")["ssdp"];
    assert_eq!(s["type"], "notify");
    assert_eq!(s["server"], "Linux/4.19 UPnP/1.0 Raritan-Dominion-KX/4.2");
    assert_eq!(s["nts"], "ssdp:alive");
    let h = flows(&r)
        .into_iter()
        .find(|f| f["dest_ip"] == "192.168.9.71")
        .unwrap();
    assert_eq!(h["http"]["title"], "Router Login");
    let d = devices(&r);
    assert_eq!(
        d,
        [
            (
                "pikvm".into(),
                "192.168.9.70".into(),
                "http.title=PiKVM Login".into()
            ),
            (
                "raritan-kvm".into(),
                "192.168.9.40".into(),
                "ssdp.server=Linux/4.19 UPnP/1.0 Raritan-Dominion-KX/4.2".into()
            ),
        ],
        "{:#?}",
        alerts(&r)
    );
}

#[test]
fn known_devices_survive_a_restart() {
    let dir = tmpdir();
    let state = dir.path().join("host-state.json");
    let cfg = dir.path().join("spanwatch.toml");
    std::fs::write(
        &cfg,
        format!("[host]\nstate_file = {:?}\n", state.to_str().unwrap()),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let mut sc = Scene::new(T0);
    sc.udp(
        (v4("192.168.9.50"), 5353),
        (v4("224.0.0.251"), 5353),
        &mdns_announcement("jetkvm", "_http._tcp", "jetkvm", [192, 168, 9, 50]),
    );
    sc.advance_ms(1000);
    let first = replay_checked(sc.bytes(), &["--config", cfg]);
    assert_eq!(devices(&first).len(), 1);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["ikvm_devices"][0][0], "192.168.9.50");
    assert_eq!(saved["ikvm_devices"][0][1], "jetkvm");
    // after the restart, a session to the device is named without a new announcement
    let mut sc = Scene::new(T0 + 600);
    let mut t = sc.tcp_session((v4("192.168.9.20"), 45000), (v4("192.168.9.50"), 443));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, &tls_client_hello(None, &[]));
    t.server_sends(&mut sc, &tls_server_hello_cert(None, None));
    for i in 0..4 {
        t.client_sends(&mut sc, &tls_app_data(100, i));
        t.server_sends(&mut sc, &tls_app_data(1200, i + 10));
    }
    t.close(&mut sc);
    sc.advance_ms(1000);
    let second = replay_checked(sc.bytes(), &["--config", cfg]);
    assert!(devices(&second).is_empty());
    let s = with_sid(&second, SESSION);
    assert_eq!(s.len(), 1, "{:#?}", alerts(&second));
    assert_eq!(s[0]["alert"]["metadata"]["ikvm"][0], "jetkvm");
}

/// A DHCPREQUEST (RFC 2131, options 53, 50, 60) with a vendor class and no host name.
fn dhcp_vendor_class(ip: [u8; 4], vendor: &str) -> Vec<u8> {
    let mut m = vec![1, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26];
    m.extend_from_slice(&[0; 20]);
    m.extend_from_slice(&[0x02, 0, 0, 0x11, 0x22, 0x33]);
    m.extend_from_slice(&[0; 10 + 64 + 128]);
    m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63, 53, 1, 3, 50, 4]);
    m.extend_from_slice(&ip);
    m.extend_from_slice(&[60, vendor.len() as u8]);
    m.extend_from_slice(vendor.as_bytes());
    m.push(255);
    m
}

#[test]
fn dhcp_vendor_class_and_web_ui_certificate_name_devices() {
    let mut sc = Scene::new(T0);
    sc.udp(
        (v4("0.0.0.0"), 68),
        (v4("255.255.255.255"), 67),
        &dhcp_vendor_class([192, 168, 9, 80], "GL-RM1 udhcp 1.36.1"),
    );
    sc.advance_ms(500);
    // an ordinary Linux client's vendor class
    sc.udp(
        (v4("0.0.0.0"), 68),
        (v4("255.255.255.255"), 67),
        &dhcp_vendor_class(
            [192, 168, 9, 81],
            "dhcpcd-10.0.6:Linux-6.6:x86_64:GenuineIntel",
        ),
    );
    sc.advance_ms(500);
    // JetKVM's self-signed web UI certificate (github.com/jetkvm/kvm): the server is the
    // device
    let mut t = sc.tcp_session((v4("192.168.9.20"), 46000), (v4("192.168.9.82"), 443));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, &tls_client_hello(None, &[]));
    let cert = x509_cert(
        &[
            ("O", "JetKVM"),
            ("OU", "JetKVM Self-Signed"),
            ("CN", "jetkvm.local"),
        ],
        &[
            ("O", "JetKVM"),
            ("OU", "JetKVM Self-Signed"),
            ("CN", "JetKVM Self-Signed CA"),
        ],
    );
    t.server_sends(&mut sc, &tls_server_hello_cert(None, Some(&cert)));
    t.close(&mut sc);
    sc.advance_ms(1000);
    let r = replay_checked(sc.bytes(), &[]);
    let d: Vec<(String, String)> = devices(&r).into_iter().map(|x| (x.0, x.1)).collect();
    assert_eq!(
        d,
        [
            ("glinet-comet".into(), "192.168.9.80".into()),
            ("jetkvm".into(), "192.168.9.82".into()),
        ],
        "{:#?}",
        alerts(&r)
    );
}

/// tests/fixtures/live-devices.pcap (tests/live/devices.sh): Samba's nmbd as PIKVM and
/// avahi-daemon as pikvm.local, with nmblookup and an mDNS query from the other host.
#[test]
fn recorded_nmbd_and_avahi_name_the_device() {
    let pcap =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-devices.pcap");
    let (r, out) = replay(&pcap, &[]);
    assert!(out.status.success());
    let nb = |op: &str, dport: u64| {
        flows(&r)
            .into_iter()
            .find(|f| {
                f["netbios"]["op"] == op && f["dest_port"] == dport && f["src_ip"] == "10.77.0.2"
            })
            .unwrap_or_else(|| panic!("no netbios {op} from nmbd: {:#?}", flows(&r)))
    };
    let reg = nb("registration", 137);
    assert_eq!(reg["netbios"]["service"], "ns");
    // the workgroup LAB is a group name: no device
    assert_eq!(reg["netbios"]["hostnames"], serde_json::json!(["pikvm"]));
    let dgm = nb("direct_group", 138);
    assert_eq!(dgm["netbios"]["browser"]["command"], "host_announcement");
    assert_eq!(dgm["netbios"]["browser"]["server_name"], "PIKVM");
    // nmblookup's node status query, answered by nmbd
    let stat = flows(&r)
        .into_iter()
        .find(|f| f["netbios"]["name"] == "*")
        .expect("node status flow");
    assert!(stat["netbios"]["names"].to_string().contains("PIKVM<20>"));
    // avahi-daemon's announcements and its answer to the query
    let m = flows(&r)
        .into_iter()
        .find(|f| {
            f["app_proto"] == "mdns" && f["src_ip"] == "10.77.0.2" && f["dest_ip"] == "224.0.0.251"
        })
        .expect("avahi's announcements");
    assert_eq!(m["mdns"]["hostnames"][0], "pikvm");
    assert!(m["mdns"]["services"]
        .to_string()
        .contains("_workstation._tcp"));
    let q = flows(&r)
        .into_iter()
        .find(|f| f["app_proto"] == "mdns" && f["src_ip"] == "10.77.0.1")
        .expect("the query");
    assert_eq!(q["mdns"]["queries"][0], "pikvm.local");
    let d = devices(&r);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].0.as_str(), d[0].1.as_str()), ("pikvm", "10.77.0.2"));
}

#[test]
fn ssdp_search_answer_and_upnp_description_name_devices() {
    let mut sc = Scene::new(T0);
    // a control point searches; the device answers from 1900 to the searcher's port: the
    // device is the flow's server
    let cp = (v4("192.168.9.20"), 50_000);
    sc.udp(
        cp,
        (v4("239.255.255.250"), 1900),
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n",
    );
    sc.advance_ms(100);
    sc.udp(
        (v4("192.168.9.90"), 1900),
        cp,
        b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nSERVER: Linux/5.10 UPnP/1.0 GLKVM/1.2\r\nUSN: uuid:1::upnp:rootdevice\r\n\r\n",
    );
    sc.advance_ms(500);
    // the description document an SSDP LOCATION points at (UPnP Device Architecture §2.3)
    web_page(
        &mut sc,
        "192.168.9.20",
        "192.168.9.91",
        "",
        "<?xml version=\"1.0\"?><root><device><friendlyName>ATEN KVM over IP</friendlyName></device></root>",
    );
    let r = replay_checked(sc.bytes(), &[]);
    let d: Vec<(String, String)> = devices(&r).into_iter().map(|x| (x.0, x.1)).collect();
    assert_eq!(
        d,
        [
            ("aten-kvm".into(), "192.168.9.91".into()),
            ("glinet-comet".into(), "192.168.9.90".into()),
        ],
        "{:#?}",
        flows(&r)
    );
    let h = flows(&r)
        .into_iter()
        .find(|f| f["dest_ip"] == "192.168.9.91")
        .unwrap();
    assert_eq!(h["http"]["friendly_name"], "ATEN KVM over IP");
}
