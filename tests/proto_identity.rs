//! The identity parsers (proto::{krb5, ntlmssp, ldap, dhcp, cleartext}) over captures of
//! real programs: the recorded fixture of tests/live/identity.sh (MIT Kerberos, OpenLDAP,
//! dnsmasq + udhcpc, curl) and the public corpus (../shared/corpus, not part of this
//! repository). The names they extract are the ones Wireshark's dissectors show
//! (`tshark -T fields -e kerberos.CNameString -e kerberos.realm …`, recorded below) and
//! that nDPI's results in the corpus list; no capture makes a parser panic.

mod common;

use spanwatch::capture::file::CaptureFile;
use spanwatch::decode::{decode, Decoded};
use spanwatch::proto::{cleartext, dhcp, krb5, ldap, ntlmssp, Parsed};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One line per message the parsers understood, e.g. "krb5 KRB_AS_REQ johnson-pc$@happycraft.org".
fn identities(pcap: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut f = CaptureFile::open(pcap).unwrap();
    while let Some(p) = f.next() {
        let Decoded::Ip(info) = decode(p.linktype, p.data) else {
            continue;
        };
        let pl = info.payload(p.data);
        let port = |n: u16| info.sport == n || info.dport == n;
        let tcp = info.proto == 6;
        if port(88) {
            let m = if tcp {
                krb5::parse_tcp(pl)
            } else {
                krb5::parse_udp(pl)
            };
            if let Some(m) = m.done() {
                out.insert(format!(
                    "krb5{} {} {}@{} {} {:?} {}",
                    if tcp { "" } else { "/udp" },
                    m.msg_type,
                    m.cname.unwrap_or_default(),
                    m.realm.unwrap_or_default(),
                    m.sname.unwrap_or_default(),
                    m.error_code,
                    m.failed
                ));
            }
        }
        if tcp && port(389) {
            let mut rest = pl;
            while let Parsed::Done { value, consumed } = ldap::parse(rest) {
                if let Some(b) = value.bind_request {
                    out.insert(format!(
                        "ldap bind {} {:?} {:?} {:?}",
                        b.auth,
                        b.name,
                        b.sasl_mechanism,
                        b.ntlmssp.map(|n| n.user)
                    ));
                }
                if let Some(r) = value.bind_response {
                    out.insert(format!("ldap bind_response {}", r.result));
                }
                rest = &rest[consumed..];
            }
        }
        if tcp && port(445) {
            if let Some(Some(s)) = ntlmssp::parse_smb2_session_setup(pl).done() {
                if !s.request {
                    out.insert(format!("smb2 session_setup response {:#010x}", s.status));
                }
                if let Some(n) = s.ntlmssp {
                    out.insert(format!("ntlmssp {}\\{} {}", n.domain, n.user, n.host));
                }
            }
        }
        if tcp && port(8081) {
            if let Some(Some(n)) = ntlmssp::from_http_request(pl).done() {
                out.insert(format!("ntlmssp {}\\{} {}", n.domain, n.user, n.host));
            }
        }
        if tcp && port(8080) {
            if let Some(Some(l)) = cleartext::http_basic(pl).done() {
                out.insert(format!("{} {} {}", l.proto, l.method, l.user));
            }
        }
        if !tcp && (port(67) || port(68)) {
            if let Some(d) = dhcp::parse(pl).done() {
                out.insert(format!(
                    "dhcp {:?} {} {:?} {:?} {:?}",
                    d.dhcp_type, d.client_mac, d.hostname, d.vendor_class_identifier, d.params
                ));
            }
        }
    }
    out
}

/// tests/fixtures/live-identity.pcap as tshark shows it: Kerberos over UDP then TCP
/// (kinit: good password after the KDC asks for pre-authentication, wrong password,
/// unknown principal), LDAP simple binds (good, wrong password), DHCP (udhcpc -x
/// hostname:laptop-a -V spanwatch-test), HTTP Basic (curl -u carol:…) and HTTP NTLM
/// (curl --ntlm -u 'TESTDOM\dave:…', which names its workstation WORKSTATION) and SMB2
/// with NTLM (smbclient -U erin%… with netbios name LAPTOP-A; smbd maps the unknown user to
/// guest: MORE_PROCESSING_REQUIRED, then success).
const LIVE_IDENTITY: &[&str] = &[
    "dhcp Some(\"ack\") 26:ea:66:31:cd:6e Some(\"laptop-a\") None None",
    "dhcp Some(\"discover\") 26:ea:66:31:cd:6e Some(\"laptop-a\") Some(\"spanwatch-test\") Some(\"1,3,6,12,15,28,42\")",
    "dhcp Some(\"offer\") 26:ea:66:31:cd:6e None None None",
    "dhcp Some(\"request\") 26:ea:66:31:cd:6e Some(\"laptop-a\") Some(\"spanwatch-test\") Some(\"1,3,6,12,15,28,42\")",
    "http basic carol",
    "krb5 KRB_AS_REP alice@EXAMPLE.TEST  None false",
    "krb5 KRB_AS_REQ alice@EXAMPLE.TEST krbtgt/EXAMPLE.TEST None false",
    "krb5 KRB_ERROR alice@EXAMPLE.TEST krbtgt/EXAMPLE.TEST Some(25) false",
    "krb5/udp KRB_AS_REP alice@EXAMPLE.TEST  None false",
    "krb5/udp KRB_AS_REQ alice@EXAMPLE.TEST krbtgt/EXAMPLE.TEST None false",
    "krb5/udp KRB_AS_REQ mallory@EXAMPLE.TEST krbtgt/EXAMPLE.TEST None false",
    "krb5/udp KRB_ERROR alice@EXAMPLE.TEST krbtgt/EXAMPLE.TEST Some(24) true",
    "krb5/udp KRB_ERROR alice@EXAMPLE.TEST krbtgt/EXAMPLE.TEST Some(25) false",
    "krb5/udp KRB_ERROR mallory@EXAMPLE.TEST krbtgt/EXAMPLE.TEST Some(6) true",
    "ldap bind simple \"cn=admin,dc=example,dc=test\" None None",
    "ldap bind_response invalid_credentials",
    "ldap bind_response success",
    "ntlmssp TESTDOM\\dave WORKSTATION",
    "ntlmssp TESTDOM\\erin LAPTOP-A",
    "smb2 session_setup response 0x00000000",
    "smb2 session_setup response 0xc0000016",
];

#[test]
fn recorded_programs_match_wireshark() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-identity.pcap");
    let got: Vec<String> = identities(&p).into_iter().collect();
    assert_eq!(got, LIVE_IDENTITY);
    // Passwords never reach what the parsers return.
    assert!(!got.iter().any(|l| l.contains("-pw")), "{got:#?}");
}

/// The same recording replayed through the sensor with `failed_logins = 1` from one source:
/// each refused login — kinit with a wrong password (KDC_ERR_PREAUTH_FAILED), the unknown
/// mallory (KDC_ERR_C_PRINCIPAL_UNKNOWN), slapd's invalidCredentials (49) — raises the
/// failed-logins alert for its account; the accepted ones (alice's kinit after the KDC asked
/// for pre-authentication, smbclient mapped to guest, curl's Basic and NTLM logins) do not.
#[test]
fn recorded_refusals_feed_the_failed_logins_alert() {
    let dir = common::tmpdir();
    let cfg = dir.path().join("spanwatch.toml");
    std::fs::write(
        &cfg,
        "[host.accounts]\nfailed_logins = 1\nfailed_sources = 1\n",
    )
    .unwrap();
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-identity.pcap");
    let (recs, out) = common::replay(&p, &["--config", cfg.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let failed: BTreeSet<String> = common::alerts(&recs)
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 9_300_083)
        .map(|a| {
            let who = a["alert"]["metadata"]["account"][0].as_str().unwrap();
            format!("{} {who}", a["app_proto"].as_str().unwrap())
        })
        .collect();
    let want = [
        "krb5 alice@EXAMPLE.TEST",
        "krb5 mallory@EXAMPLE.TEST",
        "ldap cn=admin,dc=example,dc=test",
    ];
    assert_eq!(failed.iter().map(String::as_str).collect::<Vec<_>>(), want);
}

fn pcap(dir: &Path, name: &str) -> PathBuf {
    dir.join("ndpi/pcap").join(name)
}

/// Kerberos messages as `tshark -Y kerberos -T fields -e kerberos.msg_type
/// -e kerberos.CNameString -e kerberos.realm -e kerberos.crealm -e kerberos.SNameString
/// -e kerberos.error_code` shows them (Wireshark 4.x), in this test's line format.
const KERBEROS_PCAP: &[&str] = &[
    "krb5 KRB_AS_REQ JOHNSON-PC$@HAPPYCRAFT.ORG krbtgt/HAPPYCRAFT.ORG None false",
    "krb5 KRB_AS_REQ johnson-pc$@HAPPYCRAFT.ORG krbtgt/HAPPYCRAFT.ORG None false",
    "krb5 KRB_AS_REQ johnson-pc$@happycraft.org krbtgt/happycraft.org None false",
    "krb5 KRB_AS_REQ theresa.johnson@HAPPYCRAFT krbtgt/HAPPYCRAFT None false",
    "krb5 KRB_ERROR @HAPPYCRAFT krbtgt/HAPPYCRAFT Some(25) false",
    "krb5 KRB_ERROR @HAPPYCRAFT.ORG johnson-pc$@HAPPYCRAFT.ORG Some(13) false",
    "krb5 KRB_ERROR @HAPPYCRAFT.ORG krbtgt/HAPPYCRAFT.ORG Some(25) false",
    "krb5 KRB_ERROR @happycraft.org krbtgt/happycraft.org Some(25) false",
    "krb5 KRB_TGS_REP JOHNSON-PC$@HAPPYCRAFT.ORG  None false",
    "krb5 KRB_TGS_REQ @HAPPYCRAFT.ORG johnson-pc$@HAPPYCRAFT.ORG None false",
    "krb5 KRB_TGS_REQ @HAPPYCRAFT.ORG krbtgt/HAPPYCRAFT.ORG None false",
    "ldap bind_response success",
    "smb2 session_setup response 0x00000000",
];
const KERBEROS_LOGIN_PCAP: &[&str] = &[
    "krb5 KRB_TGS_REP UBUNTU64A$@TESTBED1.CA  None false",
    "krb5 KRB_TGS_REQ @TESTBED1.CA ldap/dc None false",
    "krb5/udp KRB_TGS_REP des@DENYDC.COM  None false",
    "krb5/udp KRB_TGS_REP u5@DENYDC.COM  None false",
    "krb5/udp KRB_TGS_REP xp1$@DENYDC.COM  None false",
    "krb5/udp KRB_TGS_REQ @DENYDC.COM LDAP/vpc-w2k3ent.denyDC.com None false",
    "krb5/udp KRB_TGS_REQ @DENYDC.COM cifs/VPC-W2K3ENT None false",
    "krb5/udp KRB_TGS_REQ @DENYDC.COM cifs/vpc-w2k3ent.denydc.com None false",
    "krb5/udp KRB_TGS_REQ @DENYDC.COM host/xp1.denydc.com None false",
    "krb5/udp KRB_TGS_REQ @DENYDC.COM krbtgt/DENYDC.COM None false",
    "krb5/udp KRB_TGS_REQ @DENYDC.COM ldap/vpc-w2k3ent.denyDC.com/denyDC.com None false",
];
const KERBEROS_ERROR_PCAP: &[&str] = &[
    "krb5/udp KRB_AS_REQ host/mus-n-cj0709@LINUX.SHELL.COM krbtgt/LINUX.SHELL.COM None false",
    "krb5/udp KRB_ERROR @LINUX.SHELL.COM krbtgt/LINUX.SHELL.COM Some(52) false",
];
/// DHCP as `tshark -Y dhcp -T fields -e dhcp.option.dhcp -e dhcp.hw.mac_addr
/// -e dhcp.option.hostname -e dhcp.option.vendor_class_id -e dhcp.option.request_list_item`.
const ANDROID_PCAP: &[&str] = &[
    "dhcp Some(\"ack\") 4c:6a:f6:9f:f6:27 None None None",
    "dhcp Some(\"discover\") 4c:6a:f6:9f:f6:27 None Some(\"android-dhcp-9\") Some(\"1,3,6,15,26,28,51,58,59,43\")",
    "dhcp Some(\"discover\") d8:30:62:56:00:1c Some(\"Lucas-iMac\") None Some(\"1,121,3,6,15,119,252,95,44,46\")",
    "dhcp Some(\"offer\") 4c:6a:f6:9f:f6:27 None None None",
    "dhcp Some(\"request\") 4c:6a:f6:9f:f6:27 None Some(\"android-dhcp-9\") Some(\"1,3,6,15,26,28,51,58,59,43\")",
];

#[test]
fn names_match_wireshark() {
    let Some(dir) = common::corpus() else {
        eprintln!(
            "SKIPPED: ../shared/corpus is not present; the identity-parser corpus check needs it"
        );
        return;
    };
    for (name, want) in [
        ("kerberos.pcap", KERBEROS_PCAP),
        ("kerberos-login.pcap", KERBEROS_LOGIN_PCAP),
        ("kerberos-error.pcap", KERBEROS_ERROR_PCAP),
        ("android.pcap", ANDROID_PCAP),
    ] {
        let got: Vec<String> = identities(&pcap(&dir, name)).into_iter().collect();
        assert_eq!(got, want, "{name}");
    }
}

/// nDPI prints a Kerberos flow's client as `[realm\name]` (lower case, a machine
/// account's `$` and a service's prefix dropped) and a DHCP flow's host name and
/// parameter-request-list fingerprint; each must be among what the parsers found.
#[test]
fn names_match_ndpi_results() {
    let Some(dir) = common::corpus() else {
        eprintln!(
            "SKIPPED: ../shared/corpus is not present; the identity-parser corpus check needs it"
        );
        return;
    };
    let mut checked = 0;
    for name in [
        "kerberos.pcap",
        "kerberos-login.pcap",
        "kerberos-error.pcap",
        "android.pcap",
        "iphone.pcap",
    ] {
        let ours = identities(&pcap(&dir, name));
        let ours_lc: Vec<String> = ours.iter().map(|l| l.to_lowercase()).collect();
        let out =
            std::fs::read_to_string(dir.join("ndpi/result").join(format!("{name}.out"))).unwrap();
        for line in out.lines() {
            if line.contains("/Kerberos]") {
                for part in line.split('[').filter_map(|p| p.strip_suffix(']')) {
                    let Some((realm, user)) = part.split_once('\\') else {
                        continue;
                    };
                    let found = ours.iter().filter_map(|l| l.split(' ').nth(2)).any(|p| {
                        let (c, r) = p.rsplit_once('@').unwrap_or((p, ""));
                        let last = c.rsplit('/').next().unwrap_or(c).trim_end_matches('$');
                        last.eq_ignore_ascii_case(user) && r.eq_ignore_ascii_case(realm)
                    });
                    assert!(found, "{name}: nDPI shows {realm}\\{user}; ours: {ours:#?}");
                    checked += 1;
                }
            }
            if line.contains("/DHCP]") {
                if let Some(fp) = line
                    .split("[DHCP Fingerprint: ")
                    .nth(1)
                    .and_then(|s| s.split(']').next())
                {
                    assert!(
                        ours.iter().any(|l| l.contains(&format!("\"{fp}\""))),
                        "{name}: fingerprint {fp}"
                    );
                    checked += 1;
                }
                if let Some(h) = line
                    .split("[Hostname/SNI: ")
                    .nth(1)
                    .and_then(|s| s.split(']').next())
                {
                    assert!(
                        ours_lc.iter().any(|l| l.contains(&format!("\"{h}\""))),
                        "{name}: host name {h}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} nDPI names compared");
}

/// Captures made to crash dissectors: parsed without a panic.
#[test]
fn fuzz_captures_do_not_panic() {
    let Some(dir) = common::corpus() else {
        eprintln!(
            "SKIPPED: ../shared/corpus is not present; the identity-parser corpus check needs it"
        );
        return;
    };
    for name in [
        "kerberos_fuzz.pcapng",
        "dhcp-fuzz.pcapng",
        "fuzz-2006-06-26-2594.pcap",
    ] {
        let _ = identities(&pcap(&dir, name));
    }
}
