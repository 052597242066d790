//! Regression over captures recorded from real programs in network namespaces
//! (tests/fixtures/README.md says how): xrdp + FreeRDP, TigerVNC, OpenSSH, dante and
//! tinyproxy, OpenVPN, wireguard-go, iodine, ptunnel-ng. Runs without root.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn fixture(name: &str) -> Vec<Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let (recs, out) = replay(&p, &[]);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_schema(&recs);
    recs
}

fn alert_with<'a>(recs: &'a [Value], category: &str) -> Vec<&'a Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["category"] == category)
        .collect()
}

fn has_flow(recs: &[Value], app_proto: &str) -> bool {
    flows(recs).iter().any(|f| f["app_proto"] == app_proto)
}

#[test]
fn xrdp_session_from_freerdp() {
    let r = fixture("live-rdp.pcap");
    assert!(has_flow(&r, "rdp"));
    let a = alert_with(&r, "remote-access");
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(a[0]["app"], "rdp");
    assert_eq!(a[0]["direction"], "internal");
    assert_eq!(a[0]["alert"]["metadata"]["rdp_cookie"][0], "alice");
    let f = flows(&r)
        .into_iter()
        .find(|f| f["app_proto"] == "rdp")
        .unwrap();
    assert_eq!(f["rdp"]["cookie"], "alice");
    assert_eq!(f["rdp"]["selected_protocol"], "ssl");
}

#[test]
fn tigervnc_session() {
    let r = fixture("live-vnc.pcap");
    let a = alert_with(&r, "remote-access");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["app"], "vnc");
    assert_eq!(a[0]["alert"]["metadata"]["rfb_version"][0], "003.008");
    let f = flows(&r)
        .into_iter()
        .find(|f| f["app_proto"] == "vnc")
        .unwrap();
    assert_eq!(f["rfb"]["security_type_selected"], "VNC");
}

#[test]
fn openssh_sessions_name_both_ends() {
    let r = fixture("live-ssh.pcap");
    let ssh: Vec<&Value> = flows(&r)
        .into_iter()
        .filter(|f| f["app_proto"] == "ssh")
        .collect();
    assert!(!ssh.is_empty());
    for f in ssh {
        assert!(f["ssh"]["client"]["software_version"]
            .as_str()
            .unwrap()
            .starts_with("OpenSSH_"));
        assert!(f["ssh"]["server"]["software_version"]
            .as_str()
            .unwrap()
            .starts_with("OpenSSH_"));
    }
    // internal SSH is not a remote-access alert by default (detect.ssh_alert = "inbound")
    assert!(alert_with(&r, "remote-access").is_empty());
}

#[test]
fn openssh_typed_session_is_interactive_and_the_forward_is_a_tunnel() {
    let r = fixture("live-ssh.pcap");
    let ssh: Vec<&Value> = flows(&r)
        .into_iter()
        .filter(|f| f["app_proto"] == "ssh")
        .collect();
    // the session typed key by key (55 keys, 80-240 ms apart) on a pty
    let typed = ssh
        .iter()
        .find(|f| f["ssh"]["shape"] == "interactive")
        .expect("an interactive session");
    let t = &typed["ssh"]["timing"];
    assert_eq!(t["keystrokes"], 55, "{t}");
    let gap = t["mean_keystroke_gap_ms"].as_u64().unwrap();
    assert!((80..=240).contains(&gap), "{t}");
    // the -L forward carrying the start of a download (the recording stops at 1200 packets)
    let fwd = ssh
        .iter()
        .find(|f| f["ssh"]["shape"] == "forwarding")
        .expect("a forwarding session");
    let tunnel = alert_with(&r, "tunnel");
    assert_eq!(tunnel.len(), 1, "{tunnel:#?}");
    assert_eq!(tunnel[0]["src_port"], fwd["src_port"]);
    assert_eq!(tunnel[0]["alert"]["signature_id"], 9_300_004);
    assert!(tunnel.iter().all(|a| a["src_port"] != typed["src_port"]));
}

#[test]
fn socks_and_http_connect_proxies_with_targets() {
    let r = fixture("live-proxy.pcap");
    assert!(has_flow(&r, "socks"));
    assert!(has_flow(&r, "http-connect"));
    let a = alert_with(&r, "proxy");
    assert!(!a.is_empty());
    assert!(a.iter().all(|x| x["alert"]["metadata"]["target"][0]
        .as_str()
        .is_some_and(|t| t.contains(':'))));
}

#[test]
fn openvpn_wireguard_and_tunnels() {
    let r = fixture("live-openvpn.pcap");
    assert!(has_flow(&r, "openvpn"));
    assert!(!alert_with(&r, "vpn").is_empty());
    let r = fixture("live-wireguard.pcap");
    assert!(has_flow(&r, "wireguard"));
    assert!(!alert_with(&r, "vpn").is_empty());
    let r = fixture("live-dns_tunnel.pcap");
    let t = alert_with(&r, "tunnel");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["alert"]["metadata"]["domain"][0], "spanwatch.test");
    let r = fixture("live-icmp_tunnel.pcap");
    assert_eq!(alert_with(&r, "tunnel").len(), 1);
}

#[test]
fn plain_upload_raises_no_remote_access_or_tunnel_alert() {
    let r = fixture("live-upload.pcap");
    for c in ["remote-access", "tunnel", "vpn", "proxy"] {
        assert!(alert_with(&r, c).is_empty(), "{c}");
    }
}
