//! `basic_auth_users`: bcrypt hashes checked once per user and password, with a cache of
//! successful checks.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

/// `basic_auth_users`: user → bcrypt hash. Successful checks are remembered (keyed by a
/// SHA-256 of user, password and hash, never the password itself) so a scrape every few
/// seconds does not pay bcrypt's cost each time; failures always pay it.
pub struct BasicAuth {
    pub(super) users: BTreeMap<String, String>,
    /// Checked for unknown users, so that they take as long as known ones.
    dummy: String,
    ok_cache: Mutex<HashSet<[u8; 32]>>,
}

const CACHE_MAX: usize = 1024;

impl BasicAuth {
    pub(super) fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, String> {
        let mut cost = 10;
        for (u, h) in &users {
            cost = bcrypt_cost(h).ok_or_else(|| {
                format!("basic_auth_users.{u}: not a bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31, 60 characters)")
            })?;
        }
        let dummy = bcrypt::hash("spanwatch-no-such-user", cost)
            .map_err(|e| format!("basic_auth_users: {e}"))?;
        Ok(BasicAuth {
            users,
            dummy,
            ok_cache: Mutex::new(HashSet::new()),
        })
    }

    fn cache_key(user: &str, pass: &str, hash: &str) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in [user, pass, hash] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    /// A cached answer, if there is one (cheap; call before [`BasicAuth::verify_slow`]).
    pub fn verify_cached(&self, user: &str, pass: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let k = Self::cache_key(user, pass, hash);
        self.ok_cache
            .lock()
            .map(|c| c.contains(&k))
            .unwrap_or(false)
    }

    /// The bcrypt check (tens of milliseconds: run it off the async thread).
    pub fn verify_slow(&self, user: &str, pass: &str) -> bool {
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (self.dummy.as_str(), false),
        };
        let ok = bcrypt::verify(pass, hash).unwrap_or(false) && known;
        if ok {
            if let Ok(mut c) = self.ok_cache.lock() {
                if c.len() >= CACHE_MAX {
                    c.clear();
                }
                c.insert(Self::cache_key(user, pass, hash));
            }
        }
        ok
    }
}

/// The cost of a well-formed bcrypt hash (`$2y$10$` + 53 characters of bcrypt's base64).
pub(super) fn bcrypt_cost(h: &str) -> Option<u32> {
    let b = h.as_bytes();
    if b.len() != 60 || !(h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$")) {
        return None;
    }
    if b[6] != b'$' {
        return None;
    }
    let cost: u32 = h[4..6].parse().ok()?;
    if !(4..=31).contains(&cost) {
        return None;
    }
    h[7..]
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'/')
        .then_some(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_shape() {
        let h = bcrypt::hash("pw", 4).unwrap();
        assert_eq!(bcrypt_cost(&h), Some(4));
        assert_eq!(bcrypt_cost("$2y$10$short"), None);
        assert_eq!(bcrypt_cost(&h.replace("$04$", "$99$")), None);
        let mut u = BTreeMap::new();
        u.insert("prom".to_string(), h);
        let a = BasicAuth::new(u).unwrap();
        assert!(!a.verify_cached("prom", "pw"));
        assert!(a.verify_slow("prom", "pw"));
        assert!(a.verify_cached("prom", "pw"));
        assert!(!a.verify_slow("prom", "wrong"));
        assert!(!a.verify_slow("nobody", "pw"));
        assert!(!a.verify_cached("prom", "wrong"));
    }
}
