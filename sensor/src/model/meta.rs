//! What the protocol parsers learned about one flow, typed. Serialised into the flow
//! record under Suricata's names (`tls`, `ssh`, `rdp`, `rfb`, `http`, `dns` …).
//!
//! Field order is the JSON key order: every struct lists its fields alphabetically by their
//! JSON name, which is the order the records had when this was a JSON map.

use serde::Serialize;
use std::collections::BTreeMap;

/// Every part is absent until a parser fills it in.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlowMeta {
    /// The account the flow authenticated as, when a parser saw it in clear (Kerberos
    /// `cname@realm`, NTLM `domain\user`, an LDAP bind DN, an HTTP Basic, FTP, POP3,
    /// IMAP or SMTP login name). Never a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcerpc: Option<DcerpcMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<DhcpMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsMeta>,
    /// What named the product (`kind=value`), kept once identification is over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipsec: Option<IpsecMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub krb5: Option<Krb5Meta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ldap: Option<LdapMeta>,
    /// FTP, POP3, IMAP, SMTP: the server's answer to the client's login command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mdns: Option<MdnsMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netbios: Option<NetbiosMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<QuicMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdp: Option<RdpMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver_bypass: Option<ResolverBypass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rfb: Option<RfbMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb: Option<SmbMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssdp: Option<SsdpMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stun: Option<StunMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsMeta>,
    /// Another protocol carried inside this one (SSH inside TLS, a byte stream inside HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped: Option<WrappedMeta>,
}

impl FlowMeta {
    /// The SNI or HTTP Host the client asked for, when any.
    pub fn client_named_server(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.sni.is_some())
            || self.quic.as_ref().is_some_and(|q| q.sni.is_some())
            || self.http.as_ref().is_some_and(|h| h.hostname.is_some())
    }
}

/// DCE/RPC over TCP: the PDU (`BIND`, `ALTER_CONTEXT`, `AUTH3`) whose auth verifier
/// carried an NTLMSSP AUTHENTICATE.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DcerpcMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntlmssp: Option<NtlmsspMeta>,
    pub request: &'static str,
}

/// A DHCP message (Suricata's `dhcp` record): what a device says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DhcpMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub client_mac: String,
    /// `discover`, `offer`, `request`, `ack` …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp_type: Option<&'static str>,
    /// Option 12.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub id: u32,
    /// Option 55, the parameter request list in the order sent ("1,3,6,15"): the device
    /// fingerprint fingerbank and nDPI print.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_ip: Option<String>,
    /// `request` or `reply`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Option 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_class_identifier: Option<String>,
}

/// Multicast DNS / DNS-SD (UDP 5353): what the flow's messages name, lists capped at 16.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MdnsMeta {
    /// A response with names came from the flow's server side (not serialised).
    #[serde(skip)]
    pub announced: bool,
    /// Host names of A/AAAA records and SRV targets (lowercase, `.local` removed): the
    /// responding device's own names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Service instance names of PTR and SRV records, as sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
    /// Names the flow's queries asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
    /// The names were announced by the flow's server (not serialised).
    #[serde(skip)]
    pub responder_is_server: bool,
    /// Service types (`_http._tcp`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// `query` or `response`: the flow's first message.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// NetBIOS name service (UDP 137) or datagram service (UDP 138).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetbiosMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<NetbiosBrowserMeta>,
    /// The names were claimed by the flow's server (a node status answer; not serialised).
    #[serde(skip)]
    pub claimed_by_server: bool,
    /// Names the sender claims as its own (registered, refreshed, announced, a datagram's
    /// source, a node status answer), lowercase, without suffix: the device's names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// The first message's first name, lowercase (nDPI's host name of the flow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every name as `NAME<xx>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// The first message's operation (`query`, `registration`, `refresh`, `release`,
    /// `broadcast`, `direct_group` …).
    pub op: &'static str,
    /// `ns` (UDP 137) or `dgm` (UDP 138).
    pub service: &'static str,
    /// `request` or `response`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A browser announcement (MS-BRWS) in a NetBIOS datagram.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetbiosBrowserMeta {
    pub command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub os_version: String,
    pub server_name: String,
}

/// SSDP (UDP 1900): what a device says of itself in a notify or a search answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SsdpMeta {
    /// The device's own words came from the flow's server (a search answer; not
    /// serialised).
    #[serde(skip)]
    pub from_server: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `NT` or `ST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `notify`, `m-search` or `response`: the flow's first message.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DnsMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcode: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rrname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rrtype: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpMeta {
    /// A UPnP device description's `<friendlyName>` in the response body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<String>,
    /// NTLMSSP AUTHENTICATE names of an `Authorization: NTLM|Negotiate` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntlmssp: Option<NtlmsspMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The `<title>` of an HTML response body in the opening bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpsecMeta {
    /// AH mode: `tunnel` or `transport`.
    pub ah: &'static str,
}

/// A Kerberos exchange (Suricata's `krb5` record): the request's names and the KDC's
/// error, if it refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Krb5Meta {
    /// Client principal, components joined by '/' (absent from a TGS-REQ: it is encrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cname: Option<String>,
    /// Encryption types the client offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption: Vec<i32>,
    /// KRB-ERROR code (RFC 4120 §7.5.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
    /// A failed login: pre-authentication failed, unknown client, bad integrity.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failed_request: bool,
    /// `KRB_AS_REQ`, `KRB_TGS_REQ` … (the request when one was seen).
    pub msg_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Service principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sname: Option<String>,
}

/// An LDAP bind (after Suricata's `ldap` record): the request, never its password, and
/// the server's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LdapMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<LdapBind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<LdapResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LdapBind {
    pub bind_request: LdapBindRequest,
    pub message_id: i64,
    pub operation: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LdapBindRequest {
    /// `simple`, `sasl` or `sicily`.
    pub auth: &'static str,
    /// The bind DN (empty for an anonymous or SASL bind).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntlmssp: Option<NtlmsspMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl: Option<LdapSasl>,
    pub version: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LdapSasl {
    pub mechanism: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LdapResult {
    pub bind_response: LdapBindResponse,
    pub message_id: i64,
    pub operation: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LdapBindResponse {
    /// RFC 4511 §4.1.9 name, e.g. `success`, `invalid_credentials`.
    pub result_code: &'static str,
}

/// The server's answer to a clear-text login (FTP, POP3, IMAP, SMTP): the command it
/// answered and its reply code or status word, never the text that follows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoginMeta {
    /// `USER`, `PASS`, `ACCT`, `APOP`, `AUTH`, `LOGIN` or `AUTHENTICATE`.
    pub command: &'static str,
    /// The login was refused: FTP `530`, SMTP `535`, POP3 `-ERR`, IMAP `NO` or `BAD`.
    pub failed: bool,
    /// `230`, `530`, `235`, `535`, `+OK`, `-ERR`, `OK`, `NO` or `BAD`.
    pub reply: String,
}

/// Names of an NTLMSSP AUTHENTICATE message (Suricata's `smb.ntlmssp`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NtlmsspMeta {
    pub domain: String,
    /// The client's workstation.
    pub host: String,
    pub user: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProxyMeta {
    /// The client a PROXY protocol header names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The protocol seen inside the tunnel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_app_proto: Option<&'static str>,
    /// `proxy-v1`, `proxy-v2` (PROXY header) or `http-forward`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `host:port` asked of the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RdpMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_protocols: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_protocol: Option<&'static str>,
}

/// Kinds of resolver bypass: the bounded `kind` label of
/// `spanwatch_resolver_bypass_flows_total` and `resolver_bypass.kind` in EVE.
pub const RESOLVER_KINDS: [&str; 3] = ["dot", "doh", "doq"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolverBypass {
    /// `dot`, `doq` or `doh`.
    pub kind: &'static str,
    /// The catalogue entry of the resolver, or `unlisted`.
    pub resolver: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RfbMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_protocol_version: Option<Version>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_type_selected: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_type_selected_id: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_types: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_protocol_version: Option<Version>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hassh {
    pub hash: String,
    pub string: String,
}

/// One side's banner and key-exchange fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SshSide {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hassh: Option<Hassh>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hassh_server: Option<Hassh>,
    pub proto_version: String,
    pub software_version: String,
}

/// An SMB2 session setup (after Suricata's `smb` record).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SmbMeta {
    /// `SMB2_COMMAND_SESSION_SETUP`.
    pub command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntlmssp: Option<NtlmsspMeta>,
    /// The last response's NT status name (`STATUS_SUCCESS`, `STATUS_LOGON_FAILURE` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// The same as hex (`0xc000006d`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SshTransfer {
    /// `to_server` or `to_client`.
    pub direction: &'static str,
    pub payload_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SshMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<SshSide>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<SshSide>,
    /// The session's shape (`interactive`, `forwarding`, `transfer` …), at record time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<BTreeMap<&'static str, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<SshTransfer>,
}

impl SshMeta {
    /// The client's (`dir` 0) or the server's (1) side.
    pub fn side_mut(&mut self, dir: usize) -> &mut Option<SshSide> {
        if dir == 0 {
            &mut self.client
        } else {
            &mut self.server
        }
    }
}

/// What `detect::wrapped` found inside a TLS or HTTP flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WrappedMeta {
    /// 0–100: how sure the shape makes it.
    pub confidence: u8,
    /// The wrapped protocol (`ssh`, `stream`: bytes of an unknown protocol, `dns-tunnel`).
    pub inner: &'static str,
    /// The wrapper (`tls`, `http`, `doh`, `dot`).
    pub outer: &'static str,
    /// The inner session's shape when it is SSH (`interactive`, `forwarding` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<&'static str>,
    /// The tool whose traits were seen (`httptunnel`), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<&'static str>,
    /// What the verdict rests on (`name=value`).
    pub traits: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StunMeta {
    pub software: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TlsMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_selected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuerdn: Option<String>,
    /// The client's JA3 (Suricata's `tls.ja3.hash` / `tls.ja3.string`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<Ja3>,
    /// The server's JA3S (Suricata's `tls.ja3s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<Ja3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    /// The server's JA4S.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4s: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A JA3 or JA3S fingerprint as Suricata logs it: the MD5 and the string it hashes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ja3 {
    pub hash: String,
    pub string: String,
}

/// A QUIC connection's Initial packets, decrypted (Suricata's `quic` record: `version`,
/// `sni`, `ja3`, `ja3s`, `ja4`; `alpn`, `alpn_selected` and `ja4s` as in `tls`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QuicMeta {
    /// The ClientHello's ALPN list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<Vec<String>>,
    /// The ServerHello's ALPN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_selected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<Ja3>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<Ja3>,
    /// JA4 with the `q` prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4s: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The version of the Initial packets, in hex as Suricata writes it ("1", "6b3343cf",
    /// "ff00001d").
    pub version: String,
}
