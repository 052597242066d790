//! IP-KVMs on the network ("laptop farms"), on captures generated here: a device shows itself
//! by its DHCP host name (with its board's MAC OUI as evidence), by the enterprise KVM maker
//! of its board, by its web UI's certificate, or by calling its vendor's cloud; it is
//! announced once, and a later remote-access session to it is named as a session to an
//! IP-KVM. The look-alikes stay quiet: a Raspberry Pi that is no IP-KVM, a device outside
//! the home networks.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;

const T0: u64 = 1_700_000_000;
const DEVICE: u64 = 9_200_010;
const SESSION: u64 = 9_200_011;
const PIKVM: u64 = 9_120_001;

/// A DHCPREQUEST (RFC 2131 §2, RFC 2132 options 53, 50, 12, 60).
fn dhcp_request(
    mac: [u8; 6],
    hostname: Option<&str>,
    ip: [u8; 4],
    vendor: Option<&str>,
) -> Vec<u8> {
    let mut m = vec![1, 1, 6, 0];
    m.extend_from_slice(&0x3903_f326u32.to_be_bytes());
    m.extend_from_slice(&[0; 4]); // secs, flags
    m.extend_from_slice(&[0; 16]); // ciaddr yiaddr siaddr giaddr
    m.extend_from_slice(&mac);
    m.extend_from_slice(&[0; 10 + 64 + 128]);
    m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63, 53, 1, 3, 50, 4]);
    m.extend_from_slice(&ip);
    if let Some(h) = hostname {
        m.extend_from_slice(&[12, h.len() as u8]);
        m.extend_from_slice(h.as_bytes());
    }
    if let Some(v) = vendor {
        m.extend_from_slice(&[60, v.len() as u8]);
        m.extend_from_slice(v.as_bytes());
    }
    m.push(255);
    m
}

fn dhcp(sc: &mut Scene, mac: [u8; 6], hostname: Option<&str>, ip: [u8; 4]) {
    let msg = dhcp_request(
        mac,
        hostname,
        ip,
        Some("dhcpcd-10.0.6:Linux-6.6:aarch64:BCM2835"),
    );
    sc.udp((v4("0.0.0.0"), 68), (v4("255.255.255.255"), 67), &msg);
    sc.advance_ms(1000);
}

fn run(sc: Scene) -> Vec<Value> {
    replay_checked(sc.bytes(), &[])
}

fn with_sid(recs: &[Value], sid: u64) -> Vec<&Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == sid)
        .collect()
}

/// A VNC-like session (the RFB handshake, then updates) from `client` to `server`.
fn session(sc: &mut Scene, client: &str, server: &str, port: u16) {
    let mut t = sc.tcp_session((v4(client), 45000), (v4(server), port));
    t.handshake(sc);
    t.client_sends(sc, &tls_client_hello(None, &[]));
    t.server_sends(sc, &tls_server_hello_cert(None, None));
    for i in 0..4 {
        t.client_sends(sc, &tls_app_data(100, i));
        t.server_sends(sc, &tls_app_data(1200, i + 10));
    }
    t.close(sc);
    sc.advance_ms(1000);
}

#[test]
fn dhcp_host_name_announces_the_device_once_and_names_sessions_to_it() {
    let mut sc = Scene::new(T0);
    let rpi = [0xdc, 0xa6, 0x32, 0x01, 0x02, 0x03];
    dhcp(&mut sc, rpi, Some("pikvm"), [192, 168, 1, 50]);
    // renewed later: still one device
    dhcp(&mut sc, rpi, Some("pikvm"), [192, 168, 1, 50]);
    // a Raspberry Pi that is no IP-KVM, and an unknown board named like one outside home
    dhcp(
        &mut sc,
        [0xb8, 0x27, 0xeb, 9, 9, 9],
        Some("raspberrypi"),
        [192, 168, 1, 51],
    );
    dhcp(
        &mut sc,
        [2, 0, 0, 0, 0, 7],
        Some("tinypilot"),
        [203, 0, 113, 9],
    );
    // someone drives the device's web UI (HTTPS) from another host
    session(&mut sc, "192.168.1.20", "192.168.1.50", 443);
    // and the Raspberry Pi's own web server is not an IP-KVM
    session(&mut sc, "192.168.1.20", "192.168.1.51", 443);
    let r = run(sc);
    let d = with_sid(&r, DEVICE);
    assert_eq!(d.len(), 1, "{d:#?}");
    let md = &d[0]["alert"]["metadata"];
    assert_eq!(md["ikvm"][0], "pikvm");
    assert_eq!(md["device"][0], "192.168.1.50");
    assert_eq!(md["mac_vendor"][0], "Raspberry Pi");
    assert!(md["evidence"].to_string().contains("dhcp.hostname=pikvm"));
    let s = with_sid(&r, SESSION);
    assert_eq!(s.len(), 1, "{s:#?}");
    assert_eq!(s[0]["dest_ip"], "192.168.1.50");
    assert_eq!(s[0]["src_ip"], "192.168.1.20");
    assert_eq!(s[0]["alert"]["metadata"]["ikvm"][0], "pikvm");
    assert_eq!(s[0]["alert"]["category"], "remote-access");
}

#[test]
fn enterprise_kvm_board_announces_the_device() {
    let mut sc = Scene::new(T0);
    dhcp(
        &mut sc,
        [0x00, 0x0d, 0x5d, 0x10, 0x20, 0x30],
        None,
        [10, 1, 2, 3],
    );
    // a Lantronix module alone is not enough
    dhcp(
        &mut sc,
        [0x00, 0x20, 0x4a, 0x10, 0x20, 0x31],
        None,
        [10, 1, 2, 4],
    );
    let r = run(sc);
    let d = with_sid(&r, DEVICE);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0]["alert"]["metadata"]["ikvm"][0], "raritan-kvm");
    assert_eq!(d[0]["alert"]["metadata"]["mac_vendor"][0], "Raritan");
}

#[test]
fn web_ui_certificate_and_vendor_cloud_show_the_device() {
    let mut sc = Scene::new(T0);
    // the PiKVM web UI's self-signed certificate: the server is the device
    let mut t = sc.tcp_session((v4("192.168.7.20"), 46000), (v4("192.168.7.60"), 443));
    t.handshake(&mut sc);
    t.client_sends(&mut sc, &tls_client_hello(None, &[]));
    let cert = x509_cert(
        &[("C", "US"), ("O", "PiKVM"), ("CN", "localhost")],
        &[("C", "US"), ("O", "PiKVM"), ("CN", "localhost")],
    );
    t.server_sends(&mut sc, &tls_server_hello_cert(None, Some(&cert)));
    t.client_sends(&mut sc, &tls_app_data(200, 1));
    t.server_sends(&mut sc, &tls_app_data(900, 2));
    t.close(&mut sc);
    sc.advance_ms(1000);
    // a JetKVM calling its vendor's cloud: the client is the device
    let mut u = sc.tcp_session((v4("192.168.7.61"), 46001), (v4("198.51.100.80"), 443));
    u.handshake(&mut sc);
    u.client_sends(&mut sc, &tls_client_hello(Some("api.jetkvm.com"), &[]));
    u.server_sends(&mut sc, &tls_server_hello_cert(None, None));
    u.client_sends(&mut sc, &tls_app_data(200, 3));
    u.close(&mut sc);
    sc.advance_ms(1000);
    // someone reading PiKVM's web site is no device
    let mut w = sc.tcp_session((v4("192.168.7.22"), 46002), (v4("198.51.100.81"), 443));
    w.handshake(&mut sc);
    w.client_sends(&mut sc, &tls_client_hello(Some("docs.pikvm.org"), &[]));
    w.server_sends(&mut sc, &tls_server_hello_cert(None, None));
    w.client_sends(&mut sc, &tls_app_data(200, 4));
    w.close(&mut sc);
    sc.advance_ms(1000);
    // later, a session to the PiKVM that names nothing by itself
    session(&mut sc, "192.168.7.21", "192.168.7.60", 443);
    let r = run(sc);
    // the worker names the certificate's session, with ikvm in its metadata
    let p = with_sid(&r, PIKVM);
    let cert = p
        .iter()
        .find(|a| a["dest_ip"] == "192.168.7.60")
        .expect("the certificate's session");
    assert_eq!(cert["alert"]["metadata"]["ikvm"][0], "pikvm");
    let d = with_sid(&r, DEVICE);
    let dev: Vec<(&str, &str)> = d
        .iter()
        .map(|a| {
            (
                a["alert"]["metadata"]["ikvm"][0].as_str().unwrap(),
                a["alert"]["metadata"]["device"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert!(dev.contains(&("pikvm", "192.168.7.60")), "{dev:?}");
    assert!(
        dev.contains(&("jetkvm", "192.168.7.61")),
        "{dev:?} {:#?}",
        flows(&r)
            .into_iter()
            .filter(|f| f["src_ip"] == "192.168.7.61")
            .collect::<Vec<_>>()
    );
    assert_eq!(dev.len(), 2, "{dev:?}");
    let s = with_sid(&r, SESSION);
    assert_eq!(s.len(), 1, "{s:#?}");
    assert_eq!(s[0]["src_ip"], "192.168.7.21");
}
