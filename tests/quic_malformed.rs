//! spanwatch_malformed_flows_total{protocol="quic"}: a datagram shaped like a QUIC Initial
//! (long header, version 1, 1200 bytes) that does not open with the Initial keys is counted
//! once per flow; a good Initial, and a server Initial with no client Initial in view (a
//! capture of one side), are not. The series is there at 0 from the start.

mod common;
use common::*;
use spanwatch_testkit::*;

const T0: u64 = 1_700_000_000;

fn malformed_quic(sc: Scene) -> (Vec<serde_json::Value>, String) {
    let dir = tmpdir();
    let m = dir.path().join("m.prom");
    let (recs, out) = replay_bytes(sc.bytes(), &["--metrics-file", m.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&m).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("spanwatch_malformed_flows_total{protocol=\"quic\"}"))
        .expect("the quic series is exported")
        .to_string();
    (recs, line)
}

fn client_initial(dcid: &[u8], frames: &[u8]) -> Vec<u8> {
    quic_initial(1, dcid, dcid, &[7, 7, 7, 7], false, 0, frames, 1200)
}

#[test]
fn an_initial_that_does_not_open_is_counted_once() {
    let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    let crypto = quic_crypto_frame(0, &quic_client_hello("example.net", &["h3"]));
    let c = (v4("10.1.0.5"), 50000);
    // three client Initials whose protected payload was damaged on the way
    let mut sc = Scene::new(T0);
    for i in 0..3 {
        let mut p = client_initial(&dcid, &crypto);
        let n = p.len();
        p[n - 20 - i] ^= 0x55;
        sc.udp(c, (v4("198.51.100.9"), 443), &p);
    }
    let (recs, line) = malformed_quic(sc);
    assert_eq!(line, "spanwatch_malformed_flows_total{protocol=\"quic\"} 1");
    let f = flows(&recs);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["app_proto"], "quic");

    // a good Initial: nothing counted, the ClientHello read
    let mut sc = Scene::new(T0);
    sc.udp(
        c,
        (v4("198.51.100.9"), 443),
        &client_initial(&dcid, &crypto),
    );
    let (recs, line) = malformed_quic(sc);
    assert_eq!(line, "spanwatch_malformed_flows_total{protocol=\"quic\"} 0");
    assert_eq!(flows(&recs)[0]["quic"]["sni"], "example.net");

    // only the server's side in view: its Initial cannot be opened, but is not malformed
    let mut sc = Scene::new(T0);
    let s = quic_initial(
        1,
        &dcid,
        &[7, 7, 7, 7],
        &[9; 8],
        true,
        0,
        &quic_crypto_frame(0, &quic_server_hello()),
        1200,
    );
    sc.udp((v4("198.51.100.9"), 443), c, &s);
    let (_, line) = malformed_quic(sc);
    assert_eq!(line, "spanwatch_malformed_flows_total{protocol=\"quic\"} 0");
}
