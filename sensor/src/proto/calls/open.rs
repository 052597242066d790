//! Call media: STUN (and its SOFTWARE attribute), DTLS, RTCP, RTP.

use crate::model::meta::StunMeta;
use crate::proto::calls;
use crate::proto::registry::AppProto;
use crate::proto::session::Opening;

pub fn probe_stun(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    let s = calls::probe_stun(payload)?;
    if let Some(sw) = s.software {
        o.meta().stun = Some(StunMeta {
            software: sw.to_string(),
        });
    }
    Some(AppProto::Stun)
}

pub fn probe_dtls(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    let d = calls::probe_dtls(payload)?;
    if d.version == calls::DTLS_BAD_VER {
        o.evidence
            .push(("dtls.version", "0x0100 (Cisco pre-RFC DTLS)".into()));
    } else if o.ports[1] == 443
        && matches!(payload, [22, _, _, 0, 0, ..])
        && payload.get(13) == Some(&1)
        && calls::dtls_use_srtp_read(payload) == Some(false)
    {
        // A whole ClientHello to UDP 443 that offers no SRTP keys: no WebRTC media (RFC
        // 8827 requires DTLS-SRTP) but a VPN's data channel (OpenConnect/AnyConnect DTLS
        // 1.2 beside their TLS session to the same gateway).
        o.evidence
            .push(("dtls.client_hello", "on UDP 443 without use_srtp".into()));
    }
    Some(AppProto::Dtls)
}

pub fn probe_rtcp(_o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    calls::probe_rtcp(payload).map(|_| AppProto::Rtcp)
}

pub fn probe_rtp(o: &mut Opening, payload: &[u8], _dir: usize) -> Option<AppProto> {
    (calls::probe_rtp(payload).is_some() && !o.ports.contains(&53)).then_some(AppProto::Rtp)
}
