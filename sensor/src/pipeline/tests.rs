//! Unit tests of the pipeline: live ticks, the live output loop and the live clock.

use super::worker::EventSink;
use super::*;
use crate::capture::LinkType;
use crate::decode::{decode, Decoded};
use crate::flow::FlowKey;
use crate::output::Event;
use crossbeam_channel::bounded;

use spanwatch_testkit::{ether, ip, udp, v4};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

fn sensor(cfg: Config) -> Sensor {
    let shared = Arc::new(crate::detect::Shared::load(None).unwrap());
    Sensor::new(cfg, "live", shared)
}

#[test]
fn a_live_worker_writes_an_idle_flow_out_on_a_tick_with_no_packet() {
    let s = sensor(Config::default());
    let (tx, rx) = bounded::<Vec<Event>>(16);
    let mut w = s.make_worker(0, EventSink::new(tx, false), Some(250 * MS));
    let frame = ether(
        0x0800,
        &ip(v4("10.0.0.1"), v4("10.0.0.2"), 17, &udp(5000, 6000, b"hi")),
    );
    let Decoded::Ip(info) = decode(LinkType::Ethernet, &frame) else {
        panic!("not decoded")
    };
    let t0 = 1_700_000_000 * S;
    let (key, fwd) = FlowKey::of(&info);
    w.packet(t0, frame.len() as u32, &frame, &info, &key, fwd);
    w.tick(t0 + 250 * MS);
    assert!(rx.try_recv().is_err(), "nothing to say yet");
    // the UDP timeout (180 s) passes with no packet: the tick alone writes the flow out
    w.tick(t0 + 180 * S + 300 * MS);
    let batch = rx
        .try_recv()
        .expect("the flow record, handed over on the tick");
    assert!(matches!(&batch[..], [Event::Flow(r)] if r.flow.reason == "timeout"));
}

#[test]
fn live_output_writes_records_out_within_a_tick_and_reopens_on_request() {
    let dir = std::env::temp_dir().join(format!("spanwatch-live-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("eve.json");
    let _ = std::fs::remove_file(&p);
    let mut cfg = Config::default();
    cfg.output.eve = Some(p.display().to_string());
    cfg.output.stats_interval_s = 1;
    let s = sensor(cfg);
    let tick = std::time::Duration::from_millis(50);
    let (tx, out) = s.start_output(false, Some(tick)).unwrap();
    let t0 = 1_700_000_000 * S;
    tx.send(vec![Event::Tick(t0), Event::Tick(t0 + S)]).unwrap();
    let has = |p: &std::path::Path, what: &str| {
        std::fs::read_to_string(p).is_ok_and(|t| t.contains(what) && t.ends_with('\n'))
    };
    let wait = |f: &dyn Fn() -> bool| {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(1) {
            if f() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    };
    // the channel stays open, nothing more comes: the stats record is on disk anyway
    assert!(wait(&|| has(&p, "\"event_type\":\"stats\"")));
    // logrotate: the file moved away, then SIGHUP
    let rotated = dir.join("eve.json.1");
    std::fs::rename(&p, &rotated).unwrap();
    s.reopen_eve();
    assert!(
        wait(&|| p.exists()),
        "the EVE file opened again by its name"
    );
    tx.send(vec![Event::Tick(t0 + 2 * S)]).unwrap();
    assert!(wait(&|| has(&p, "\"event_type\":\"stats\"")));
    drop(tx);
    out.join().unwrap();
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap().lines().count(),
        1,
        "the rotated file keeps what it had"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quiet_link_moves_the_clock_by_wall_time_less_the_lag() {
    let mut c = LiveClock::new(LiveClock::lag_for(false, 100));
    assert_eq!(LiveClock::lag_for(false, 100), 250 * MS);
    assert_eq!(LiveClock::lag_for(true, 100), 50 * MS);
    c.packet(1_000 * MS);
    assert_eq!(c.tick(), 1_000 * MS);
    // nothing more arrives; the buffer is found empty later on
    c.drained(5_000 * MS);
    assert_eq!(c.tick(), 4_750 * MS);
    c.drained(5_250 * MS);
    assert_eq!(c.tick(), 5_000 * MS);
}

#[test]
fn under_load_the_clock_is_packet_time_and_never_goes_back() {
    let mut c = LiveClock::new(250 * MS);
    c.drained(10_000 * MS);
    assert_eq!(c.tick(), 9_750 * MS);
    // a late packet (it sat in the buffer) and a wall clock stepped back: no going back
    c.packet(9_700 * MS);
    c.drained(2_000 * MS);
    assert_eq!(c.tick(), 9_750 * MS);
    c.packet(12_000 * MS);
    assert_eq!(c.tick(), 12_000 * MS);
}

/// Every packet `raw_shard` hashes must decode to the same flow key (the same hash), as IP, with nothing for
/// the capture counters (no encapsulation, no fragment): the worker decodes it, and the
/// counters have one writer. Checked on the recorded fixtures, the demo capture, the
/// captures under `$SPANWATCH_RAWKEY_DIR` when set, and edge cases made here.
#[test]
fn raw_shards_agree_with_decode() {
    use super::dispatch::raw_shard;
    use crate::capture::file::CaptureFile;
    fn check(data: &[u8], keyed: &mut usize) {
        let Some(h) = raw_shard(data) else {
            return;
        };
        *keyed += 1;
        let Decoded::Ip(info) = decode(LinkType::Ethernet, data) else {
            panic!("raw key but no IP: {data:02x?}");
        };
        assert!(info.encap.is_empty() && !info.fragment, "{data:02x?}");
        assert_eq!(h, FlowKey::of(&info).0.shard_hash(), "{data:02x?}");
    }
    let files = crate::capture::test_captures();
    let mut keyed = 0;
    for f in &files {
        let Ok(mut cf) = CaptureFile::open(f) else {
            continue;
        };
        while let Some(p) = cf.next() {
            if p.linktype == LinkType::Ethernet {
                check(p.data, &mut keyed);
            }
        }
    }
    assert!(keyed > 1000, "only {keyed} packets keyed raw");
    // Edge cases: options, truncation, fragments, bad offsets, a VLAN tag, IPv6.
    let seg = |off: u8| {
        let mut t = vec![0u8; 24];
        t[..4].copy_from_slice(&[0x9c, 0x40, 0x01, 0xbb]);
        t[12] = off << 4;
        t[13] = 0x02;
        t
    };
    let v4frame = |t: &[u8]| ether(0x0800, &ip(v4("10.0.0.1"), v4("10.0.0.2"), 6, t));
    let base = v4frame(&seg(5));
    assert!(raw_shard(&base).is_some());
    let mut n = 0;
    for cut in 0..base.len() {
        check(&base[..cut], &mut n);
    }
    for off in [0u8, 4, 6, 15] {
        check(&v4frame(&seg(off)), &mut n);
    }
    for (at, v) in [
        (14, 0x46u8),
        (14, 0x44),
        (14, 0x55),
        (20, 0x20),
        (20, 0x40),
        (21, 1),
        (23, 17),
    ] {
        let mut f = base.clone();
        f[at] = v;
        check(&f, &mut n);
    }
    for tl in [0u16, 20, 39, 40, 44, 1500] {
        let mut f = base.clone();
        f[16..18].copy_from_slice(&tl.to_be_bytes());
        check(&f, &mut n);
    }
    let mut vlan = base[..12].to_vec();
    vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    vlan.extend_from_slice(&base[12..]);
    assert!(raw_shard(&vlan).is_none());
    let mut v6 = base[..12].to_vec();
    v6.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 24, 6, 64]);
    v6.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&seg(5));
    assert!(raw_shard(&v6).is_some());
    for cut in 0..v6.len() {
        check(&v6[..cut], &mut n);
    }
    for (at, v) in [(20usize, 0u8), (19, 19), (19, 200), (14, 0x40), (20, 17)] {
        let mut f = v6.clone();
        f[at] = v;
        check(&f, &mut n);
    }
    check(&v6, &mut n);
}
