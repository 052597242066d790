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
    // The options shared by run, replay and demo are accepted before the subcommand and
    // after it (`spanwatch --config F run` and `spanwatch run --config F`), but are not
    // global: `rules --help` shows only what applies to rules.
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct Common {
    /// TOML configuration file (flags override it).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write EVE JSON lines to FILE, or "-" for standard output.
    #[arg(long, value_name = "FILE|-")]
    eve: Option<String>,
    /// Write the final metrics in Prometheus text format (node_exporter textfile convention).
    #[arg(long, value_name = "FILE")]
    metrics_file: Option<PathBuf>,
    /// Internal networks, comma-separated CIDRs (default: RFC 1918 and fc00::/7).
    #[arg(long, value_name = "CIDR[,CIDR...]")]
    home_net: Option<String>,
    /// Worker threads; packets are sharded to them by a symmetric flow hash.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Folder of rule files (default: the catalogue built into the binary).
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Print no summary on the terminal.
    #[arg(long, short)]
    quiet: bool,
}

impl Common {
    /// The options given before the subcommand, overridden by those given after it.
    fn merged(self, sub: Common) -> Common {
        Common {
            config: sub.config.or(self.config),
            eve: sub.eve.or(self.eve),
            metrics_file: sub.metrics_file.or(self.metrics_file),
            home_net: sub.home_net.or(self.home_net),
            workers: sub.workers.or(self.workers),
            rules: sub.rules.or(self.rules),
            quiet: sub.quiet || self.quiet,
        }
    }
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
        /// TLS and basic auth for /metrics: a web configuration file in the format of
        /// Prometheus's exporter-toolkit (node_exporter's flag of the same name).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config_file: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Read pcap or pcapng files; packet time is the clock. Ends with a summary.
    Replay {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Replay the small capture built into the binary and print what was found.
    Demo {
        #[command(flatten)]
        common: Common,
    },
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
    List {
        /// Folder of rule files to list instead of the built-in catalogue.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
}

/// The demo capture: made by the dev-only testkit crate (testkit/src/demo.rs; tests/demo_capture.rs
/// checks this copy against it).
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
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
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
            RulesCmd::List { rules } => match rules.as_ref().or(cli.common.rules.as_ref()) {
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
    let common = match &cli.cmd {
        Cmd::Run { common, .. } | Cmd::Replay { common, .. } | Cmd::Demo { common } => {
            cli.common.clone().merged(common.clone())
        }
        Cmd::Rules { .. } => cli.common.clone(),
    };
    let cfg = match load_config(&common) {
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
        Cmd::Replay { files, .. } => {
            let sensor = Sensor::new(cfg, "replay", shared);
            let sources: Vec<Source> = files.into_iter().map(Source::File).collect();
            run_replay(&sensor, &sources, common.quiet)
        }
        Cmd::Demo { .. } => {
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
            web_config_file,
            ..
        } => {
            let flags = RunFlags {
                interface,
                bpf,
                listen,
                web_config_file,
            };
            let mut cfg = cfg;
            flags.apply(&mut cfg);
            let Some(iface) = cfg.capture.interface.clone() else {
                eprintln!("spanwatch: run needs --interface (or capture.interface in the config)");
                return ExitCode::from(2);
            };
            // Mistakes in the configuration end the start with status 2 before anything
            // is opened; a lack of privileges is found when the capture opens (status 1).
            if let Some(u) = &cfg.sensor.user {
                if let Err(e) = lookup_user(u) {
                    eprintln!("spanwatch: {e}");
                    return ExitCode::from(2);
                }
            }
            if let Err(e) = check_interface(&iface) {
                eprintln!("spanwatch: {e}");
                return ExitCode::from(2);
            }
            let reload = Reloader {
                common: common.clone(),
                flags,
            };
            run_live(cfg, shared, iface, common.quiet, reload)
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

/// The command-line flags of `run` that override the configuration file (applied again
/// to the file read at a reload, so the comparison is like for like).
struct RunFlags {
    interface: Option<String>,
    bpf: Option<String>,
    listen: Option<String>,
    web_config_file: Option<PathBuf>,
}

impl RunFlags {
    fn apply(&self, cfg: &mut Config) {
        if let Some(i) = &self.interface {
            cfg.capture.interface = Some(i.clone());
        }
        if let Some(b) = &self.bpf {
            cfg.capture.bpf = Some(b.clone());
        }
        if let Some(l) = &self.listen {
            cfg.http.listen = l.clone();
        }
        if let Some(w) = &self.web_config_file {
            cfg.http.web_config_file = Some(w.clone());
        }
    }
}

/// The user's uid and gid from the password database.
fn lookup_user(user: &str) -> Result<(libc::uid_t, libc::gid_t), String> {
    let name =
        std::ffi::CString::new(user).map_err(|_| format!("sensor.user: bad user name {user:?}"))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy what we need
    // at once, before any other call could reuse it. Called from one thread at a time
    // (at start-up, and on the capture thread once the capture is open).
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            return Err(format!(
                "sensor.user: no such user {user:?} (create it, e.g. `useradd --system --no-create-home {user}`, or remove sensor.user)"
            ));
        }
        Ok(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// A live capture needs an interface that exists: say so, with the ones there are, rather
/// than a capability hint (libpcap's "No such device" comes only after the privilege check).
fn check_interface(name: &str) -> Result<(), String> {
    let Ok(c) = std::ffi::CString::new(name) else {
        return Err(format!("capture.interface: bad interface name {name:?}"));
    };
    // SAFETY: a plain lookup of a NUL-terminated name.
    if unsafe { libc::if_nametoindex(c.as_ptr()) } != 0 {
        return Ok(());
    }
    // libpcap's own devices ("any", nflog, usbmon …) have no kernel index.
    let devices: Vec<String> = pcap::Device::list()
        .map(|l| l.into_iter().map(|d| d.name).collect())
        .unwrap_or_default();
    if devices.is_empty() || devices.iter().any(|d| d == name) {
        return Ok(());
    }
    Err(format!(
        "no such interface {name} (available: {})",
        devices.join(", ")
    ))
}

/// Switch to an unprivileged user once the capture is open (it keeps its descriptor).
fn drop_privileges(user: &str) -> Result<(), String> {
    let (uid, gid) = lookup_user(user)?;
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

/// What a SIGHUP does: read the configuration file again (with the same flags on top),
/// load the rules it names, swap them in, and name every other changed key (those need a
/// restart). Runs on its own thread: loading a large rules folder takes seconds, and the
/// control plane must keep answering /healthz meanwhile.
struct Reloader {
    common: Common,
    flags: RunFlags,
}

impl Reloader {
    fn reload(&self, sensor: &Sensor) {
        let tel = &sensor.tel;
        let fail = |e: &str| {
            tracing::error!("SIGHUP: {e}; keeping the running configuration and rules");
            tel.reloads_failed.add(1);
            tel.last_reload_ok.set(0);
        };
        let new = match load_config(&self.common) {
            Ok(mut c) => {
                self.flags.apply(&mut c);
                c
            }
            Err(e) => return fail(&e),
        };
        let rules = match new.rules.dir.as_deref() {
            Some(d) => match spanwatch::rules::Catalogue::load_dir(d) {
                Ok(c) => c,
                Err(errs) => {
                    let e: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                    return fail(&format!(
                        "rules in {} failed to load: {}",
                        d.display(),
                        e.join("; ")
                    ));
                }
            },
            None => spanwatch::rules::Catalogue::builtin(),
        };
        let n = sensor.live.replace_rules(rules);
        tel.rules_loaded.set(n as u64);
        tel.last_reload_ok.set(1);
        let restart = sensor.cfg.restart_keys(&new);
        if restart.is_empty() {
            tel.reloads_ok.add(1);
            tracing::info!(tools = n, "SIGHUP: configuration and rules reloaded");
        } else {
            tel.reloads_partial.add(1);
            tracing::warn!(
                tools = n,
                restart_needed = %restart.join(","),
                "SIGHUP: reload partially applied: rules reloaded, but {} changed and take effect only after a restart",
                restart.join(", ")
            );
        }
    }
}

fn run_live(
    cfg: Config,
    shared: Arc<spanwatch::detect::Shared>,
    iface: String,
    quiet: bool,
    reloader: Reloader,
) -> ExitCode {
    let started = std::time::Instant::now();
    let opts: LiveOptions = cfg.capture.live_options(iface);
    let listen = cfg.http.listen.clone();
    let limits = control::Limits::from(&cfg.http);
    // The web config (TLS, basic auth) is read and checked before anything starts: a bad
    // file is a start-up error naming the file and the key.
    let web = match &cfg.http.web_config_file {
        Some(p) => match control::WebConfig::load(p) {
            Ok(w) => Some(Arc::new(w)),
            Err(e) => {
                eprintln!("spanwatch: http.web_config_file: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let user = cfg.sensor.user.clone();
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
    tracing::info!(
        listen = %listen,
        tls = web.as_ref().is_some_and(|w| w.tls.is_some()),
        basic_auth = web.as_ref().is_some_and(|w| w.auth.is_some()),
        max_connections = limits.max_connections,
        "serving /metrics and /healthz"
    );
    // A failed switch to sensor.user stops the capture and ends the process with status 1.
    let drop_failed: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    // The capture runs on its own thread; the control plane on this one.
    let cap = {
        let (sensor, stop, health, waker) =
            (sensor.clone(), stop.clone(), health.clone(), waker.clone());
        let drop_failed = drop_failed.clone();
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
                                if let Ok(mut f) = drop_failed.lock() {
                                    *f = Some(e);
                                }
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
    // Reloads run on their own thread, one at a time; SIGHUPs that arrive during a reload
    // are coalesced into one more reload after it (a queue of one).
    let (reload_tx, reload_rx) = std::sync::mpsc::sync_channel::<()>(1);
    let reload_thread = {
        let sensor = sensor.clone();
        std::thread::Builder::new()
            .name("reload".into())
            .spawn(move || {
                while reload_rx.recv().is_ok() {
                    reloader.reload(&sensor);
                }
            })
            .expect("spawn reload thread")
    };
    rt.block_on(async {
        let server = tokio::spawn(control::serve_with(
            listener,
            control::Server {
                tel: sensor.tel.clone(),
                health: health.clone(),
                limits,
                web,
            },
        ));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT: stopping"); break; }
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => { tracing::info!("SIGTERM: stopping"); break; }
                _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending::<()>().await } } => {
                    sensor.reopen_eve(); // logrotate: the EVE file is opened again by its name
                    // Reload off this thread (see Reloader); a failure keeps the old rules.
                    match reload_tx.try_send(()) {
                        Ok(()) => tracing::info!("SIGHUP: reloading the configuration and rules"),
                        Err(std::sync::mpsc::TrySendError::Full(())) => tracing::info!("SIGHUP: a reload is already queued; this one is folded into it"),
                        Err(std::sync::mpsc::TrySendError::Disconnected(())) => tracing::error!("SIGHUP: the reload thread is gone; restart to reload"),
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
    // The reload thread ends when its channel closes (a reload in progress finishes first;
    // it only swaps rules, so the capture's shutdown does not wait for it).
    drop(reload_tx);
    let _ = reload_thread;
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
    if let Some(e) = drop_failed.lock().ok().and_then(|mut f| f.take()) {
        eprintln!("spanwatch: {e}; the capture was stopped");
        return ExitCode::from(1);
    }
    if !quiet {
        let p = sensor.tel.capture.packets.get();
        eprint!("{}", summary_text(&sensor, &summary, p, started.elapsed()));
    }
    ExitCode::SUCCESS
}
