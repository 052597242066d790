//! `run`: a live capture on its own thread, the control plane (/metrics, /healthz) and the
//! signals (SIGINT/SIGTERM stop, SIGHUP reloads) on this one, and the switch to an
//! unprivileged user once the capture is open.

use crate::cli::{load_config, Common, RunFlags};
use crate::replay::{summary_text, write_metrics_file};
use crate::LOG_TARGET;
use spanwatch::capture::live::LiveOptions;
use spanwatch::config::Config;
use spanwatch::control::{self, Health};
use spanwatch::detect::Shared;
use spanwatch::pipeline::{self, Sensor};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `spanwatch run`: `run`'s flags over the configuration, the checks that end the start with
/// status 2 before anything is opened, then the live capture.
pub fn run(mut cfg: Config, shared: Arc<Shared>, common: Common, flags: RunFlags) -> ExitCode {
    flags.apply(&mut cfg);
    let ifaces = cfg.capture.interfaces();
    if ifaces.is_empty() {
        eprintln!("spanwatch: run needs --interface (or capture.interface in the config)");
        return ExitCode::from(2);
    }
    if let Err(e) = cfg.capture.validate() {
        eprintln!("spanwatch: configuration: {e}");
        return ExitCode::from(2);
    }
    // Mistakes in the configuration end the start with status 2 before anything
    // is opened; a lack of privileges is found when the capture opens (status 1).
    if let Some(u) = &cfg.sensor.user {
        if let Err(e) = lookup_user(u) {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(2);
        }
    }
    for iface in &ifaces {
        if let Err(e) = check_interface(iface) {
            eprintln!("spanwatch: {e}");
            return ExitCode::from(2);
        }
    }
    let quiet = common.quiet;
    let reload = Reloader { common, flags };
    run_live(cfg, shared, ifaces, quiet, reload)
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
            tracing::error!(
                target: LOG_TARGET,
                "SIGHUP: {e}; keeping the running configuration and rules",
            );
            tel.reloads_failed.add(1);
            tel.last_reload_ok.set(0);
        };
        let new = match load_config(&self.common) {
            Ok(mut c) => {
                self.flags.apply(&mut c);
                // as Sensor::new resolved the running one's, so 0 is not "changed"
                c.sensor.workers = c.sensor.workers_for(true);
                c
            }
            Err(e) => return fail(&e),
        };
        let rules = match spanwatch::rules::Catalogue::load(new.rules.dir.as_deref()) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let n = sensor.live.replace_rules(rules);
        tel.rules_loaded.set(n as u64);
        tel.last_reload_ok.set(1);
        let restart = sensor.cfg.restart_keys(&new);
        if restart.is_empty() {
            tel.reloads_ok.add(1);
            tracing::info!(
                target: LOG_TARGET,
                tools = n,
                "SIGHUP: configuration and rules reloaded",
            );
        } else {
            tel.reloads_partial.add(1);
            tracing::warn!(
                target: LOG_TARGET,
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
    shared: Arc<Shared>,
    ifaces: Vec<String>,
    quiet: bool,
    reloader: Reloader,
) -> ExitCode {
    let started = std::time::Instant::now();
    let opts: Vec<LiveOptions> = ifaces
        .into_iter()
        .map(|i| cfg.capture.live_options(i))
        .collect();
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
        target: LOG_TARGET,
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
                            Ok(()) => tracing::info!(target: LOG_TARGET, user = %u, "capture open; running as an unprivileged user"),
                            Err(e) => {
                                tracing::error!(target: LOG_TARGET, "{e}");
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
                _ = tokio::signal::ctrl_c() => { tracing::info!(target: LOG_TARGET, "SIGINT: stopping"); break; }
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => { tracing::info!(target: LOG_TARGET, "SIGTERM: stopping"); break; }
                _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending::<()>().await } } => {
                    sensor.reopen_eve(); // logrotate: the EVE file is opened again by its name
                    // Reload off this thread (see Reloader); a failure keeps the old rules.
                    match reload_tx.try_send(()) {
                        Ok(()) => tracing::info!(target: LOG_TARGET, "SIGHUP: reloading the configuration and rules"),
                        Err(std::sync::mpsc::TrySendError::Full(())) => tracing::info!(target: LOG_TARGET, "SIGHUP: a reload is already queued; this one is folded into it"),
                        Err(std::sync::mpsc::TrySendError::Disconnected(())) => tracing::error!(target: LOG_TARGET, "SIGHUP: the reload thread is gone; restart to reload"),
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
