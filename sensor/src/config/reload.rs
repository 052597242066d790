//! Reload: which keys of a new configuration a running sensor cannot apply.

use super::Config;

impl Config {
    /// Keys whose value in `new` differs from this (running) configuration and that a
    /// reload does not apply: everything but `rules.dir` is read once at start (workers,
    /// queues, home networks, the capture, the HTTP listener, thresholds, the sink …).
    /// Dotted keys, sorted: `["capture.snaplen", "sensor.workers"]`.
    pub fn restart_keys(&self, new: &Config) -> Vec<String> {
        const RELOADED: &[&str] = &["rules.dir"];
        fn walk(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
            use serde_json::Value::Object;
            match (a, b) {
                (Object(x), Object(y)) => {
                    let keys: std::collections::BTreeSet<&String> =
                        x.keys().chain(y.keys()).collect();
                    for k in keys {
                        let p = if at.is_empty() {
                            k.clone()
                        } else {
                            format!("{at}.{k}")
                        };
                        let null = serde_json::Value::Null;
                        walk(
                            x.get(k).unwrap_or(&null),
                            y.get(k).unwrap_or(&null),
                            &p,
                            out,
                        );
                    }
                }
                _ if a != b => out.push(at.to_string()),
                _ => {}
            }
        }
        let (Ok(a), Ok(b)) = (serde_json::to_value(self), serde_json::to_value(new)) else {
            return vec!["(configuration)".into()];
        };
        let mut out = Vec::new();
        walk(&a, &b, "", &mut out);
        out.retain(|k| !RELOADED.contains(&k.as_str()));
        out
    }
}
