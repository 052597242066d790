use super::*;
use crate::proto::ber::garbage;

/// First-level encoding (RFC 1001 §14.1) of a 15-character name and its suffix.
pub(crate) fn encode(n: &str, suffix: u8) -> Vec<u8> {
    let mut raw = [b' '; 16];
    for (i, c) in n.bytes().take(15).enumerate() {
        raw[i] = c;
    }
    raw[15] = suffix;
    let mut out = vec![32u8];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 15));
    }
    out.push(0);
    out
}

/// A name registration request (RFC 1002 §4.2.2), broadcast: question and the NB record in
/// the additional section, pointing back at the question's name.
pub(crate) fn registration(n: &str) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
    m.extend(encode(n, 0x20));
    m.extend([0, 0x20, 0, 1]);
    m.extend([0xc0, 12, 0, 0x20, 0, 1]);
    m.extend(300_000u32.to_be_bytes());
    m.extend([0, 6, 0, 0, 192, 168, 1, 50]);
    m
}

pub(crate) fn nbstat_query() -> Vec<u8> {
    let mut m = vec![0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    let mut wild = vec![32u8];
    let mut raw = [0u8; 16];
    raw[0] = b'*';
    for b in raw {
        wild.push(b'A' + (b >> 4));
        wild.push(b'A' + (b & 15));
    }
    wild.push(0);
    m.extend(wild);
    m.extend([0, 0x21, 0, 1]);
    m
}

/// A node status answer (RFC 1002 §4.2.18) with two names.
pub(crate) fn nbstat_answer(n: &str) -> Vec<u8> {
    let mut m = vec![0, 7, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let q = nbstat_query();
    m.extend(&q[12..q.len() - 4]);
    m.extend([0, 0x21, 0, 1, 0, 0, 0, 0]);
    let mut rd = vec![2u8];
    for (suffix, flags) in [(0u8, [0x04u8, 0]), (0x20, [0x04, 0])] {
        let mut raw = [b' '; 15];
        for (i, c) in n.bytes().take(15).enumerate() {
            raw[i] = c;
        }
        rd.extend(raw);
        rd.push(suffix);
        rd.extend(flags);
    }
    rd.extend([0x52, 0x54, 0, 1, 2, 3]); // unit id, then statistics
    rd.extend([0u8; 40]);
    m.extend((rd.len() as u16).to_be_bytes());
    m.extend(rd);
    m
}

/// A browser host announcement (MS-BRWS §2.2.1) in a NetBIOS broadcast datagram to
/// `WORKGROUP<1d>`, as nmbd sends.
pub(crate) fn host_announcement(server: &str, comment: &str) -> Vec<u8> {
    let mut frame = vec![1u8, 0, 0xc0, 0xd4, 1, 0]; // opcode, update count, periodicity
    let mut sn = [0u8; 16];
    for (i, c) in server.bytes().take(15).enumerate() {
        sn[i] = c;
    }
    frame.extend(sn);
    frame.extend([6, 1]); // OS 6.1
    frame.extend(0x0000_9a03u32.to_le_bytes());
    frame.extend([15, 1, 0x55, 0xaa]);
    frame.extend(comment.as_bytes());
    frame.push(0);
    let mailslot = b"\\MAILSLOT\\BROWSE\0";
    let mut smb = b"\xffSMB\x25".to_vec();
    smb.resize(32, 0);
    smb.push(17); // word count
    let setup_end = 33 + 34;
    let data_off = setup_end + 2 + mailslot.len();
    let mut words = vec![0u8; 34];
    words[2..4].copy_from_slice(&(frame.len() as u16).to_le_bytes());
    words[22..24].copy_from_slice(&(frame.len() as u16).to_le_bytes());
    words[24..26].copy_from_slice(&(data_off as u16).to_le_bytes());
    words[26] = 3;
    smb.extend(&words);
    smb.extend(((mailslot.len() + frame.len()) as u16).to_le_bytes());
    smb.extend(mailslot);
    smb.extend(&frame);
    let mut m = vec![0x11, 0x0a, 0, 1, 192, 168, 1, 50, 0, 138];
    let mut names = encode(server, 0);
    names.extend(encode("WORKGROUP", 0x1d));
    m.extend(((names.len() + smb.len()) as u16).to_be_bytes());
    m.extend([0, 0]);
    m.extend(names);
    m.extend(smb);
    m
}

#[test]
fn first_level_decoding() {
    let e = encode("XSTREAM_HY", 0);
    let n = decode_first_level(&e[1..33]).unwrap();
    assert_eq!(n.name, "XSTREAM_HY");
    assert_eq!(n.tagged(), "XSTREAM_HY<00>");
    assert!(decode_first_level(b"ZZAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_none());
}

#[test]
fn registration_claims_the_name() {
    let m = parse_ns(&registration("PIKVM")).done().unwrap();
    assert_eq!(m.op, "registration");
    assert!(!m.is_response);
    assert_eq!(m.name.as_deref(), Some("pikvm"));
    assert_eq!(m.names, vec!["PIKVM<20>"]);
    assert_eq!(m.claimed, vec!["pikvm"]);
}

#[test]
fn query_claims_nothing() {
    let mut q = registration("FILESRV");
    q[2] = 0x01; // opcode 0, RD
    let m = parse_ns(&q).done().unwrap();
    assert_eq!(m.op, "query");
    assert!(m.claimed.is_empty());
    let m = parse_ns(&nbstat_query()).done().unwrap();
    assert_eq!(m.name.as_deref(), Some("*"));
}

#[test]
fn node_status_answer_lists_the_names() {
    let m = parse_ns(&nbstat_answer("TINYPILOT")).done().unwrap();
    assert!(m.is_response);
    assert_eq!(m.names, vec!["*<00>", "TINYPILOT<00>", "TINYPILOT<20>"]);
    assert_eq!(m.claimed, vec!["tinypilot"]);
}

#[test]
fn browser_announcement() {
    let m = parse_dgm(&host_announcement("JETKVM", "Samba 4.17"))
        .done()
        .unwrap();
    assert_eq!(m.op, "direct_group");
    assert_eq!(m.names, vec!["JETKVM<00>", "WORKGROUP<1d>"]);
    assert_eq!(m.claimed, vec!["jetkvm"]);
    let b = m.browser.unwrap();
    assert_eq!(b.command, "host_announcement");
    assert_eq!(b.server_name, "JETKVM");
    assert_eq!(b.os_version, "6.1");
    assert_eq!(b.comment, "Samba 4.17");
}

#[test]
fn split_at_every_byte_is_never_done() {
    for (msg, ns) in [
        (registration("PIKVM"), true),
        (nbstat_answer("TINYPILOT"), true),
        (host_announcement("JETKVM", "x"), false),
    ] {
        let p = |b: &[u8]| if ns { parse_ns(b) } else { parse_dgm(b) };
        // the datagram header and names are needed; the user data may be cut
        let need = if ns { msg.len() } else { 14 + 68 };
        for cut in 0..need {
            assert!(
                !matches!(p(&msg[..cut]), Parsed::Done { .. }),
                "cut at {cut} of {} parsed",
                msg.len()
            );
        }
        assert!(matches!(p(&msg), Parsed::Done { .. }));
    }
}

#[test]
fn pointer_chains_do_not_recurse() {
    let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 3, 0, 0, 0, 0];
    m.extend([0xc0, 12, 0, 0x20, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend([0xc0, 14, 0, 0x20, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(parse_ns(&m), Parsed::Malformed(_)));
}

#[test]
fn never_panics_on_garbage() {
    garbage(&registration("PIKVM"), 3000, |b| {
        let _ = parse_ns(b);
        let _ = parse_dgm(b);
    });
    garbage(&nbstat_answer("X"), 3000, |b| {
        let _ = parse_ns(b);
    });
    garbage(&host_announcement("JETKVM", "c"), 3000, |b| {
        let _ = parse_dgm(b);
    });
}
