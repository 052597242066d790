//! The `proxy` alert on a TCP flow whose openings are fully encrypted (the test itself,
//! after Wu et al., USENIX Security 2023, is `proto::encrypted`).

use crate::proto::encrypted::judge;

/// TCP SYN flag.
const SYN: u8 = 0x02;

/// Raise the `proxy` alert on a TCP flow no probe named whose openings (the client's first,
/// then the server's) are fully encrypted. Judged once, when both first packets are in.
pub(super) fn check(
    d: &super::Detector,
    key: &crate::flow::FlowKey,
    flow: &mut super::Flow,
    insp: &mut super::Inspect,
    out: &mut Vec<crate::model::record::Finding>,
) {
    use crate::flow::AppProto;
    if insp.fet_judged
        || key.proto != crate::decode::PROTO_TCP
        || insp.first_len[0] == 0
        || insp.first_len[1] == 0
    {
        return;
    }
    insp.fet_judged = true;
    // The client spoke first, on a connection whose opening (SYN) is in view: a capture
    // that starts mid-session shows no first packet.
    let sport = crate::flow::Ends::of(key, flow.client_is_lo).sport;
    if insp.first_speaker != Some(0)
        || flow.tcp_flags[0] & SYN == 0
        || crate::proto::encrypted::exempt_port(sport)
        || flow.app_proto != AppProto::Unknown
        || flow.detect.app.is_some()
        || flow.detect.alerted
        || !out.is_empty()
    {
        return;
    }
    let c = &insp.buf[0][..insp.first_len[0].min(insp.buf[0].len())];
    let s = &insp.buf[1][..insp.first_len[1].min(insp.buf[1].len())];
    let Some((conf, why)) = judge(c, s) else {
        return;
    };

    flow.detect.meta_mut().proxy = Some(crate::model::meta::ProxyMeta {
        protocol: Some("fully-encrypted".into()),
        ..Default::default()
    });
    let direction = d.direction(key, flow);
    let mut md = std::collections::BTreeMap::new();
    md.insert("direction".into(), vec![direction.to_string()]);
    md.insert("confidence".into(), vec![conf.to_string()]);
    md.insert("evidence".into(), why);
    out.push(crate::model::record::Finding {
        signature_id: crate::model::sid::FULLY_ENCRYPTED,
        signature: format!(
            "SPANWATCH proxy: fully encrypted tunnel (Shadowsocks/VMess/obfs4-like) ({direction})"
        ),
        category: "proxy",
        severity: 3,
        app: None,
        metadata: md,
    });
}
