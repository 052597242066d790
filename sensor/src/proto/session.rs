//! What a protocol's opening reader sees of a flow and may change: the opening bytes of
//! each direction, the typed metadata, the evidence that names a product, the catalogue to
//! name it with, and how far the opening is read. The detection engine (`detect`) builds
//! one per inspected packet from the flow it owns; the readers in this folder never see the
//! flow table, the worker or the other protocols' state.

use crate::model::meta::FlowMeta;
use crate::rules::{Catalogue, ToolId};

use super::registry::AppProto;

// Parts of an opening already parsed (bits of `Opening::got`).
/// The client's first message (ClientHello, X.224 CR, banner, request …).
pub const C1: u32 = 1;
/// The server's first message.
pub const S1: u32 = 2;
/// The client's second (SSH KEXINIT, RFB security choice).
pub const C2: u32 = 4;
/// The server's second (SSH KEXINIT, RFB security types).
pub const S2: u32 = 8;
/// The protocol inside a proxy tunnel was probed.
pub const INNER: u32 = 16;
/// A PROXY protocol header was looked for at the client stream's start.
pub const PPHDR: u32 = 32;

/// One inspected flow's opening, as a protocol reader sees it.
pub struct Opening<'a> {
    /// The opening bytes [to server, to client], in order, capped.
    pub buf: [&'a [u8]; 2],
    /// A direction lost bytes (a gap in sequence numbers): what is there is all there is.
    pub gap: [bool; 2],
    /// Ports [client, server].
    pub ports: [u16; 2],
    /// Parts of the opening already read (bits [`C1`], [`S1`] …).
    pub got: &'a mut u32,
    /// Bytes of each stream that belong to a proxy handshake; the proxied protocol follows.
    pub tunnel_off: &'a mut [usize; 2],
    pub meta: &'a mut Option<Box<FlowMeta>>,
    /// What named the product: (kind, value).
    pub evidence: &'a mut Vec<(&'static str, String)>,
    pub rules: &'a Catalogue,
    /// The product or service (a catalogue entry), when known.
    pub app: &'a mut Option<ToolId>,
    pub app_proto: &'a mut AppProto,
    /// A protocol-level product name when no catalogue entry applies (`rdp`, `vnc`, `ssh`).
    pub tool: &'a mut Option<&'static str>,
    /// Identification is finished.
    pub done: &'a mut bool,
    /// WireGuard data packets seen so far (UDP), for sessions caught in their middle.
    pub wg: &'a mut super::vpn::WgTrack,
    /// QUIC Initial packets read so far (keys, CRYPTO streams).
    pub quic: &'a mut Option<Box<super::quic::Track>>,
    /// Protocols whose messages in this flow were malformed (bits `MAL_*`, counted once
    /// per flow and protocol in `spanwatch_malformed_flows_total`).
    pub malformed: &'a mut u8,
}

/// Protocols whose malformed messages are counted: the `protocol` label of
/// `spanwatch_malformed_flows_total` (bit i of [`Opening::malformed`] = index i).
pub const MALFORMED_PROTOCOLS: [&str; 7] =
    ["krb5", "ldap", "ntlmssp", "smb", "mdns", "netbios", "quic"];
pub const MAL_KRB5: u8 = 1;
pub const MAL_LDAP: u8 = 2;
pub const MAL_NTLMSSP: u8 = 4;
pub const MAL_SMB: u8 = 8;
pub const MAL_MDNS: u8 = 16;
pub const MAL_NETBIOS: u8 = 32;
/// A datagram that looks like a QUIC Initial (long header, a known version, 1200 bytes or
/// more) but does not open with the Initial keys or does not parse.
pub const MAL_QUIC: u8 = 64;

/// What the engine must do after a reader ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    /// The flow's client and server were guessed the wrong way round (an SSH KEXINIT that
    /// only a server sends came from the "client"): swap them and read again.
    SwapRoles,
}

impl Opening<'_> {
    pub fn meta(&mut self) -> &mut FlowMeta {
        self.meta.get_or_insert_with(Default::default)
    }

    /// Done once every part in `want` is read.
    pub fn done_if(&mut self, want: u32) {
        if *self.got & want == want {
            *self.done = true;
        }
    }

    /// The first catalogue entry a signal names becomes the flow's product (later signals
    /// do not replace it); the evidence is recorded when the catalogue knows the value.
    pub fn attribute(&mut self, id: Option<ToolId>, kind: &'static str, value: &str) {
        if let Some(id) = id {
            self.evidence.push((kind, value.to_string()));
            self.app.get_or_insert(id);
        }
    }

    /// Name the flow's product by its catalogue id, replacing any earlier guess. False when
    /// the catalogue has no such entry.
    pub fn name(&mut self, id: &str) -> bool {
        match self.rules.find(id) {
            Some(t) => {
                *self.app = Some(t);
                true
            }
            None => false,
        }
    }
}

/// A probe that matches on either direction's opening (the client's first, or the
/// server's when the client has not spoken).
pub fn either(p: fn(&[u8]) -> super::Probe, cs: &[u8], sc: &[u8]) -> bool {
    p(cs) == super::Probe::Match || (cs.is_empty() && p(sc) == super::Probe::Match)
}
