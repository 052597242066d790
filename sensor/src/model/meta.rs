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
    pub proxy: Option<ProxyMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdp: Option<RdpMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver_bypass: Option<ResolverBypass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rfb: Option<RfbMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stun: Option<StunMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsMeta>,
}

impl FlowMeta {
    /// The SNI or HTTP Host the client asked for, when any.
    pub fn client_named_server(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.sni.is_some())
            || self.http.as_ref().is_some_and(|h| h.hostname.is_some())
    }
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpsecMeta {
    /// AH mode: `tunnel` or `transport`.
    pub ah: &'static str,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
