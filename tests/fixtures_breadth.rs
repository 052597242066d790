//! Issue 15's capabilities on recordings of real programs (tests/fixtures/README.md says how
//! each was made; the tests/live/<name>.sh scenario records it again with
//! SPANWATCH_LIVE_RECORD=1): protocols named by one side (OpenSSH, xrdp), DNS tunnels other
//! than iodine's default, Tor bridges, QUIC, WebSocket tunnels, IPsec without IKE. Runs
//! without root.

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
    assert!(ssh.iter().any(|f| f["http"]["http_user_agent"] == "curl/7.88.1"));
    // an X.224 request whose TPKT length (47) is not its packet's (43), answered by xrdp
    let rdp = flows_to(&r, 3389);
    assert_eq!(rdp.len(), 1);
    assert_eq!(rdp[0]["app_proto"], "rdp");
    assert!(alerts(&r).is_empty(), "{:?}", sids(&r));
}
