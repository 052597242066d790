//! `replay` and `demo`: replay capture files (or the capture built into the binary), write
//! the metrics file and print the summary.

use spanwatch::config::Config;
use spanwatch::detect::Shared;
use spanwatch::output::Summary;
use spanwatch::pipeline::{self, Sensor, Source};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `spanwatch replay FILE…`.
pub fn replay(cfg: Config, shared: Arc<Shared>, files: Vec<PathBuf>, quiet: bool) -> ExitCode {
    let sensor = Sensor::new(cfg, "replay", shared);
    let sources: Vec<Source> = files.into_iter().map(Source::File).collect();
    run_replay(&sensor, &sources, quiet)
}

/// The demo capture: made by the dev-only testkit crate (testkit/src/demo.rs;
/// tests/demo_capture.rs checks this copy against it).
static DEMO_PCAP: &[u8] = include_bytes!("../assets/demo.pcap");

/// `spanwatch demo`: the capture built into the binary, with a banner and the summary.
pub fn demo(cfg: Config, shared: Arc<Shared>) -> ExitCode {
    let sensor = Sensor::new(cfg, "replay", shared);
    let banner = "spanwatch demo: replaying the built-in capture (an office network with remote access, tunnels and uploads)\n";
    if sensor.cfg.output.eve.as_deref() == Some("-") {
        eprintln!("{banner}");
    } else {
        println!("{banner}");
    }
    run_replay(&sensor, &[Source::Builtin("demo.pcap", DEMO_PCAP)], false)
}

pub fn write_metrics_file(sensor: &Sensor) -> Result<(), String> {
    if let Some(p) = &sensor.cfg.output.metrics_file {
        // Write then rename, so a textfile collector never reads half a file.
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, sensor.tel.render())
            .and_then(|_| std::fs::rename(&tmp, p))
            .map_err(|e| format!("{}: cannot write metrics: {e}", p.display()))?;
    }
    Ok(())
}

fn run_replay(sensor: &Sensor, sources: &[Source], quiet: bool) -> ExitCode {
    let outcome = match pipeline::replay(sensor, sources) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(1);
        }
    };
    let mut status = ExitCode::SUCCESS;
    for e in &outcome.file_errors {
        eprintln!("spanwatch: {e}");
        status = ExitCode::from(1);
    }
    if let Err(e) = write_metrics_file(sensor) {
        eprintln!("spanwatch: {e}");
        status = ExitCode::from(1);
    }
    if !quiet {
        let to_stdout = sensor.cfg.output.eve.as_deref() == Some("-");
        let text = summary_text(sensor, &outcome.summary, outcome.packets, outcome.elapsed);
        if to_stdout {
            eprint!("{text}");
        } else {
            print!("{text}");
            let _ = std::io::stdout().flush();
        }
    }
    status
}

pub fn summary_text(
    sensor: &Sensor,
    s: &Summary,
    packets: u64,
    elapsed: std::time::Duration,
) -> String {
    use std::fmt::Write as _;
    let c = &sensor.tel.capture;
    let mut t = String::new();
    let span = match s.first_ns {
        Some(f) => format!(
            "{} → {}",
            spanwatch::output::eve::timestamp(f),
            spanwatch::output::eve::timestamp(s.last_ns)
        ),
        None => "no packets".into(),
    };
    let _ = writeln!(
        t,
        "── spanwatch summary ─────────────────────────────────────────"
    );
    let _ = writeln!(t, "capture time   {span}");
    let _ = writeln!(
        t,
        "packets        {packets} ({} bytes on the wire) in {:.2}s, {:.0} packets/s",
        c.bytes.get(),
        elapsed.as_secs_f64(),
        packets as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    let errs: u64 = c.decode_errors.iter().map(|x| x.get()).sum();
    let _ = writeln!(
        t,
        "not decoded    {errs} errors, {} non-IP frames, {} IP fragments",
        c.non_ip.get(),
        c.fragments.get()
    );
    let _ = writeln!(t, "flows          {}", s.flows);
    let mut protos: Vec<_> = s.by_app_proto.iter().collect();
    protos.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let line: Vec<String> = protos.iter().map(|(p, n)| format!("{p} {n}")).collect();
    let _ = writeln!(t, "  by protocol  {}", line.join(", "));
    if !s.by_app.is_empty() {
        let line: Vec<String> = s.by_app.iter().map(|(p, n)| format!("{p} {n}")).collect();
        let _ = writeln!(t, "  by app       {}", line.join(", "));
    }
    let _ = writeln!(t, "alerts         {}", s.alerts_total);
    for a in &s.alerts {
        let _ = writeln!(
            t,
            "  [{}] sev {} {:<14} {} → {} ({}) {}",
            &a.timestamp[..19],
            a.severity,
            a.category,
            a.src,
            a.dest,
            a.direction,
            a.signature
        );
    }
    if s.alerts_total as usize > s.alerts.len() {
        let _ = writeln!(
            t,
            "  … and {} more (see the EVE output)",
            s.alerts_total as usize - s.alerts.len()
        );
    }
    t
}
