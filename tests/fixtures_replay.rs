//! Regression over captures recorded from real programs in network namespaces
//! (tests/fixtures/README.md says how): xrdp + FreeRDP, TigerVNC, OpenSSH, dante and
//! tinyproxy, OpenVPN, wireguard-go, iodine, ptunnel-ng; scp, sftp, rsync and git over
//! OpenSSH; ocserv and openconnect. Runs without root.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

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
fn openssh_typed_session_is_interactive_and_one_download_is_a_transfer() {
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
    // The -L forward carrying the start of one download (the recording stops at 1200
    // packets): one request, one run of data back, as a copy looks; no tunnel alert.
    let one = ssh
        .iter()
        .find(|f| f["ssh"]["shape"] == "transfer")
        .expect("a transfer");
    assert_eq!(one["ssh"]["transfer"]["direction"], "to_client");
    assert!(alert_with(&r, "tunnel").is_empty());
}

/// The SSH sessions of `live-ssh_transfer.pcap` in the order they started: (client port,
/// shape, flow record).
fn ssh_sessions(r: &[Value]) -> Vec<(u64, &str, &Value)> {
    let mut v: Vec<(u64, &str, &Value)> = flows(r)
        .into_iter()
        .filter(|f| f["app_proto"] == "ssh")
        .map(|f| {
            (
                f["src_port"].as_u64().unwrap(),
                f["ssh"]["shape"].as_str().unwrap(),
                f,
            )
        })
        .collect();
    v.sort_by_key(|(_, _, f)| f["flow"]["start"].as_str().unwrap().to_string());
    v
}

#[test]
fn ssh_copies_are_transfers_forwards_are_tunnels_typing_is_nothing() {
    let r = fixture("live-ssh_transfer.pcap");
    let s = ssh_sessions(&r);
    let shapes: Vec<&str> = s.iter().map(|x| x.1).collect();
    // scp up, scp down, sftp put, sftp get, rsync -e ssh up, git push; ssh -L, -R, -D
    // with six requests each; a typed session; a typed session whose -L forward carried
    // three downloads meanwhile
    assert_eq!(
        shapes,
        [
            "transfer",
            "transfer",
            "transfer",
            "transfer",
            "transfer",
            "transfer",
            "forwarding",
            "forwarding",
            "forwarding",
            "interactive",
            "forwarding"
        ]
    );
    let dirs: Vec<&str> = s[..6]
        .iter()
        .map(|x| x.2["ssh"]["transfer"]["direction"].as_str().unwrap())
        .collect();
    assert_eq!(
        dirs,
        [
            "to_server",
            "to_client",
            "to_server",
            "to_client",
            "to_server",
            "to_server"
        ]
    );
    for (_, _, f) in &s[..6] {
        let t = &f["ssh"]["transfer"];
        assert!(t["payload_bytes"].as_u64().unwrap() > 256 * 1024, "{t}");
        assert_eq!(f["ssh"]["timing"]["exchanges"], 1);
    }
    for (_, _, f) in &s[6..9] {
        assert_eq!(f["ssh"]["timing"]["exchanges"], 6, "{}", f["ssh"]);
    }
    let typed = &s[10].2["ssh"]["timing"];
    assert!(typed["keystrokes"].as_u64().unwrap() >= 30, "{typed}");
    assert_eq!(typed["exchanges"], 3, "{typed}");
    // One tunnel alert per client, server and port within the suppression window (an hour
    // by default): on the first forward. Nothing on the copies or the typed session.
    let tunnel = alert_with(&r, "tunnel");
    assert_eq!(tunnel.len(), 1, "{tunnel:#?}");
    assert_eq!(tunnel[0]["src_port"].as_u64(), Some(s[6].0));
    assert_eq!(tunnel[0]["alert"]["signature_id"], 9_300_004);
    assert_eq!(alerts(&r).len(), 1);
    // With a one-second suppression window every forward has its own alert.
    let dir = tmpdir();
    let cfg = dir.path().join("spanwatch.toml");
    std::fs::write(&cfg, "[output]\nalert_suppress_s = 1\n").unwrap();
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-ssh_transfer.pcap");
    let (r, out) = replay(&p, &["--config", cfg.to_str().unwrap()]);
    assert!(out.status.success());
    let ports: Vec<u64> = alerts(&r)
        .iter()
        .map(|a| {
            assert_eq!(a["alert"]["signature_id"], 9_300_004, "{a}");
            a["src_port"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ports, [s[6].0, s[7].0, s[8].0, s[10].0]);
    assert!(alerts(&r)[3]["alert"]["signature"]
        .as_str()
        .unwrap()
        .contains("beside someone typing"));
}

#[test]
fn ssh_copies_reach_the_host_stage_as_uploads_and_downloads() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-ssh_transfer.pcap");
    let dir = tmpdir();
    let run = |extra: &str| {
        let cfg = dir.path().join("spanwatch.toml");
        std::fs::write(&cfg, extra).unwrap();
        let (recs, out) = replay(&p, &["--config", cfg.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        recs
    };
    // The client alone inside: the server is outside, and the first upload over 200 kB
    // (scp's) is egress far above what a new host is allowed.
    let r = run("[sensor]\nhome_net = [\"10.77.0.1/32\"]\n[host.egress]\nfloor_bytes = 200000\nnew_host_bytes = 200000\n");
    let s = ssh_sessions(&r);
    let eg = alert_with(&r, "egress");
    assert_eq!(eg.len(), 1, "{eg:#?}");
    assert_eq!(eg[0]["app_proto"], "ssh");
    assert_eq!(eg[0]["src_port"].as_u64(), Some(s[0].0));
    assert!(alert_with(&r, "tunnel")
        .iter()
        .all(|a| a["src_port"].as_u64() == Some(s[6].0)));
    // Both inside: the first download over 200 kB (scp's) is collection from an internal
    // SSH server.
    let r = run("[sensor]\nhome_net = [\"10.77.0.0/24\"]\n[host.collection]\nfloor_bytes = 200000\nnew_host_bytes = 200000\n");
    let col = alert_with(&r, "collection");
    assert_eq!(col.len(), 1, "{col:#?}");
    assert_eq!(col[0]["alert"]["metadata"]["service"][0], "ssh");
    assert_eq!(col[0]["src_port"].as_u64(), Some(s[1].0));
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
fn shadowsocks_stream_is_a_fully_encrypted_proxy() {
    // shadowsocks-libev: three downloads through ss-local → ss-server on 8388
    let r = fixture("live-shadowsocks.pcap");
    let a = alert_with(&r, "proxy");
    assert!(!a.is_empty());
    assert!(a.iter().all(|x| x["alert"]["signature_id"] == 9_400_010));
    assert!(a.iter().all(|x| x["dest_port"] == 8388));
    let ss: Vec<&Value> = r
        .iter()
        .filter(|f| f["event_type"] == "flow" && f["dest_port"] == 8388)
        .collect();
    assert_eq!(ss.len(), 3);
    assert!(ss
        .iter()
        .all(|f| f["proxy"]["protocol"] == "fully-encrypted"));
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

#[test]
fn openconnect_dtls_channel_is_not_a_call_leg() {
    // ocserv and openconnect: TLS to the gateway, then the DTLS data channel on UDP 443
    // carrying a ping flood and a 300 kB download (800 datagrams). Every call leg would
    // raise a `calls` alert with max_concurrent = 0; the VPN's DTLS is none.
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-openconnect.pcap");
    let dir = tmpdir();
    let cfg = dir.path().join("spanwatch.toml");
    std::fs::write(&cfg, "[host.calls]\nmax_concurrent = 0\n").unwrap();
    let (r, out) = replay(&p, &["--config", cfg.to_str().unwrap()]);
    assert!(out.status.success());
    assert_schema(&r);
    let dtls = flows(&r)
        .into_iter()
        .find(|f| f["app_proto"] == "dtls")
        .expect("the DTLS channel");
    assert_eq!(dtls["dest_port"], 443);
    let f = &dtls["flow"];
    assert!(f["pkts_toserver"].as_u64().unwrap() + f["pkts_toclient"].as_u64().unwrap() > 700);
    let tls = flows(&r)
        .into_iter()
        .find(|f| f["app_proto"] == "tls")
        .expect("the TLS session to the gateway");
    assert_eq!(tls["dest_ip"], dtls["dest_ip"]);
    assert!(alert_with(&r, "calls").is_empty());
}
