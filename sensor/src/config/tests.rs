use super::*;
use std::path::Path;

#[test]
fn unknown_key_is_named_with_file_and_line() {
    let e = Config::parse("[sensor]\nworkers = 2\nwrokers = 3\n", "x.toml").unwrap_err();
    assert!(e.0.starts_with("x.toml:3:"), "{e}");
    assert!(e.0.contains("wrokers"), "{e}");
}

#[test]
fn bad_value_is_named() {
    let e = Config::parse("[sensor]\nhome_net = [\"10.0.0.0/33\"]\n", "y.toml").unwrap_err();
    assert!(
        e.0.contains("y.toml") && e.0.contains("prefix length"),
        "{e}"
    );
}

/// `[a.b]\nkey = v` for the dotted key `a.b.key`.
pub(crate) fn toml_for(key: &str, v: &str) -> String {
    let (table, k) = key.rsplit_once('.').unwrap();
    format!("[{table}]\n{k} = {v}\n")
}

#[test]
fn defaults_are_in_range_and_every_range_is_checked() {
    Config::default().validate().unwrap();
    for r in RANGES {
        // every key of the table is read by validate(): one past each end is refused
        let mut bad = vec![format!("{}", r.max * 2.0 + 1.0)];
        if r.min > 0.0 {
            bad.push(format!("{}", r.min / 2.0 - 0.01));
        }
        bad.push("nan".into());
        for v in bad {
            let e = Config::parse(&toml_for(r.key, &v), "t.toml").unwrap_err();
            assert!(e.0.contains(r.key), "{} = {v}: {e}", r.key);
            assert!(e.0.contains(&r.describe()), "{} = {v}: {e}", r.key);
        }
        // both ends are accepted (the beacon weights must also sum to 1; the tick may not be
        // shorter than the capture timeout)
        for v in [r.min, r.max] {
            let text = toml_for(r.key, &format!("{v}"));
            match Config::parse(&text, "t.toml") {
                Ok(_) => {}
                Err(e) => assert!(
                    (r.key.ends_with("_weight") && e.0.contains("sum to 1"))
                        || (matches!(
                            r.key,
                            "capture.tick_ms" | "capture.timeout_ms" | "capture.block_timeout_ms"
                        ) && e.0.contains("capture.tick_ms = ")
                            && e.0.contains("must be at least capture.")),
                    "{text}: {e}"
                ),
            }
        }
    }
}

#[test]
fn every_numeric_key_has_a_range() {
    // a key added later without a range fails here
    fn walk(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    walk(v, &p, out);
                }
            }
            serde_json::Value::Number(_) => out.push(at.to_string()),
            _ => {}
        }
    }
    let mut keys = Vec::new();
    walk(
        &serde_json::to_value(Config::default()).unwrap(),
        "",
        &mut keys,
    );
    for k in &keys {
        assert!(range(k).is_some(), "{k} has no entry in RANGES");
    }
    for r in RANGES {
        assert!(
            keys.iter().any(|k| k == r.key),
            "RANGES names {}, which is not a key",
            r.key
        );
    }
}

#[test]
fn issue_cases_are_refused_with_the_key() {
    for (text, key) in [
        (
            "[sensor]\nqueue_packets = 1099511627776\n",
            "sensor.queue_packets",
        ),
        ("[sensor]\nqueue_packets = -1\n", "sensor.queue_packets"),
        (
            "[alertmanager]\nqueue_size = 4611686018427387904\n",
            "alertmanager.queue_size",
        ),
        (
            "[alertmanager]\ntimeout_s = 9223372036854775807\n",
            "alertmanager.timeout_s",
        ),
        ("[capture]\ntimeout_ms = -5\n", "capture.timeout_ms"),
        ("[capture]\nbuffer_mib = 2147483647\n", "capture.buffer_mib"),
        ("[sensor]\nhome_net = [\"10.0.0.0/\"]\n", "sensor.home_net"),
        (
            "[sensor]\nhome_net = [\"10.0.0.0/+8\"]\n",
            "sensor.home_net",
        ),
        (
            "[detect.beacon]\nmin_score = nan\n",
            "detect.beacon.min_score",
        ),
        ("sensor.workers = \"two\"\n", "sensor.workers"),
        (
            "[detect.dns_tunnel]\nwindow_s = 1.5\n",
            "detect.dns_tunnel.window_s",
        ),
    ] {
        let e = Config::parse(text, "c.toml").unwrap_err();
        assert!(
            e.0.starts_with("c.toml") && e.0.contains(key),
            "{text}: {e}"
        );
    }
}

#[test]
fn restart_keys_name_what_a_reload_does_not_apply() {
    let old = Config::default();
    let same = Config::parse("[rules]\ndir = \"/tmp/r\"\n", "n").unwrap();
    assert!(old.restart_keys(&same).is_empty(), "rules.dir reloads");
    let new = Config::parse(
        "[sensor]\nworkers = 4\nhome_net = [\"10.0.0.0/8\"]\n[capture]\nsnaplen = 1500\n\
         [http]\nlisten = \"127.0.0.1:9700\"\n[detect.beacon]\nmin_score = 0.9\n\
         [host.egress]\ndeviations = 4.0\n[alertmanager]\nlabels = { site = \"dc1\" }\n",
        "n",
    )
    .unwrap();
    assert_eq!(
        old.restart_keys(&new),
        [
            "alertmanager.labels.site",
            "capture.snaplen",
            "detect.beacon.min_score",
            "host.egress.deviations",
            "http.listen",
            "sensor.home_net",
            "sensor.workers",
        ]
    );
    assert!(new.restart_keys(&new.clone()).is_empty());
}

/// The README's table of ranges, as [`RANGES`] makes it.
fn ranges_markdown() -> String {
    let mut t = String::from("| key | allowed values |\n| --- | --- |\n");
    for r in RANGES {
        t.push_str(&format!("| `{}` | {} |\n", r.key, r.describe()));
    }
    t
}

#[test]
fn readme_and_example_config_state_the_ranges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let want = ranges_markdown();
    assert!(
        readme.contains(&want),
        "README.md's table of configuration ranges differs from config::RANGES; it should read:\n{want}"
    );
    // every number the example configuration sets (or shows commented out) carries its
    // range in a comment on the same line
    let example = std::fs::read_to_string(root.join("deploy/spanwatch.toml")).unwrap();
    let mut table = String::new();
    let mut seen = 0;
    for line in example.lines() {
        let l = line.trim_start_matches(['#', ' ']);
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let Some(r) = range(&format!("{table}.{k}")) else {
            continue;
        };
        seen += 1;
        let value = v.split('#').next().unwrap().trim();
        let n: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("{line}: not a number"));
        assert!(n >= r.min && n <= r.max, "{line}: outside {}", r.describe());
        assert!(
            line.contains(&format!("# {}", r.describe())),
            "deploy/spanwatch.toml: `{line}` should end with `# {}`",
            r.describe()
        );
    }
    assert!(
        seen >= 20,
        "only {seen} numeric keys found in deploy/spanwatch.toml"
    );
}

#[test]
fn bad_sink_configuration_names_the_key() {
    for (text, key) in [
        ("[output.redis]\nmode = \"queue\"\n", "output.redis.mode"),
        ("[output.redis]\npush = \"push\"\n", "output.redis.push"),
        (
            "[output.redis]\nserver = \"127.0.0.1\"\n",
            "output.redis.server",
        ),
        ("[output.redis]\nkey = \"\"\n", "output.redis.key"),
        (
            "[output.syslog]\ntarget = \"10.0.0.1:514\"\n",
            "output.syslog.target",
        ),
        (
            "[output.syslog]\nfacility = \"local8\"\n",
            "output.syslog.facility",
        ),
        (
            "[output.syslog]\nqueue_size = 0\n",
            "output.syslog.queue_size",
        ),
    ] {
        let e = Config::parse(text, "s.toml").unwrap_err();
        assert!(e.0.contains(key), "{text}: {e}");
    }
    let c = Config::parse(
        "[output.redis]\nserver = \"127.0.0.1:6379\"\nmode = \"stream\"\n\
         [output.syslog]\ntarget = \"unix:/dev/log\"\n",
        "s.toml",
    )
    .unwrap();
    let r = c.output.redis_settings().unwrap().unwrap();
    assert_eq!(r.mode, crate::output::sink::redis::Mode::Stream);
    assert_eq!(r.stream_maxlen, 100_000);
}

#[test]
fn http_limits_are_range_checked() {
    for (text, key) in [
        (
            "[http]\nmax_connections = 0\n",
            "http.max_connections = 0 is out of range (allowed: 1 to 65536 connections)",
        ),
        (
            "[http]\nmax_connections = 1000000\n",
            "http.max_connections",
        ),
        (
            "[http]\nheader_read_timeout_s = 0\n",
            "http.header_read_timeout_s = 0 is out of range (allowed: 1 to 300 s)",
        ),
        (
            "[http]\nidle_timeout_s = 100000\n",
            "http.idle_timeout_s = 100000 is out of range (allowed: 1 to 86400 s)",
        ),
        ("[http]\nweb_config_file = \"\"\n", "http.web_config_file"),
    ] {
        let e = Config::parse(text, "h.toml").unwrap_err();
        assert!(
            e.0.starts_with("h.toml: ") && e.0.contains(key),
            "{text}: {e}"
        );
    }
    let e = Config::parse("[http]\nmax_connections = -1\n", "h.toml").unwrap_err();
    assert!(e.0.contains("h.toml:2"), "{e}");
    let c = Config::parse(
        "[http]\nmax_connections = 64\nweb_config_file = \"web.yml\"\n",
        "h.toml",
    )
    .unwrap();
    assert_eq!(c.http.max_connections, 64);
    assert_eq!(c.http.idle_timeout_s, 60);
}

#[test]
fn tick_ms_is_range_checked() {
    assert_eq!(Config::default().capture.tick_ms, 250);
    assert!(!Config::default().capture.immediate);
    for (bad, msg) in [
        (
            "tick_ms = 5",
            "capture.tick_ms = 5 is out of range (allowed: 10 to 1000 ms)",
        ),
        (
            "tick_ms = 1001",
            "capture.tick_ms = 1001 is out of range (allowed: 10 to 1000 ms)",
        ),
        (
            "timeout_ms = 300\ntick_ms = 200",
            "capture.tick_ms = 200 must be at least capture.timeout_ms (300)",
        ),
    ] {
        let e = Config::parse(&format!("[capture]\n{bad}\n"), "t.toml").unwrap_err();
        assert!(e.0.contains(msg), "{bad}: {e}");
    }
    let c = Config::parse("[capture]\ntick_ms = 100\ntimeout_ms = 100\n", "t.toml").unwrap();
    assert_eq!(c.capture.tick_ms, 100);
}

#[test]
fn home_net_direction() {
    let h = HomeNet::parse(&DEFAULT_HOME_NET).unwrap();
    let a = |x: [u8; 4]| {
        let mut v = [0u8; 16];
        v[..4].copy_from_slice(&x);
        v
    };
    assert_eq!(
        h.direction(false, &a([8, 8, 8, 8]), &a([10, 1, 1, 1])),
        "inbound"
    );
    assert_eq!(
        h.direction(false, &a([192, 168, 1, 1]), &a([1, 1, 1, 1])),
        "outbound"
    );
    let mut ula = [0u8; 16];
    ula[0] = 0xfd;
    assert!(h.contains(true, &ula));
}

#[test]
fn workers_zero_follows_the_cores_in_run_up_to_max_workers_and_is_one_in_replay() {
    let mut c = Config::default();
    assert_eq!(c.sensor.workers, 0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(c.sensor.workers_for(true), cores.min(8));
    assert_eq!(c.sensor.workers_for(false), 1);
    c.sensor.max_workers = 1;
    assert_eq!(c.sensor.workers_for(true), 1);
    c.sensor.workers = 3;
    assert_eq!(
        (c.sensor.workers_for(true), c.sensor.workers_for(false)),
        (3, 3)
    );
    let e = Config::parse("[sensor]\nmax_workers = 0\n", "x.toml").unwrap_err();
    assert!(e.0.contains("sensor.max_workers"), "{e}");
}

#[test]
fn capture_interface_is_a_string_or_a_list_of_at_most_8() {
    let c = Config::parse("[capture]\ninterface = [\"eth1\", \"eth2\"]\n", "x.toml").unwrap();
    assert_eq!(c.capture.interfaces(), ["eth1", "eth2"]);
    let c = Config::parse("[capture]\ninterface = \"eth1, eth2\"\n", "x.toml").unwrap();
    assert_eq!(c.capture.interfaces(), ["eth1", "eth2"]);
    let e = Config::parse("[capture]\ninterface = [\"eth1\", \"eth1\"]\n", "x.toml").unwrap_err();
    assert!(e.0.contains("capture.interface names eth1 twice"), "{e}");
    let nine: Vec<String> = (0..9).map(|i| format!("\"e{i}\"")).collect();
    let e = Config::parse(
        &format!("[capture]\ninterface = [{}]\n", nine.join(",")),
        "x.toml",
    )
    .unwrap_err();
    assert!(
        e.0.contains("capture.interface names 9 interfaces (allowed: 1 to 8)"),
        "{e}"
    );
}
