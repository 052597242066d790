//! Configuration values: random numbers for every numeric key through the loader main uses
//! (no panic, no abort; either accepted or refused with the key named), and the start-up
//! errors of `spanwatch run` (a user or an interface that does not exist: status 2 before
//! anything is opened; a failed switch to `sensor.user`: status 1).

mod common;

use common::*;
use proptest::prelude::*;
use spanwatch::config::{Config, RANGES};
use spanwatch::pipeline::{self, Sensor, Source};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A TOML value of any kind, often near or past the key's range.
fn value_for(idx: usize) -> impl Strategy<Value = String> {
    let r = RANGES[idx];
    let float = |x: f64| {
        if x.is_nan() {
            "nan".to_string()
        } else if x.is_infinite() {
            if x > 0.0 { "inf" } else { "-inf" }.to_string()
        } else {
            format!("{x:?}")
        }
    };
    let int = |x: f64| format!("{}", x as i128);
    prop_oneof![
        // the ends and just past them, as integers and as floats
        Just(int(r.min)),
        Just(int(r.max)),
        Just(int(r.min - 1.0)),
        Just(int(r.max + 1.0)),
        Just(float(r.min)),
        Just(float(r.max)),
        (r.min..=r.max).prop_map(float),
        (r.min as i64..=r.max as i64).prop_map(|x| x.to_string()),
        // anything
        any::<i64>().prop_map(|x| x.to_string()),
        any::<u64>().prop_map(|x| x.to_string()),
        any::<f64>().prop_map(float),
        Just("0".to_string()),
        Just("-0.0".to_string()),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("4611686018427387904".to_string()),
        Just("\"12\"".to_string()),
        Just("true".to_string()),
        Just("[1, 2]".to_string()),
    ]
}

fn entry() -> impl Strategy<Value = (usize, String)> {
    (0..RANGES.len()).prop_flat_map(|i| (Just(i), value_for(i)))
}

/// Clearly out of range (a value a hair past an end may round onto it in an f32 field).
fn out_of_range(idx: usize, v: &str) -> bool {
    let r = RANGES[idx];
    let slack = |b: f64| 1e-6 * b.abs().max(1.0);
    match v.parse::<f64>() {
        Ok(x) => x.is_nan() || x < r.min - slack(r.min) || x > r.max + slack(r.max),
        Err(_) => v == "nan" || v.ends_with("inf"),
    }
}

/// A 3.8 KB capture: what an accepted configuration is run with.
fn tiny_capture() -> Source {
    Source::File(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-vnc.pcap"),
    )
}

fn shared() -> Arc<spanwatch::detect::Shared> {
    static S: OnceLock<Arc<spanwatch::detect::Shared>> = OnceLock::new();
    S.get_or_init(|| Arc::new(spanwatch::detect::Shared::load(None).unwrap()))
        .clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_numeric_value_is_accepted_or_refused_with_its_key(
        entries in prop::collection::vec(entry(), 1..4),
        headers in any::<bool>(),
    ) {
        // one key: as `[table]` + `key = v` or as a dotted key; several: dotted keys
        let text = if entries.len() == 1 && headers {
            let (i, v) = &entries[0];
            let (t, k) = RANGES[*i].key.rsplit_once('.').unwrap();
            format!("[{t}]\n{k} = {v}\n")
        } else {
            entries.iter().map(|(i, v)| format!("{} = {v}\n", RANGES[*i].key)).collect()
        };
        match Config::parse(&text, "prop.toml") {
            Ok(cfg) => {
                for (i, v) in &entries {
                    prop_assert!(!out_of_range(*i, v), "accepted {} = {v}", RANGES[*i].key);
                }
                // what main builds from it, and a short replay through the whole pipeline
                let _ = cfg.flow.flow_config(cfg.sensor.workers);
                let o = cfg.capture.live_options("lo".into());
                prop_assert!(o.buffer_size > 0 && o.timeout_ms > 0 && o.snaplen > 0);
                let sensor = Sensor::new(cfg, "replay", shared());
                let r = pipeline::replay(&sensor, &[tiny_capture()]);
                prop_assert!(r.is_ok(), "{text}: {:?}", r.err());
            }
            Err(e) => {
                prop_assert!(e.0.starts_with("prop.toml"), "{text}: {e}");
                prop_assert!(
                    entries.iter().any(|(i, _)| e.0.contains(RANGES[*i].key)),
                    "{text}: the error names none of the keys: {e}"
                );
            }
        }
    }
}

#[test]
fn home_net_entries_need_a_prefix_after_the_slash() {
    for bad in [
        "10.0.0.0/",
        "10.0.0.0/-1",
        "10.0.0.0/ 8",
        "fc00::/129",
        "10.0.0.0/33",
        "10/8",
    ] {
        let text = format!("[sensor]\nhome_net = [\"{bad}\"]\n");
        let e = Config::parse(&text, "h.toml").unwrap_err();
        assert!(e.0.contains("sensor.home_net"), "{bad}: {e}");
    }
    for good in ["10.0.0.0/8", "192.0.2.1", "::1", "fc00::/7", "0.0.0.0/0"] {
        let text = format!("[sensor]\nhome_net = [\"{good}\"]\n");
        Config::parse(&text, "h.toml").unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

/// Run `spanwatch ARGS` with a configuration file; (status, stderr).
fn run_with(cfg: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tmpdir();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, cfg).unwrap();
    let mut a = vec!["--config", p.to_str().unwrap()];
    a.extend_from_slice(args);
    let out = run(&a);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn out_of_range_values_stop_the_start_with_status_2() {
    for (cfg, key) in [
        (
            "[sensor]\nqueue_packets = 1099511627776\n",
            "sensor.queue_packets",
        ),
        (
            "[alertmanager]\nqueue_size = 4611686018427387904\n",
            "alertmanager.queue_size",
        ),
        (
            "[alertmanager]\ntimeout_s = 18446744073709551615\n",
            "alertmanager.timeout_s",
        ),
        ("[capture]\ntimeout_ms = -5\n", "capture.timeout_ms"),
        ("[capture]\nbuffer_mib = 2147483647\n", "capture.buffer_mib"),
        ("[sensor]\nhome_net = [\"10.0.0.0/\"]\n", "sensor.home_net"),
        ("[host]\nmax_hosts = -1\n", "host.max_hosts"),
    ] {
        for cmd in [&["demo"][..], &["run", "--interface", "lo"][..]] {
            let (code, err) = run_with(cfg, cmd);
            assert_eq!(code, Some(2), "{cfg} {cmd:?}: {err}");
            assert!(err.contains(key), "{cfg}: {err}");
            assert!(
                key == "sensor.home_net" || err.contains("(allowed: "),
                "{cfg}: {err}"
            );
        }
    }
}

#[test]
fn a_user_that_does_not_exist_is_a_configuration_error() {
    let (code, err) = run_with(
        "[sensor]\nuser = \"spanwatch-no-such-user\"\n",
        &["run", "--interface", "lo", "--listen", "127.0.0.1:0"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("sensor.user") && err.contains("no such user \"spanwatch-no-such-user\""),
        "{err}"
    );
}

#[test]
fn an_interface_that_does_not_exist_is_named_with_the_ones_there_are() {
    // No privilege is needed to find this out: the check runs before the capture opens.
    let (code, err) = run_with(
        "",
        &[
            "run",
            "--interface",
            "spanwatch-nx0",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no such interface spanwatch-nx0 (available: "),
        "{err}"
    );
    assert!(err.contains("lo"), "{err}");
    assert!(!err.contains("CAP_NET_RAW"), "{err}");
}

/// Root tests skip elsewhere with a message, and fail under CI=true.
fn need_root(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} needs root, and CI=true"
    );
    eprintln!("SKIPPED: {what} needs root (a capture on lo)");
    false
}

/// Wait for a child to end within `limit`; its status code and stderr.
fn wait_for(mut child: std::process::Child, limit: Duration) -> (Option<i32>, String) {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (st.code(), err);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_failed_switch_to_the_user_ends_the_process_with_status_1() {
    if !need_root("the privilege-drop test") {
        return;
    }
    // Root without CAP_SETUID/CAP_SETGID (dropped from the bounding set before exec) opens
    // the capture on lo, then cannot become `nobody`.
    let dir = tmpdir();
    let p = dir.path().join("u.toml");
    std::fs::write(&p, "[sensor]\nuser = \"nobody\"\n").unwrap();
    let child = Command::new("setpriv")
        .args(["--bounding-set=-setuid,-setgid", "--"])
        .arg(bin())
        .args([
            "--config",
            p.to_str().unwrap(),
            "run",
            "-q",
            "--interface",
            "lo",
        ])
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv (util-linux)");
    let (code, err) = wait_for(child, Duration::from_secs(20));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot switch to user \"nobody\""), "{err}");
}

/// GET `path` from 127.0.0.1:`port`: (status line, body), or None when nothing answered
/// within `limit`.
fn http_get(port: u16, path: &str, limit: Duration) -> Option<(String, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), limit).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    s.set_write_timeout(Some(limit)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// Wait until `f` holds, for at most `limit`.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

#[test]
fn sighup_reloads_off_the_control_thread_and_names_keys_that_need_a_restart() {
    if !need_root("the SIGHUP test") {
        return;
    }
    let dir = tmpdir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A rules folder that takes a while to load: the catalogue plus one tool with many names.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for e in std::fs::read_dir(&root).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&p, rules.join(p.file_name().unwrap())).unwrap();
        }
    }
    let names: Vec<String> = (0..40_000)
        .map(|i| format!("\"h{i}.reload-test.example\""))
        .collect();
    std::fs::write(
        rules.join("zz-big.toml"),
        format!(
            "family = \"remote-access\"\n[[tool]]\nid = \"reload-test\"\nsid = 9999001\nname = \"Reload test\"\ncategory = \"remote-access\"\nseverity = 4\nreference = \"https://example.org/\"\ndomains = [{}]\n",
            names.join(", ")
        ),
    )
    .unwrap();
    let cfg = dir.path().join("s.toml");
    let base = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&cfg, &base).unwrap();
    let log = dir.path().join("log");
    let child = Command::new(bin())
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "-q",
            "--interface",
            "lo",
        ])
        .env("SPANWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(child);
    let logtext = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(20), || {
            http_get(port, "/healthz", Duration::from_secs(1))
                .is_some_and(|(s, _)| s.contains(" 200"))
        }),
        "the sensor did not become healthy: {}",
        logtext()
    );
    let metric = |m: &str| -> Option<String> {
        let (_, body) = http_get(port, "/metrics", Duration::from_secs(2))?;
        body.lines()
            .find(|l| l.starts_with(m))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
    };
    assert_eq!(
        metric("spanwatch_config_reloads_total{result=\"partial\"}").as_deref(),
        Some("0")
    );
    let tools_before: u64 = metric("spanwatch_rules_loaded").unwrap().parse().unwrap();
    // Change keys that need a restart, and the rules folder (which reloads). 9 workers: more
    // than the default sensor.max_workers, so never what workers = 0 started.
    std::fs::write(
        &cfg,
        format!(
            "{base}[sensor]\nworkers = 9\nhome_net = [\"10.9.0.0/16\"]\n[rules]\ndir = {:?}\n",
            rules.to_str().unwrap()
        ),
    )
    .unwrap();
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    // /healthz keeps answering while the rules load on the reload thread.
    let mut slowest = Duration::ZERO;
    let done = wait_until(Duration::from_secs(120), || {
        let t = Instant::now();
        let ok = http_get(port, "/healthz", Duration::from_secs(5))
            .is_some_and(|(s, _)| s.contains(" 200"));
        slowest = slowest.max(t.elapsed());
        assert!(
            ok,
            "/healthz did not answer during the reload: {}",
            logtext()
        );
        logtext().contains("reload partially applied")
    });
    assert!(done, "no reload result logged: {}", logtext());
    assert!(
        slowest < Duration::from_secs(2),
        "/healthz took {slowest:?} during the reload"
    );
    let line = logtext()
        .lines()
        .find(|l| l.contains("reload partially applied"))
        .unwrap()
        .to_string();
    assert!(line.contains("sensor.home_net, sensor.workers"), "{line}");
    assert!(!line.contains("rules.dir"), "{line}");
    assert_eq!(
        metric("spanwatch_config_reloads_total{result=\"partial\"}").as_deref(),
        Some("1")
    );
    assert_eq!(
        metric("spanwatch_config_reloads_total{result=\"success\"}").as_deref(),
        Some("0")
    );
    let tools: u64 = metric("spanwatch_rules_loaded").unwrap().parse().unwrap();
    // The folder holds the built-in catalogue's files and one more tool.
    assert_eq!(
        tools,
        tools_before + 1,
        "the rules were reloaded: {tools} tools, {tools_before} before"
    );
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let t = Instant::now();
    let st = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(st.code(), Some(0), "{}", logtext());
}
