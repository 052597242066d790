//! The call-media probes that only the fuzz targets reached before, now wired into UDP
//! identification (detect/identify.rs): Zoom's media encapsulation names the product on any
//! port, and TURN ChannelData (two datagrams on one channel) makes a flow `stun`. Captures
//! generated here (testkit); their look-alikes stay unnamed.

mod common;
use common::*;
use serde_json::Value;
use spanwatch_testkit::*;

const T0: u64 = 1_700_000_000;

fn udp_flow(recs: &[Value], port: u16) -> &Value {
    flows(recs)
        .into_iter()
        .find(|f| f["dest_port"] == port)
        .expect("the flow")
}

/// Zoom's SFU encapsulation (8 bytes: type 5, sequence, four bytes, direction) around a
/// media header of type 15 (audio) with RTP 19 bytes in.
fn zoom_sfu(seq: u16, dir: u8) -> Vec<u8> {
    let mut v = vec![0x05];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, dir, 15]);
    v.extend_from_slice(&[0; 18]);
    v.extend(rtp(112, seq, seq as u32 * 960, 0x1234_5678, 80));
    v
}

#[test]
fn zoom_media_is_named_on_any_port() {
    let mut sc = Scene::new(T0);
    let (c, s) = ((v4("10.1.0.5"), 50555), (v4("198.51.100.20"), 40123));
    for i in 0..6 {
        sc.udp(c, s, &zoom_sfu(i, 0));
        sc.udp(s, c, &zoom_sfu(i, 4));
    }
    // the same bytes with a direction Zoom does not use are not Zoom's
    let (c2, s2) = ((v4("10.1.0.6"), 50556), (v4("198.51.100.21"), 40124));
    for i in 0..6 {
        let mut p = zoom_sfu(i, 2);
        p[7] = 2;
        sc.udp(c2, s2, &p);
    }
    let recs = replay_checked(sc.bytes(), &[]);
    let f = udp_flow(&recs, 40123);
    assert_eq!(f["app"], "zoom", "{f:#}");
    assert!(udp_flow(&recs, 40124).get("app").is_none());
}

/// TURN ChannelData (RFC 8656 §12.4): channel number, length, data (padded to 4 over UDP).
fn channel_data(ch: u16, n: usize, seed: u64) -> Vec<u8> {
    let mut v = ch.to_be_bytes().to_vec();
    v.extend_from_slice(&(n as u16).to_be_bytes());
    v.extend(noise(n, seed));
    v
}

#[test]
fn turn_channel_data_is_stun() {
    let mut sc = Scene::new(T0);
    let (c, s) = ((v4("10.1.0.5"), 50555), (v4("198.51.100.30"), 3478));
    for i in 0..4 {
        sc.udp(c, s, &channel_data(0x4001, 172, i));
        sc.udp(s, c, &channel_data(0x4001, 172, 100 + i));
    }
    // datagrams that each happen to have the shape, never on the same channel: not TURN
    let (c2, s2) = ((v4("10.1.0.6"), 50556), (v4("198.51.100.31"), 3479));
    for i in 0..4 {
        sc.udp(c2, s2, &channel_data(0x4002 + 0x0101 * i as u16, 60, 7 + i));
    }
    let recs = replay_checked(sc.bytes(), &[]);
    let f = udp_flow(&recs, 3478);
    assert_eq!(f["app_proto"], "stun", "{f:#}");
    assert_eq!(udp_flow(&recs, 3479)["app_proto"], "unknown");
}
