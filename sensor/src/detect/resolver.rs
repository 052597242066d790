//! Encrypted DNS that goes around the organisation's resolver: DNS over TLS (RFC 7858, TCP
//! port 853), DNS over QUIC (RFC 9250, UDP port 853) and DNS over HTTPS (RFC 8484: TLS or
//! QUIC to a public resolver's name or address). The public resolvers are the `resolver`
//! family of `rules/` (names for the TLS SNI, addresses for flows that show no name).
//!
//! The finding is recorded on the flow (`resolver_bypass: {kind, resolver}`); the host stage
//! counts it per host and raises an alert when `[detect.resolver_bypass] alert` asks.

use super::Flow;
use super::{Detector, Inspect};
use crate::decode::{PROTO_TCP, PROTO_UDP};
use crate::flow::{AppProto, Ends, FlowKey};
use crate::model::meta::ResolverBypass;
use crate::rules::Category;

/// Port of DNS over TLS and DNS over QUIC.
const DOT_PORT: u16 = 853;

/// Name a resolver not in the catalogue (port 853 to an address outside the home networks).
pub const UNLISTED: &str = "unlisted";

/// Record the bypass on a flow whose identification just finished.
pub(super) fn check(d: &Detector, key: &FlowKey, flow: &mut Flow, insp: &mut Inspect) {
    if key.proto != PROTO_TCP && key.proto != PROTO_UDP {
        return;
    }
    let e = Ends::of(key, flow.client_is_lo);
    let (server, sport) = (&e.server, e.sport);
    let rules = &d.shared.rules;
    let is_resolver = |id: crate::rules::ToolId| {
        rules
            .tools()
            .get(id as usize)
            .is_some_and(|t| t.category == Category::Resolver)
    };
    let mut resolver = flow.detect.app.filter(|id| is_resolver(*id));
    let addr = crate::model::net::to_ip(key.v6, server);
    if resolver.is_none() && flow.detect.app.is_none() {
        if let Some(id) = rules.match_address(addr).filter(|id| is_resolver(*id)) {
            insp.evidence.push(("address", addr.to_string()));
            flow.detect.app = Some(id);
            resolver = Some(id);
        }
    }
    let tls = flow.app_proto == AppProto::Tls;
    let quic = flow.app_proto == AppProto::Quic;
    let kind = match (key.proto, sport == DOT_PORT) {
        (PROTO_TCP, true) if tls || resolver.is_some() => "dot",
        (PROTO_UDP, true) if quic || resolver.is_some() => "doq",
        (_, false) if resolver.is_some() && (tls || quic) => "doh",
        _ => return,
    };
    let name = match resolver {
        Some(id) => rules.tool(id).id.clone(),
        // An organisation's own DoT/DoQ server inside the home networks is not a bypass.
        None if d.home.contains(key.v6, server) => return,
        None => UNLISTED.to_string(),
    };
    flow.detect.meta_mut().resolver_bypass = Some(ResolverBypass {
        kind,
        resolver: name,
    });
}
