//! Reading a config file: TOML errors name the file, the line, the key and its allowed
//! range; values are then checked.

use super::{range, Config, ConfigError};
use std::path::Path;

/// The dotted key whose value starts at byte `at` of a TOML text, found from the nearest
/// `[table]` header and `key =` before it (for deserialization errors, which name only
/// the line).
fn key_at(text: &str, at: usize) -> Option<String> {
    let before = text.get(..at.min(text.len()))?;
    let mut key = None;
    for line in before.lines().rev() {
        let l = line.trim();
        if l.starts_with('[') {
            let table = l.trim_matches(|c| c == '[' || c == ']').trim();
            return key.map(|k| format!("{table}.{k}"));
        }
        if key.is_none() && !l.starts_with('#') {
            if let Some((k, _)) = l.split_once('=') {
                let k = k.trim().trim_matches('"');
                if !k.is_empty() {
                    key = Some(k.to_string());
                }
            }
        }
    }
    key
}

impl Config {
    /// Read a config file. Errors name the file and, for TOML errors, the line and key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let mut msg = e.message().trim_end().to_string();
            // Type errors (a negative number, a float for an integer, a string) name the
            // key and its range as well.
            if let Some(k) = e.span().and_then(|s| key_at(text, s.start)) {
                if !msg.contains(&k) {
                    msg = format!("{k}: {msg}");
                }
                if let Some(r) = range(&k) {
                    msg = format!("{msg} (allowed: {})", r.describe());
                }
            }
            match line {
                Some(l) => ConfigError(format!("{name}:{l}: {msg}")),
                None => ConfigError(format!("{name}: {msg}")),
            }
        })?;
        cfg.validate()
            .map_err(|m| ConfigError(format!("{name}: {m}")))?;
        Ok(cfg)
    }
}
