//! A WebSocket flow after its upgrade: the protocol its frames carry.

use crate::model::meta::ProxyMeta;
use crate::proto::registry::{classify_tcp, AppProto};
use crate::proto::session::{Opening, Outcome, INNER};
use crate::proto::websocket::payload;

/// Smallest unmasked client payload judged on its randomness alone (see
/// `detect::encrypted`; an inner protocol a probe names needs no such size).
const MIN_RANDOM: usize = 48;

/// After the upgrade (the HTTP reader set `tunnel_off` past both heads): unmask the frames
/// of each side and ask the registry's probes what they carry; a binary stream no probe
/// names that is fully encrypted from its first byte (V2Ray VMess/VLESS over `ws`) is
/// recorded as `fully-encrypted`.
pub fn read(o: &mut Opening) -> Outcome {
    if *o.got & INNER != 0 {
        *o.done = true;
        return Outcome::Continue;
    }
    let (c0, s0) = (o.tunnel_off[0], o.tunnel_off[1]);
    let (ci, cbin) = payload(o.buf[0].get(c0..).unwrap_or(&[]));
    let (si, _) = payload(o.buf[1].get(s0..).unwrap_or(&[]));
    if ci.is_empty() && si.is_empty() {
        return Outcome::Continue;
    }
    let deflate = o
        .meta
        .as_ref()
        .and_then(|m| m.proxy.as_ref())
        .and_then(|p| p.protocol.as_deref())
        == Some("websocket-deflate");
    let inner = match classify_tcp(&ci, &si, o.ports) {
        Some(p) if p != AppProto::Http => Some(p.as_str()),
        Some(_) => None,
        None if cbin
            && !deflate
            && ci.len() >= MIN_RANDOM
            && crate::proto::encrypted::fully_encrypted(&ci) =>
        {
            Some("fully-encrypted")
        }
        None => None,
    };
    if let Some(inner) = inner {
        *o.got |= INNER;
        o.evidence.push(("websocket.inner", inner.to_string()));
        let p = o.meta().proxy.get_or_insert_with(ProxyMeta::default);
        p.protocol = Some("websocket".into());
        p.inner_app_proto = Some(inner);
        match inner {
            "rdp" => *o.tool = Some("rdp"),
            "vnc" => *o.tool = Some("vnc"),
            "ssh" => *o.tool = Some("ssh"),
            _ => {}
        }
        *o.done = true;
    } else if ci.len() >= 256 || si.len() >= 256 || o.gap[0] || o.gap[1] {
        *o.got |= INNER;
        *o.done = true;
    }
    Outcome::Continue
}
