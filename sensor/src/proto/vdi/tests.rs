use super::*;
use crate::proto::rmm::samples::negatives;

#[test]
fn positives() {
    assert_eq!(probe_citrix(b"\x7f\x7fICA\x00"), Some(Citrix::Ica));
    assert_eq!(
        probe_citrix(b"\x7f\x7fICA\x00\x7f\x7fICA\x00"),
        Some(Citrix::Ica)
    );
    assert_eq!(probe_citrix(b"\x07\x07ICA\x00"), Some(Citrix::Ica));
    assert_eq!(probe_citrix(b"\x1aCGP/01\x00\x00\x01"), Some(Citrix::Cgp));
    assert_eq!(probe_tcp(b"\x1aCGP/01"), Some(Vdi::Citrix(Citrix::Cgp)));
    assert_eq!(Vdi::Citrix(Citrix::Ica).id(), "citrix");
}

#[test]
fn near_misses() {
    assert_eq!(probe_citrix(b"\x7f\x7fICA\x01"), None);
    assert_eq!(probe_citrix(b"\x7f\x7fICA\x00junk"), None);
    assert_eq!(probe_citrix(b"\x1aCGP/02"), None);
}

#[test]
fn negatives_never_match() {
    for n in negatives() {
        assert_eq!(probe_tcp(&n), None, "{n:02x?}");
    }
}

#[test]
fn truncation() {
    for p in [&b"\x7f\x7fICA\x00"[..], &b"\x1aCGP/01"[..]] {
        for i in 0..p.len() {
            assert_eq!(probe_citrix(&p[..i]), None);
        }
    }
}
