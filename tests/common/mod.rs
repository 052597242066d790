//! Helpers shared by the integration tests: run the binary, read EVE, check the schema.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_spanwatch"))
}

pub fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Run `spanwatch ARGS…` and return its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run spanwatch")
}

/// Replay `pcap` with extra args; return (EVE records, output).
pub fn replay(pcap: &Path, extra: &[&str]) -> (Vec<Value>, Output) {
    let dir = tmpdir();
    let eve = dir.path().join("eve.json");
    let mut args = vec!["replay", "-q", "--eve", eve.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(pcap.to_str().unwrap());
    let out = run(&args);
    let text = std::fs::read_to_string(&eve).unwrap_or_default();
    let recs = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("EVE line is JSON"))
        .collect();
    (recs, out)
}

/// Write a capture built by the testkit to a temp file and replay it.
pub fn replay_bytes(bytes: &[u8], extra: &[&str]) -> (Vec<Value>, Output) {
    let dir = tmpdir();
    let p = dir.path().join("in.pcap");
    std::fs::write(&p, bytes).unwrap();
    replay(&p, extra)
}

/// Replay a capture built by the testkit, which must succeed, and return its records after
/// checking each against the EVE schema.
pub fn replay_checked(bytes: &[u8], extra: &[&str]) -> Vec<Value> {
    succeeded("replay", replay_bytes(bytes, extra))
}

/// A replay's records, after checking it exited 0 (else the message names `what` and quotes
/// its stderr) and each record against the EVE schema.
fn succeeded(what: &str, (recs, out): (Vec<Value>, Output)) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_schema(&recs);
    recs
}

pub fn flows(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["event_type"] == "flow").collect()
}

pub fn alerts(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["event_type"] == "alert").collect()
}

pub fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sensor/schema/eve.schema.json"),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&v)
        .expect("schema compiles")
}

/// Assert every record validates against the committed EVE schema.
pub fn assert_schema(recs: &[Value]) {
    let s = schema();
    for r in recs {
        let errs: Vec<String> = s
            .iter_errors(r)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errs.is_empty(),
            "record does not match sensor/schema/eve.schema.json: {errs:?}\n{r}"
        );
    }
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|c| c.is_file())
    })
}

/// A prerequisite of a test is missing on this machine (a tool, root): print SKIPPED with the
/// reason, or under `CI=true` fail the test, since CI installs everything the tests use.
pub fn missing_prerequisite(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (under CI=true a missing prerequisite fails the test)");
    }
    eprintln!("SKIPPED: {why}");
}

/// Replay `bytes` with `home_net = ["10.0.0.0/8"]` (the generated captures' addresses), checked.
pub fn replay_home(bytes: &[u8]) -> Vec<Value> {
    let dir = tmpdir();
    let cfg = dir.path().join("spanwatch.toml");
    std::fs::write(&cfg, "[sensor]\nhome_net = [\"10.0.0.0/8\"]\n").unwrap();
    replay_checked(bytes, &["--config", cfg.to_str().unwrap()])
}

/// The alerts of signature `sid`.
pub fn by_sid(recs: &[Value], sid: u64) -> Vec<&Value> {
    alerts(recs)
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == sid)
        .collect()
}

/// Replay `tests/fixtures/<name>` (a recording of real programs), checked.
pub fn fixture(name: &str) -> Vec<Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    succeeded(name, replay(&p, &[]))
}

/// The shared corpus of public captures beside the repository (`../shared/corpus`), when
/// present.
pub fn corpus() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    d.join("labels.tsv").is_file().then_some(d)
}

/// nDPI's own results in the corpus (`ndpi/result/<capture>.out`), sorted: (the result's
/// file name, the capture's path under `ndpi/pcap`, the result's text).
pub fn ndpi_results(dir: &Path) -> Vec<(String, PathBuf, String)> {
    let mut results: Vec<PathBuf> = std::fs::read_dir(dir.join("ndpi/result"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    results.sort();
    results
        .into_iter()
        .map(|res| {
            let text = std::fs::read_to_string(&res).unwrap_or_default();
            let name = res.file_name().unwrap().to_string_lossy().to_string();
            let pcap = dir.join("ndpi/pcap").join(name.trim_end_matches(".out"));
            (name, pcap, text)
        })
        .collect()
}

/// "ip:port" of an nDPI endpoint (IPv6 in brackets or not) as an EVE record writes it.
pub fn ndpi_endpoint(s: &str) -> Option<(String, u16)> {
    let (ip, port) = s.rsplit_once(':')?;
    Some((
        ip.trim_matches(|c| c == '[' || c == ']').to_string(),
        port.parse().ok()?,
    ))
}
