use super::samples::negatives;
use super::*;

fn tv_identify() -> Vec<u8> {
    let mut v = vec![0x17, 0x24, 0x0a, 0x20, 0x00];
    v.extend_from_slice(&[0x41; 32]);
    v
}

fn radmin_client() -> Vec<u8> {
    vec![0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x08]
}

fn radmin_server() -> Vec<u8> {
    let mut v = vec![0u8; 46];
    v[..5].copy_from_slice(&[0x01, 0x00, 0x00, 0x00, 0x25]);
    v[7..11].copy_from_slice(&[0x02, 0x12, 0x08, 0x02]);
    v[13] = 0x0a;
    v
}

fn rustdesk_register_peer() -> Vec<u8> {
    // RendezvousMessage { register_peer: RegisterPeer { id: "123456789", serial: 3 } }
    let mut inner = vec![0x0a, 9];
    inner.extend_from_slice(b"123456789");
    inner.extend_from_slice(&[0x10, 0x03]);
    let mut v = vec![0x32, inner.len() as u8];
    v.extend(inner);
    v
}

#[test]
fn ids() {
    assert_eq!(Rmm::TeamViewer.id(), "teamviewer");
    assert_eq!(Rmm::Radmin.id(), "radmin");
    assert_eq!(Rmm::NoMachine.id(), "nomachine");
    assert_eq!(Rmm::RustDesk.id(), "rustdesk");
}

#[test]
fn teamviewer_positive() {
    assert_eq!(
        probe_tcp(Direction::ToServer, &tv_identify()),
        Some(Rmm::TeamViewer)
    );
    // Self-consistent frame of another command (CMD_PING = 16), 3 body bytes.
    let ping = [0x17, 0x24, 16, 3, 0, 1, 2, 3];
    assert_eq!(probe_tcp(Direction::ToClient, &ping), Some(Rmm::TeamViewer));
    let mut udp = vec![0u8; 11];
    udp.extend_from_slice(&[0x17, 0x24, 0x0a, 0x00, 0x00]);
    assert_eq!(probe_udp(Direction::ToServer, &udp), Some(Rmm::TeamViewer));
}

#[test]
fn teamviewer_negative() {
    // Unknown command byte.
    let mut v = tv_identify();
    v[2] = 0x01;
    assert_eq!(probe_tcp(Direction::ToServer, &v), None);
    // Length disagrees.
    assert_eq!(
        probe_tcp(Direction::ToServer, &[0x17, 0x24, 16, 9, 0, 1]),
        None
    );
}

#[test]
fn teamviewer_http() {
    assert!(teamviewer_http_uri(
        "/din.aspx?s=00000000&id=0&client=DynGate&p=10000001"
    ));
    assert!(teamviewer_http_uri(
        "http://master3.teamviewer.com/dout.aspx?s=1&client=DynGate"
    ));
    assert!(!teamviewer_http_uri("/din.aspx?s=1"));
    assert!(!teamviewer_http_uri("/index.html"));
    assert!(!teamviewer_http_uri("/Collect/DIN.aspx"));
    assert!(!teamviewer_http_uri(""));
}

#[test]
fn radmin() {
    assert_eq!(
        probe_tcp(Direction::ToServer, &radmin_client()),
        Some(Rmm::Radmin)
    );
    assert_eq!(
        probe_tcp(Direction::ToClient, &radmin_server()),
        Some(Rmm::Radmin)
    );
    let mut k = vec![0x01, 0, 0, 0, 0x05, 0, 0, 0, 0x27, 0x27, 0, 0, 0, 0];
    assert_eq!(probe_tcp(Direction::ToClient, &k), Some(Rmm::Radmin));
    k[9] = 0x28;
    assert_eq!(probe_tcp(Direction::ToClient, &k), None);
    // Wrong direction for the client hello.
    assert_eq!(probe_tcp(Direction::ToClient, &radmin_client()), None);
}

#[test]
fn nomachine() {
    assert_eq!(
        probe_tcp(Direction::ToServer, b"NXSH-8.10.1\n"),
        Some(Rmm::NoMachine)
    );
    assert_eq!(
        probe_tcp(Direction::ToClient, b"NXD-8.10.1\n"),
        Some(Rmm::NoMachine)
    );
    assert_eq!(probe_tcp(Direction::ToClient, b"NXD-hello!\n"), None);
    assert_eq!(probe_tcp(Direction::ToClient, b"NXSH-8.10.1.2.3.4\n"), None);
    let mut udp = vec![0u8; 16];
    udp[2] = 1;
    udp[4] = 16;
    assert_eq!(probe_udp(Direction::ToServer, &udp), Some(Rmm::NoMachine));
    udp[4] = 17;
    assert_eq!(probe_udp(Direction::ToServer, &udp), None);
}

#[test]
fn rustdesk() {
    let m = rustdesk_register_peer();
    assert_eq!(probe_udp(Direction::ToServer, &m), Some(Rmm::RustDesk));
    // TCP: one-byte codec header (len << 2, low bits 00).
    let mut t = vec![(m.len() as u8) << 2];
    t.extend_from_slice(&m);
    assert_eq!(probe_tcp(Direction::ToServer, &t), Some(Rmm::RustDesk));
    // PunchHoleRequest { id: "abcdef12", nat_type: 1, conn_type: 0 }
    let mut inner = vec![0x0a, 8];
    inner.extend_from_slice(b"abcdef12");
    inner.extend_from_slice(&[0x10, 0x01, 0x20, 0x00]);
    let mut p = vec![0x42, inner.len() as u8];
    p.extend(inner);
    assert_eq!(probe_udp(Direction::ToServer, &p), Some(Rmm::RustDesk));
    // Trailing junk, bad id characters, unknown field.
    let mut bad = m.clone();
    bad.push(0);
    assert_eq!(probe_udp(Direction::ToServer, &bad), None);
    let mut bad = m.clone();
    bad[4] = b' ';
    assert_eq!(probe_udp(Direction::ToServer, &bad), None);
    let mut bad = m.clone();
    bad[13] = 0x18; // field 3 in RegisterPeer
    assert_eq!(probe_udp(Direction::ToServer, &bad), None);
}

#[test]
fn negatives_never_match() {
    for n in negatives() {
        for d in [Direction::ToServer, Direction::ToClient] {
            assert_eq!(probe_tcp(d, &n), None, "tcp {n:02x?}");
            assert_eq!(probe_udp(d, &n), None, "udp {n:02x?}");
        }
    }
}

#[test]
fn mutations_never_panic() {
    for p in [
        tv_identify(),
        radmin_server(),
        b"NXD-8.10.1\n".to_vec(),
        rustdesk_register_peer(),
    ] {
        for m in super::samples::mutations(&p) {
            for d in [Direction::ToServer, Direction::ToClient] {
                let _ = (probe_tcp(d, &m), probe_udp(d, &m));
            }
            if let Ok(s) = std::str::from_utf8(&m) {
                let _ = teamviewer_http_uri(s);
            }
        }
    }
}

#[test]
fn truncation_never_panics() {
    let positives = [
        tv_identify(),
        radmin_client(),
        radmin_server(),
        b"NXSH-8.10.1\n".to_vec(),
        rustdesk_register_peer(),
    ];
    for p in positives {
        for i in 0..p.len() {
            let pre = &p[..i];
            for d in [Direction::ToServer, Direction::ToClient] {
                // A strict prefix of a length-checked message never matches (the
                // NoMachine banner without its newline is itself a whole banner).
                if !p.starts_with(b"NX") {
                    assert_eq!(probe_tcp(d, pre), None, "prefix {i} of {p:02x?}");
                }
                let _ = probe_tcp(d, pre);
                let _ = probe_udp(d, pre);
            }
        }
    }
}
