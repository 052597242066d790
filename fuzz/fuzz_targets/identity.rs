#![no_main]
//! The identity parsers: Kerberos (UDP and TCP framing), NTLMSSP (raw, HTTP, SMB2, DCE/RPC), LDAP,
//! DHCP and the clear-text login lines. None may panic or allocate without bound.
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::{cleartext, dcerpc, dhcp, krb5, ldap, ntlmssp};

fuzz_target!(|data: &[u8]| {
    let _ = krb5::parse_udp(data);
    let _ = krb5::parse_tcp(data);
    let _ = ntlmssp::parse_authenticate(data);
    let _ = ntlmssp::find_authenticate(data);
    let _ = ntlmssp::bad_authenticate(data);
    let _ = dcerpc::probe(data);
    let _ = dcerpc::parse(data);
    let _ = ntlmssp::parse_smb2_session_setup(data);
    let _ = ntlmssp::from_http_request(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ntlmssp::from_http_authorization(s);
        let _ = cleartext::basic_user(s);
        let _ = cleartext::sasl_plain(s);
    }
    let _ = ldap::parse(data);
    let _ = dhcp::parse(data);
    let _ = cleartext::http_basic(data);
    let _ = cleartext::ftp_command(data);
    let _ = cleartext::pop3_command(data);
    let _ = cleartext::imap_command(data);
    let _ = cleartext::smtp_command(data);
    let _ = cleartext::sasl_login_user(data);
    // The login replies: the data split into a client and a server stream.
    let (cs, sc) = data.split_at(data.len() / 2);
    let _ = cleartext::reply::ftp(cs, sc);
    let _ = cleartext::reply::pop3(cs, sc);
    let _ = cleartext::reply::imap(cs, sc);
    let _ = cleartext::reply::smtp(cs, sc);
    // Behind the signature and the DHCP fixed header, so the fuzzer reaches the fields.
    let mut ntlm = b"NTLMSSP\0\x03\0\0\0".to_vec();
    ntlm.extend_from_slice(data);
    let _ = ntlmssp::parse_authenticate(&ntlm);
    let mut boot = vec![1u8, 1, 6, 0];
    boot.resize(236, 0);
    boot.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    boot.extend_from_slice(data);
    let _ = dhcp::parse(&boot);
});
