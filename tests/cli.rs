//! The command line as a user meets it: which options each subcommand shows and accepts,
//! the shared options before or after the subcommand, the summary's endpoints, plain logs
//! when stderr is not a terminal.

mod common;
use common::*;
use spanwatch_testkit::*;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn rules_help_lists_only_what_applies() {
    for args in [
        &["rules", "--help"][..],
        &["rules", "list", "--help"],
        &["rules", "check", "--help"],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let t = text(&out);
        for flag in [
            "--eve",
            "--workers",
            "--metrics-file",
            "--home-net",
            "--config",
            "--quiet",
        ] {
            assert!(
                !t.contains(flag),
                "{args:?} shows {flag}, which does not apply:\n{t}"
            );
        }
    }
    assert!(text(&run(&["rules", "list", "--help"])).contains("--rules"));
    // the subcommands that use them still show them
    for sub in ["run", "replay", "demo"] {
        let t = text(&run(&[sub, "--help"]));
        for flag in [
            "--eve",
            "--workers",
            "--metrics-file",
            "--home-net",
            "--config",
            "--rules",
            "--quiet",
        ] {
            assert!(t.contains(flag), "{sub} --help lacks {flag}:\n{t}");
        }
    }
    assert_eq!(
        run(&["rules", "--eve", "x.json", "list"]).status.code(),
        Some(2)
    );
}

#[test]
fn rules_list_with_a_folder_before_or_after() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let d = dir.to_str().unwrap();
    let before = run(&["--rules", d, "rules", "list"]);
    let after = run(&["rules", "list", "--rules", d]);
    let builtin = run(&["rules", "list"]);
    assert!(before.status.success(), "{}", text(&before));
    assert!(after.status.success(), "{}", text(&after));
    assert!(before.stdout.len() > 1000);
    assert_eq!(before.stdout, after.stdout);
    assert_eq!(
        before.stdout, builtin.stdout,
        "the rules folder is what the binary embeds"
    );
}

#[test]
fn shared_options_before_or_after_the_subcommand() {
    let dir = tmpdir();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let (ma, mb) = (dir.path().join("a.prom"), dir.path().join("b.prom"));
    let o1 = run(&[
        "--eve",
        a.to_str().unwrap(),
        "--workers",
        "2",
        "--metrics-file",
        ma.to_str().unwrap(),
        "demo",
    ]);
    let o2 = run(&[
        "demo",
        "--eve",
        b.to_str().unwrap(),
        "--workers",
        "2",
        "--metrics-file",
        mb.to_str().unwrap(),
    ]);
    assert!(
        o1.status.success() && o2.status.success(),
        "{}{}",
        text(&o1),
        text(&o2)
    );
    // Two workers: the same flow records, not necessarily in the same order. Alerts and
    // stats are left out: with several workers, which of two alerts of one identity the
    // output thread sees first (and when it reads the counters) varies from run to run.
    let sorted = |p: &std::path::Path| {
        let mut l: Vec<String> = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"event_type\":\"flow\""))
            .map(String::from)
            .collect();
        l.sort();
        l
    };
    let (ea, eb) = (sorted(&a), sorted(&b));
    assert!(ea.len() > 10, "{} EVE flow records", ea.len());
    assert!(
        ea == eb,
        "demo with options before / after the subcommand: EVE differs"
    );
    for m in [&ma, &mb] {
        let t = std::fs::read_to_string(m).unwrap();
        assert!(
            t.contains("spanwatch_worker_packets_total{worker=\"1\"}"),
            "{t}"
        );
    }
    // after the subcommand wins over before it
    let c = dir.path().join("c.json");
    let o3 = run(&[
        "--eve",
        "/nonexistent/dir/x.json",
        "--workers",
        "2",
        "demo",
        "--eve",
        c.to_str().unwrap(),
    ]);
    assert!(o3.status.success(), "{}", text(&o3));
    assert!(sorted(&c) == ea, "EVE of `demo --eve` differs");
}

#[test]
fn summary_puts_ipv6_endpoints_in_brackets() {
    let mut sc = Scene::new(1_700_000_000);
    let (c6, s6) = (
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
    );
    let mut s = sc.tcp_session((c6, 50000), (s6, 5900));
    s.handshake(&mut sc);
    s.server_sends(&mut sc, b"RFB 003.008\n");
    s.client_sends(&mut sc, b"RFB 003.008\n");
    s.server_sends(&mut sc, &[1, 2]);
    s.client_sends(&mut sc, &[2]);
    s.server_sends(&mut sc, &[0x5a; 16]);
    s.client_sends(&mut sc, &[0xa5; 16]);
    s.server_sends(&mut sc, &[0, 0, 0, 0]);
    s.close(&mut sc);
    let dir = tmpdir();
    let (pcap, eve) = (dir.path().join("v6.pcap"), dir.path().join("eve.json"));
    std::fs::write(&pcap, sc.bytes()).unwrap();
    // no -q: the summary is what is looked at
    let out = run(&[
        "replay",
        "--eve",
        eve.to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    let t = text(&out);
    let recs: Vec<serde_json::Value> = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        !alerts(&recs).is_empty(),
        "no alert for the VNC session: {t}"
    );
    assert!(
        t.contains("[2001:db8::1]:50000 → [2001:db8::2]:5900"),
        "summary without brackets around IPv6 endpoints:\n{t}"
    );
}

#[test]
fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tmpdir();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[host]\nstate_file = \"{}\"\n",
            dir.path().join("none.json").display()
        ),
    )
    .unwrap();
    let pcap = dir.path().join("empty.pcap");
    PcapWriter::new(1).write(&pcap).unwrap();
    let out = std::process::Command::new(bin())
        .env("SPANWATCH_LOG", "debug")
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "replay",
            "-q",
            pcap.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("INFO"), "no log line to look at: {err:?}");
    assert!(
        !err.contains('\x1b'),
        "ANSI escape in logs written to a pipe: {err:?}"
    );
}

/// Packet time is the clock: two replays of one capture with one worker write the same EVE
/// file byte for byte, `stats` records included (their counters are read on the capture
/// thread at the tick, not whenever the output thread gets to it).
#[test]
fn replay_with_one_worker_is_byte_identical_stats_included() {
    let dir = tmpdir();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[output]\nstats_interval_s = 1\n").unwrap();
    let mut files = Vec::new();
    for name in ["a.json", "b.json"] {
        let p = dir.path().join(name);
        let o = run(&[
            "demo",
            "--workers",
            "1",
            "--config",
            cfg.to_str().unwrap(),
            "--eve",
            p.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        files.push(std::fs::read_to_string(&p).unwrap());
    }
    let stats = files[0]
        .lines()
        .filter(|l| l.contains("\"event_type\":\"stats\""))
        .count();
    assert!(stats > 2, "only {stats} stats records");
    assert!(files[0] == files[1], "two replays of the demo differ");
}

/// `sensor.name` set: every EVE record of the demo ends with `"sensor": NAME` and is
/// otherwise byte for byte the record written without it (fields in the same order); unset,
/// no record has the field (replay output does not depend on the machine's host name).
#[test]
fn sensor_name_is_the_last_field_of_every_record_when_set() {
    let dir = tmpdir();
    let cfg = dir.path().join("s.toml");
    std::fs::write(&cfg, "[sensor]\nname = \"span-\\\"dc1\\\"\"\n").unwrap();
    let (plain, with) = (dir.path().join("plain.json"), dir.path().join("with.json"));
    let p = run(&["--eve", plain.to_str().unwrap(), "-q", "demo"]);
    assert!(p.status.success(), "{}", text(&p));
    let w = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--eve",
        with.to_str().unwrap(),
        "-q",
        "demo",
    ]);
    assert!(w.status.success(), "{}", text(&w));
    let plain = std::fs::read_to_string(plain).unwrap();
    let with = std::fs::read_to_string(with).unwrap();
    assert!(
        !plain.contains("\"sensor\""),
        "a record without sensor.name has a sensor field"
    );
    let (a, b): (Vec<&str>, Vec<&str>) = (plain.lines().collect(), with.lines().collect());
    assert!(a.len() > 10);
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        let head = b
            .strip_suffix(r#","sensor":"span-\"dc1\""}"#)
            .unwrap_or_else(|| panic!("no sensor field last: {b}"));
        assert_eq!(format!("{head}}}"), *a);
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        assert_eq!(v["sensor"], "span-\"dc1\"");
    }
    assert_schema(
        &b.iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect::<Vec<_>>(),
    );
    // --sensor-name (a DaemonSet passes the node's name) overrides the file's.
    let flag = dir.path().join("flag.json");
    let f = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "--sensor-name",
        "node-7",
        "--eve",
        flag.to_str().unwrap(),
        "-q",
        "demo",
    ]);
    assert!(f.status.success(), "{}", text(&f));
    let flag = std::fs::read_to_string(flag).unwrap();
    assert!(flag.lines().all(|l| l.ends_with(r#","sensor":"node-7"}"#)));
    // A name that cannot be one: exit 2, the key named.
    for bad in [
        "\"\"",
        "\"two words\"",
        "\"tab\\there\"",
        &format!("\"{}\"", "x".repeat(254)),
    ] {
        std::fs::write(&cfg, format!("[sensor]\nname = {bad}\n")).unwrap();
        let o = run(&["--config", cfg.to_str().unwrap(), "-q", "demo"]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(text(&o).contains("sensor.name"), "{bad}: {}", text(&o));
    }
}
