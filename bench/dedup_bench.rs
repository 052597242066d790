//! Per-alert cost of the output stage's alert deduplication as the number of distinct alert
//! identities grows (run by bench/dedup.sh).
//!
//! usage: dedup_bench [N ...]   (default 10000 100000 300000 1000000)
//!
//! For each N, a fresh output stage (no EVE file, default host stage, suppression 3600 s) is
//! fed N alerts with N distinct identities, 1 µs of packet time apart, so every identity is
//! still inside its suppression window: the worst case for the table, which can never drop
//! anything. Alerts are built in chunks outside the timed part; only `Output::handle` is timed.
//! Each N runs three times and the run with the least CPU time is reported.
//! Prints one line per N: wall and CPU time of the timed part, and CPU nanoseconds per alert
//! (the thread's CPU time leaves out time spent waiting for a core on a loaded machine).

use spanwatch::output::eve::{alert_from_tuple, AlertRecord, Finding, Tuple};
use spanwatch::output::{Event, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: u64 = 1_700_000_000_000_000_000;

fn alert(i: u64) -> AlertRecord {
    // 10.0.0.5 to one of 131072 addresses in 198.18.0.0/15 (RFC 2544), ports from 1024 up.
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[10, 0, 0, 5]);
    let mut dst = [0u8; 16];
    dst[..4].copy_from_slice(&(0xC612_0000u32 + (i as u32 & 0x1_ffff)).to_be_bytes());
    let port = 1024 + (i >> 17) as u16;
    let t = Tuple::from_parts(false, &src, 40000, &dst, port, 6);
    let dedup = format!("{}|{}|{}|", t.src_ip, t.dest_ip, t.dest_port);
    alert_from_tuple(
        t,
        i,
        T0 + i * 1000,
        "unknown",
        "outbound",
        dedup,
        Finding {
            signature_id: 9_900_001,
            signature: "SPANWATCH bench: distinct alert".into(),
            category: "tunnel",
            severity: 3,
            app: None,
            metadata: Default::default(),
        },
    )
}

/// CPU time of this thread: time spent waiting for a core on a loaded machine is left out.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn run(n: u64) -> (Duration, Duration) {
    let cfg = spanwatch::config::Config::default();
    let home = Arc::new(cfg.home_net());
    let tel = spanwatch::telemetry::Telemetry::new(1, "replay");
    let host = spanwatch::host::HostStage::with_defaults(home);
    let mut out = Output::new(None, tel, 3600, 60, host);
    let mut total = Duration::ZERO;
    let mut cpu = Duration::ZERO;
    let chunk = 10_000u64;
    let mut i = 0;
    while i < n {
        let end = (i + chunk).min(n);
        let evs: Vec<Event> = (i..end).map(|j| Event::Alert(Box::new(alert(j)))).collect();
        let (t, c) = (Instant::now(), cpu_now());
        for ev in evs {
            out.handle(ev);
        }
        total += t.elapsed();
        cpu += cpu_now() - c;
        i = end;
    }
    assert_eq!(out.summary.alerts_total, n, "every alert is distinct");
    (total, cpu)
}

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("sizes are whole numbers"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 300_000, 1_000_000]
    } else {
        sizes
    };
    println!("| distinct alerts | wall time (s) | CPU time (s) | CPU ns per alert |");
    println!("|---:|---:|---:|---:|");
    for n in sizes {
        // The best of three runs: the machine's other load only ever adds time.
        let (total, cpu) = (0..3)
            .map(|_| run(n))
            .min_by_key(|r| r.1)
            .expect("three runs");
        println!(
            "| {n} | {:.3} | {:.3} | {:.0} |",
            total.as_secs_f64(),
            cpu.as_secs_f64(),
            cpu.as_nanos() as f64 / n as f64
        );
    }
}
