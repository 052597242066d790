//! The `spanwatch` command: the only place that prints errors for humans.

use clap::{Args, Parser, Subcommand};
use spanwatch::capture::live::LiveOptions;
use spanwatch::config::{Config, HomeNet};
use spanwatch::control::{self, Health};
use spanwatch::output::Summary;
use spanwatch::pipeline::{self, Sensor, Source};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "spanwatch",
    version,
    about = "Passive network sensor: remote control, tunnels and data leaving, as EVE JSON and Prometheus metrics"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Common {
    /// TOML configuration file (flags override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write EVE JSON lines to FILE, or "-" for standard output.
    #[arg(long, global = true, value_name = "FILE|-")]
    eve: Option<String>,
    /// Write the final metrics in Prometheus text format (node_exporter textfile convention).
    #[arg(long, global = true, value_name = "FILE")]
    metrics_file: Option<PathBuf>,
    /// Internal networks, comma-separated CIDRs (default: RFC 1918 and fc00::/7).
    #[arg(long, global = true, value_name = "CIDR[,CIDR...]")]
    home_net: Option<String>,
    /// Worker threads; packets are sharded to them by a symmetric flow hash.
    #[arg(long, global = true, value_name = "N")]
    workers: Option<usize>,
    /// Folder of rule files (default: the catalogue built into the binary).
    #[arg(long, global = true, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Print no summary on the terminal.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Capture live from an interface, serving /metrics and /healthz until SIGINT/SIGTERM.
    Run {
        #[arg(long, short)]
        interface: Option<String>,
        /// BPF capture filter.
        #[arg(long)]
        bpf: Option<String>,
        /// Address for /metrics and /healthz (default 127.0.0.1:9617).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
    },
    /// Read pcap or pcapng files; packet time is the clock. Ends with a summary.
    Replay {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Replay the small capture built into the binary and print what was found.
    Demo,
    /// Check or list the detection rules catalogue.
    Rules {
        #[command(subcommand)]
        cmd: RulesCmd,
    },
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Validate every rule file in DIR; each error as file:line:col: message.
    Check { dir: PathBuf },
    /// Print the catalogue (the built-in one, or --rules DIR).
    List,
}

/// The demo capture: made by this project's own generator (see tests/demo_capture.rs).
static DEMO_PCAP: &[u8] = include_bytes!("../assets/demo.pcap");

fn load_config(c: &Common) -> Result<Config, String> {
    let mut cfg = match &c.config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(e) = &c.eve {
        cfg.output.eve = Some(e.clone());
    }
    if let Some(m) = &c.metrics_file {
        cfg.output.metrics_file = Some(m.clone());
    }
    if let Some(h) = &c.home_net {
        let nets: Vec<String> = h
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        HomeNet::parse(&nets).map_err(|e| format!("--home-net: {e}"))?;
        cfg.sensor.home_net = nets;
    }
    if let Some(w) = c.workers {
        cfg.sensor.workers = w;
    }
    if let Some(r) = &c.rules {
        cfg.rules.dir = Some(r.clone());
    }
    cfg.validate().map_err(|e| format!("configuration: {e}"))?;
    Ok(cfg)
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPANWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        let _ = b.json().try_init();
    } else {
        let _ = b.try_init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Rules { cmd } = &cli.cmd {
        return match cmd {
            RulesCmd::Check { dir } => {
                let (text, ok) = spanwatch::rules::check_report(dir);
                if ok {
                    print!("{text}");
                    ExitCode::SUCCESS
                } else {
                    eprint!("{text}");
                    ExitCode::from(2)
                }
            }
            RulesCmd::List => match &cli.common.rules {
                Some(dir) => match spanwatch::rules::Catalogue::load_dir(dir) {
                    Ok(c) => {
                        print!("{}", spanwatch::rules::list_report(&c));
                        ExitCode::SUCCESS
                    }
                    Err(errs) => {
                        for e in errs {
                            eprintln!("{e}");
                        }
                        ExitCode::from(2)
                    }
                },
                None => {
                    print!(
                        "{}",
                        spanwatch::rules::list_report(&spanwatch::rules::Catalogue::builtin())
                    );
                    ExitCode::SUCCESS
                }
            },
        };
    }
    let cfg = match load_config(&cli.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(cfg.output.log_format == "json");
    let shared = match spanwatch::detect::Shared::load(cfg.rules.dir.as_deref()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.cmd {
        Cmd::Replay { files } => {
            let sensor = Sensor::new(cfg, "replay", shared);
            let sources: Vec<Source> = files.into_iter().map(Source::File).collect();
            run_replay(&sensor, &sources, cli.common.quiet)
        }
        Cmd::Demo => {
            let sensor = Sensor::new(cfg, "replay", shared);
            let banner = "spanwatch demo: replaying the built-in capture (an office network with remote access, tunnels and uploads)\n";
            if sensor.cfg.output.eve.as_deref() == Some("-") {
                eprintln!("{banner}");
            } else {
                println!("{banner}");
            }
            run_replay(&sensor, &[Source::Builtin("demo.pcap", DEMO_PCAP)], false)
        }
        Cmd::Rules { .. } => unreachable!("handled above"),
        Cmd::Run {
            interface,
            bpf,
            listen,
        } => {
            let mut cfg = cfg;
            if let Some(i) = interface {
                cfg.capture.interface = Some(i);
            }
            if let Some(b) = bpf {
                cfg.capture.bpf = Some(b);
            }
            if let Some(l) = listen {
                cfg.http.listen = l;
            }
            let Some(iface) = cfg.capture.interface.clone() else {
                eprintln!("spanwatch: run needs --interface (or capture.interface in the config)");
                return ExitCode::from(2);
            };
            run_live(
                cfg,
                shared,
                iface,
                cli.common.quiet,
                cli.common.config.clone(),
            )
        }
    }
}

fn write_metrics_file(sensor: &Sensor) -> Result<(), String> {
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

fn summary_text(
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

/// Switch to an unprivileged user once the capture is open (it keeps its descriptor).
fn drop_privileges(user: &str) -> Result<(), String> {
    let name = std::ffi::CString::new(user).map_err(|_| format!("bad user name {user:?}"))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy what we need
    // at once, before any other call could reuse it.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return Err(format!("sensor.user: no such user {user:?}"));
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    // SAFETY: plain system calls on values from the password database.
    unsafe {
        if libc::setgroups(1, &gid) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
            return Err(format!(
                "cannot switch to user {user:?}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

fn run_live(
    cfg: Config,
    shared: Arc<spanwatch::detect::Shared>,
    iface: String,
    quiet: bool,
    config_path: Option<PathBuf>,
) -> ExitCode {
    let opts = LiveOptions {
        interface: iface,
        bpf: cfg.capture.bpf.clone(),
        snaplen: cfg.capture.snaplen,
        buffer_size: cfg.capture.buffer_mib.saturating_mul(1 << 20),
        immediate: cfg.capture.immediate,
        timeout_ms: cfg.capture.timeout_ms,
        promisc: cfg.capture.promisc,
    };
    let listen = cfg.http.listen.clone();
    let user = cfg.sensor.user.clone();
    let cli_rules = cfg.rules.dir.clone();
    let sensor = Arc::new(Sensor::new(cfg, "live", shared));
    let stop = Arc::new(AtomicBool::new(false));
    let health = Arc::new(Health {
        capturing: AtomicBool::new(false),
    });
    let waker: Arc<std::sync::Mutex<Option<pcap::BreakLoop>>> = Arc::default();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("spanwatch: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let listener = match rt.block_on(tokio::net::TcpListener::bind(&listen)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("spanwatch: cannot listen on {listen}: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(listen = %listen, "serving /metrics and /healthz");
    // The capture runs on its own thread; the control plane on this one.
    let cap = {
        let (sensor, stop, health, waker) =
            (sensor.clone(), stop.clone(), health.clone(), waker.clone());
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let h2 = health.clone();
                let stop2 = stop.clone();
                let r = pipeline::live(&sensor, &opts, stop, waker, move || {
                    if let Some(u) = &user {
                        match drop_privileges(u) {
                            Ok(()) => tracing::info!(user = %u, "capture open; running as an unprivileged user"),
                            Err(e) => {
                                tracing::error!("{e}");
                                stop2.store(true, Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                    h2.capturing.store(true, Ordering::Relaxed)
                });
                health.capturing.store(false, Ordering::Relaxed);
                r
            })
            .expect("spawn capture thread")
    };
    rt.block_on(async {
        let server = tokio::spawn(control::serve(listener, sensor.tel.clone(), health.clone()));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT: stopping"); break; }
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => { tracing::info!("SIGTERM: stopping"); break; }
                _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending::<()>().await } } => {
                    sensor.reopen_eve(); // logrotate: the EVE file is opened again by its name
                    // Reload: the config file (for the rules folder) and the rules; a failure keeps the old ones.
                    let dir = match &config_path {
                        Some(p) => match Config::load(p) {
                            Ok(c) => c.rules.dir.or_else(|| cli_rules.clone()),
                            Err(e) => { tracing::error!("SIGHUP: {e}; keeping the running configuration"); sensor.tel.reloads_failed.add(1); sensor.tel.last_reload_ok.set(0); continue; }
                        },
                        None => cli_rules.clone(),
                    };
                    match sensor.reload_rules(dir.as_deref()) {
                        Ok(n) => tracing::info!(tools = n, "SIGHUP: rules reloaded"),
                        Err(e) => tracing::error!("SIGHUP: rules failed to load, keeping the old ones: {e}"),
                    }
                }
                _ = ticker.tick() => { if cap.is_finished() { break; } }
            }
        }
        stop.store(true, Ordering::Relaxed);
        if let Ok(w) = waker.lock() {
            if let Some(w) = w.as_ref() {
                w.breakloop();
            }
        }
        server.abort();
    });
    let summary = match cap.join() {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(1);
        }
        Err(_) => {
            eprintln!("spanwatch: capture thread failed");
            return ExitCode::from(1);
        }
    };
    let _ = write_metrics_file(&sensor);
    if !quiet {
        let p = sensor.tel.capture.packets.get();
        eprint!(
            "{}",
            summary_text(&sensor, &summary, p, std::time::Duration::from_secs(1))
        );
    }
    ExitCode::SUCCESS
}
