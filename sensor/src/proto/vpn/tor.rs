//! Tor relay TLS link certificates, by the shape of their random names.

/// Tor relay TLS link certificates. Fact: tor src/lib/tls/tortls.c
/// (`tor_tls_context_init_certificates`): the link certificate's subject CN is
/// `crypto_random_hostname(8, 20, "www.", ".net")` and its issuer CN is
/// `crypto_random_hostname(8, 20, "www.", ".com")` (".net" in builds with
/// DISABLE_V3_LINKPROTO_SERVERSIDE and in old releases). The random part is 8..=20
/// characters of lowercase base32 (`a-z`, `2-7`), tor's base32 alphabet.
///
/// Takes the subject and issuer common names (a leading `CN=` is tolerated).
pub fn probe_tor_cert(subject: &str, issuer: &str) -> bool {
    let s = subject.strip_prefix("CN=").unwrap_or(subject);
    let i = issuer.strip_prefix("CN=").unwrap_or(issuer);
    let Some(s_label) = tor_random_label(s, ".net") else {
        return false;
    };
    let Some(i_label) = tor_random_label(i, ".com").or_else(|| tor_random_label(i, ".net")) else {
        return false;
    };
    // Two independent draws: identical labels would be a self-signed imitation.
    s_label != i_label
}

/// A Tor client's ClientHello. Fact: tor src/lib/tls/tortls_openssl.c (`tor_tls_new`): a
/// client sets the SNI to `crypto_random_hostname(4, 25, "www.", ".com")` — 4..=25 characters
/// of lowercase base32 — and offers no ALPN (browsers always do). Names of that shape are
/// also real sites (`www.example.com`), so the label must look drawn at random too: at
/// least 8 characters with a digit of base32's `2-7`, or a run of five consonants, which
/// words and brands rarely have.
///
/// Shorter or word-like draws (a quarter of them) are still Tor when the ClientHello offers
/// Tor's key-exchange groups. Fact: tor src/lib/tls/tortls_openssl.c (`tor_tls_context_new`,
/// `group_lists`): every list it tries ends with P-224 (`P-256:X25519:P-224`, `P-256:P-224`,
/// with hybrid ML-KEM groups first on OpenSSL 3.5), and secp224r1 (group 21) is offered by
/// no browser and by no default OpenSSL, GnuTLS or NSS client.
pub fn probe_tor_sni(sni: &str, alpn_offered: bool, groups: &[u16]) -> bool {
    if alpn_offered {
        return false;
    }
    let Some(label) = sni
        .strip_prefix("www.")
        .and_then(|s| s.strip_suffix(".com"))
    else {
        return false;
    };
    if !(4..=25).contains(&label.len())
        || !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    {
        return false;
    }
    const SECP224R1: u16 = 21;
    if groups.last() == Some(&SECP224R1) {
        return true;
    }
    if label.len() < 8 {
        return false;
    }
    let digit = label.bytes().any(|b| b.is_ascii_digit());
    let mut run = 0;
    let mut consonants = false;
    for b in label.bytes() {
        run = if b.is_ascii_lowercase() && !b"aeiouy".contains(&b) {
            run + 1
        } else {
            0
        };
        consonants |= run >= 5;
    }
    digit || consonants
}

fn tor_random_label<'a>(name: &'a str, tld: &str) -> Option<&'a str> {
    let label = name.strip_prefix("www.")?.strip_suffix(tld)?;
    let ok = (8..=20).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    ok.then_some(label)
}
