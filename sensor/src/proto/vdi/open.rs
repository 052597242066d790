//! Citrix ICA and CGP (session reliability): named by their opening bytes; Horizon's PCoIP
//! and Blast Extreme: named by their handshakes on their own ports (`horizon`).

use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome};
use crate::proto::vdi::horizon::{self, BLAST_PORT, PCOIP_PORT};
use crate::proto::vdi::{Citrix, Vdi};

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    let v = crate::proto::vdi::probe_tcp(cs).or_else(|| crate::proto::vdi::probe_tcp(sc))?;
    Some(match v {
        Vdi::Citrix(Citrix::Cgp) => AppProto::CitrixCgp,
        Vdi::Citrix(_) => AppProto::CitrixIca,
    })
}

pub fn read(o: &mut Opening) -> Outcome {
    o.evidence.push(("payload", o.app_proto.as_str().into()));
    if !o.name("citrix-ica") {
        *o.tool = Some("citrix");
    }
    *o.done = true;
    Outcome::Continue
}

/// PCoIP's session handshake: TLS from the client to tcp/4172. Runs before the TLS probe.
pub fn probe_pcoip_tcp(cs: &[u8], _sc: &[u8], ports: [u16; 2]) -> Option<AppProto> {
    (ports[1] == PCOIP_PORT && crate::proto::tls::probe(cs) == crate::proto::Probe::Match)
        .then_some(AppProto::Pcoip)
}

/// PCoIP's handshake is TLS: read it as TLS (SNI, certificate), then name Horizon unless
/// the handshake named something more precise.
pub fn read_pcoip(o: &mut Opening) -> Outcome {
    let out = crate::proto::tls::open::read(o);
    o.evidence.push((
        "pcoip",
        format!("TLS session handshake on tcp/{PCOIP_PORT}"),
    ));
    if o.app.is_none() {
        o.name("vmware-horizon");
    }
    out
}

/// PCoIP session data: UDP-encapsulated ESP behind the PCoIP transport header, on udp/4172.
pub fn probe_pcoip_udp(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    if !o.ports.contains(&PCOIP_PORT) {
        return None;
    }
    let spi = horizon::probe_pcoip_udp(payload)?;
    o.evidence.push(("pcoip.spi", format!("0x{spi:08x}")));
    if o.app.is_none() {
        o.name("vmware-horizon");
    }
    Some(AppProto::Pcoip)
}

/// Blast Extreme's TLS session to the agent's own port (tcp/22443): names Horizon on a TLS
/// flow that nothing else named. True when it did.
pub fn name_blast_tls(o: &mut Opening) -> bool {
    if *o.app_proto != AppProto::Tls || o.ports[1] != BLAST_PORT || o.app.is_some() {
        return false;
    }
    o.evidence
        .push(("blast", format!("TLS session on tcp/{BLAST_PORT}")));
    o.name("vmware-horizon")
}

/// Blast Extreme's WebSocket under `/r/` in a clear-text HTTP request head.
pub fn name_blast_http(o: &mut Opening, head: &[u8]) {
    if horizon::is_blast_websocket(head) && o.name("vmware-horizon") {
        o.evidence.push(("blast", "WebSocket under /r/".into()));
    }
}
