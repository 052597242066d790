use super::*;
use crate::proto::ber::garbage;

fn name(out: &mut Vec<u8>, n: &str) {
    for l in n.split('.') {
        out.push(l.len() as u8);
        out.extend(l.as_bytes());
    }
    out.push(0);
}

fn rr(out: &mut Vec<u8>, owner: &str, t: u16, rdata: &[u8]) {
    name(out, owner);
    out.extend(t.to_be_bytes());
    out.extend([0x80, 1]); // cache-flush, IN
    out.extend(120u32.to_be_bytes());
    out.extend((rdata.len() as u16).to_be_bytes());
    out.extend(rdata);
}

/// A DNS-SD announcement (RFC 6763 §4-§6) of a web UI: PTR, SRV, TXT, and the A record in
/// the additional section.
pub(crate) fn announcement(instance: &str, service: &str, host: &str) -> Vec<u8> {
    let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 3, 0, 0, 0, 1];
    let mut ptr = Vec::new();
    name(&mut ptr, &format!("{instance}.{service}.local"));
    rr(&mut m, &format!("{service}.local"), 12, &ptr);
    let mut srv = vec![0, 0, 0, 0, 1, 0xbb];
    name(&mut srv, &format!("{host}.local"));
    rr(&mut m, &format!("{instance}.{service}.local"), 33, &srv);
    rr(
        &mut m,
        &format!("{instance}.{service}.local"),
        16,
        b"\x0apath=/kvm/",
    );
    rr(&mut m, &format!("{host}.local"), 1, &[192, 168, 1, 50]);
    m
}

pub(crate) fn query(n: &str) -> Vec<u8> {
    let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    name(&mut m, n);
    m.extend([0, 12, 0, 1]);
    m
}

#[test]
fn announcement_names_the_device() {
    let m = parse(&announcement("PiKVM", "_https._tcp", "pikvm"))
        .done()
        .unwrap();
    assert!(m.is_response);
    assert_eq!(m.hostnames, vec!["pikvm"]);
    assert_eq!(m.instances, vec!["PiKVM._https._tcp.local"]);
    assert_eq!(m.services, vec!["_https._tcp"]);
    assert!(m.queries.is_empty());
}

#[test]
fn query_names_what_it_asks() {
    let m = parse(&query("_spotify-connect._tcp.local")).done().unwrap();
    assert!(!m.is_response);
    assert_eq!(m.queries, vec!["_spotify-connect._tcp.local"]);
    assert!(m.hostnames.is_empty());
}

#[test]
fn browse_answer_lists_services() {
    let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let mut t = Vec::new();
    name(&mut t, "_workstation._tcp.local");
    rr(&mut m, "_services._dns-sd._udp.local", 12, &t);
    let m = parse(&m).done().unwrap();
    assert_eq!(m.services, vec!["_workstation._tcp"]);
    assert!(m.instances.is_empty());
}

#[test]
fn split_at_every_byte_is_never_done() {
    for msg in [
        announcement("JetKVM", "_http._tcp", "jetkvm"),
        query("pikvm.local"),
    ] {
        for cut in 0..msg.len() {
            assert!(
                !matches!(parse(&msg[..cut]), Parsed::Done { .. }),
                "a message cut at {cut} of {} parsed",
                msg.len()
            );
        }
        assert!(matches!(parse(&msg), Parsed::Done { .. }));
    }
}

#[test]
fn other_opcodes_are_malformed() {
    let mut m = query("x.local");
    m[2] = 0x28; // opcode 5 (UPDATE)
    assert!(matches!(parse(&m), Parsed::Malformed(_)));
}

#[test]
fn lists_are_capped() {
    let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 40, 0, 0, 0, 0];
    for i in 0..40 {
        rr(&mut m, &format!("host{i}.local"), 1, &[10, 0, 0, i as u8]);
    }
    let m = parse(&m).done().unwrap();
    assert_eq!(m.hostnames.len(), MAX_NAMES);
}

#[test]
fn never_panics_on_garbage() {
    garbage(
        &announcement("Living Room", "_airplay._tcp", "tv"),
        5000,
        |b| {
            let _ = parse(b);
        },
    );
}
