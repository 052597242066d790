//! Community ID v1 (corelight/community-id-spec): a flow hash that other tools (Zeek,
//! Suricata, Arkime) compute identically, so records can be joined across them.

use base64::Engine;
use sha1::{Digest, Sha1};

// IP protocol numbers (IANA): ICMP and ICMPv6.
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;

/// ICMP/ICMPv6 types that have a counterpart, and that counterpart (the spec's mapping).
pub fn icmp_counterpart(v6: bool, t: u8) -> Option<u8> {
    if v6 {
        match t {
            128 => Some(129),
            129 => Some(128),
            130 => Some(131),
            131 => Some(130),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            _ => None,
        }
    } else {
        match t {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            10 => Some(9),
            9 => Some(10),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    }
}

/// The Community ID string `1:<base64 sha1>` of a flow seen from `src` to `dst`.
/// For ICMP, `sport`/`dport` are the message type and code.
pub fn community_id(
    seed: u16,
    v6: bool,
    src: &[u8; 16],
    dst: &[u8; 16],
    proto: u8,
    sport: u16,
    dport: u16,
) -> String {
    let alen = if v6 { 16 } else { 4 };
    let (mut a, mut b) = (&src[..alen], &dst[..alen]);
    let (mut pa, mut pb) = (sport, dport);
    let mut one_way = false;
    if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        let t = sport as u8;
        match icmp_counterpart(proto == PROTO_ICMPV6, t) {
            Some(c) => {
                pa = t as u16;
                pb = c as u16;
            }
            None => one_way = true,
        }
    }
    if !one_way && (a, pa) > (b, pb) {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut pa, &mut pb);
    }
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(a);
    h.update(b);
    h.update([proto, 0]);
    // Ports (or ICMP type/code equivalents) only for the protocols that have them.
    if matches!(proto, 6 | 17 | 132 | PROTO_ICMP | PROTO_ICMPV6) {
        h.update(pa.to_be_bytes());
        h.update(pb.to_be_bytes());
    }
    // 2 + 28 bytes, one allocation (no format!: this runs for every flow record)
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(h.finalize(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    // Vectors from the community-id-spec README and baseline/.
    #[test]
    fn spec_vectors() {
        let (s, d) = (v4([1, 2, 3, 4]), v4([5, 6, 7, 8]));
        assert_eq!(
            community_id(0, false, &s, &d, 6, 1122, 3344),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            community_id(0, false, &d, &s, 6, 3344, 1122),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            community_id(0, false, &s, &d, 17, 1122, 3344),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
        );
        assert_eq!(
            community_id(0, false, &s, &d, 1, 8, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
        // the echo reply maps to the same flow
        assert_eq!(
            community_id(0, false, &d, &s, 1, 0, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
    }

    fn ip(s: &str) -> (bool, [u8; 16]) {
        match s.parse::<std::net::IpAddr>().unwrap() {
            std::net::IpAddr::V4(a) => (false, v4(a.octets())),
            std::net::IpAddr::V6(a) => (true, a.octets()),
        }
    }

    /// community-id-spec baseline/baseline_seed1.json (seed 1), including both directions,
    /// ICMP with and without a counterpart type, ICMPv6, SCTP and a portless protocol.
    #[test]
    fn baseline_seed1_vectors() {
        let cases = [
            (
                1,
                "192.168.0.89",
                "192.168.0.1",
                8,
                0,
                "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
            ),
            (
                1,
                "192.168.0.1",
                "192.168.0.89",
                0,
                8,
                "1:03g6IloqVBdcZlPyX8r0hgoE7kA=",
            ),
            (
                1,
                "10.0.0.1",
                "10.0.0.2",
                11,
                0,
                "1:XjUibYHaafLQ3pxQeiMI8g25q20=",
            ),
            (
                6,
                "128.232.110.120",
                "66.35.250.204",
                34855,
                80,
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                6,
                "66.35.250.204",
                "128.232.110.120",
                80,
                34855,
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                17,
                "192.168.1.52",
                "8.8.8.8",
                54585,
                53,
                "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
            ),
            (
                132,
                "192.168.170.8",
                "192.168.170.56",
                7,
                7,
                "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=",
            ),
            (
                46,
                "10.1.12.1",
                "10.1.12.2",
                0,
                0,
                "1:rYir8gphR31noO9iDRQmF/BteEI=",
            ),
            (
                46,
                "10.1.12.2",
                "10.1.12.1",
                0,
                0,
                "1:rYir8gphR31noO9iDRQmF/BteEI=",
            ),
            (
                58,
                "fe80::200:86ff:fe05:80da",
                "fe80::260:97ff:fe07:69ea",
                135,
                0,
                "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
            ),
            (
                58,
                "fe80::260:97ff:fe07:69ea",
                "fe80::200:86ff:fe05:80da",
                136,
                0,
                "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=",
            ),
            (
                58,
                "3ffe:501:1800:2345::2",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                3,
                0,
                "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=",
            ),
            (
                58,
                "3ffe:507:0:1:200:86ff:fe05:80da",
                "3ffe:501:0:1001::2",
                128,
                0,
                "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=",
            ),
            (
                6,
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                "2607:f8b0:400c:c03::1a",
                63943,
                25,
                "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
            ),
        ];
        for (proto, s, d, sp, dp, want) in cases {
            let ((v6, sa), (_, da)) = (ip(s), ip(d));
            assert_eq!(
                community_id(1, v6, &sa, &da, proto, sp, dp),
                want,
                "{proto} {s} {d}"
            );
        }
    }
}
