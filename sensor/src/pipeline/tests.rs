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
