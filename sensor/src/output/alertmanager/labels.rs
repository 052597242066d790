//! What an alert says to Alertmanager: its labels (its identity: one spanwatch session is one
//! Alertmanager alert), its annotations (the evidence), and the sensor's name.

use crate::output::eve::AlertRecord;
use serde_json::json;
use std::collections::BTreeMap;

/// The sensor's name in alerts: `sensor.name`, else the host name.
pub fn sensor_name(configured: Option<&str>) -> String {
    if let Some(n) = configured {
        return n.to_string();
    }
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if r == 0 {
        let n = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..n]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "spanwatch".into()
}

/// spanwatch severity (1 highest, as Suricata) to the `severity` label.
pub fn severity_name(s: u8) -> &'static str {
    match s {
        0 | 1 => "critical",
        2 => "high",
        3 => "medium",
        _ => "low",
    }
}

/// `remote-access` → `SpanwatchRemoteAccessDetected`: one stable alertname per category,
/// distinct from the Prometheus rules' alert names (which count alerts per sensor).
pub fn alertname(category: &str) -> String {
    let mut s = String::from("Spanwatch");
    for part in category.split(['-', '_']) {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            s.push(f.to_ascii_uppercase());
            s.extend(c);
        }
    }
    s.push_str("Detected");
    s
}

pub(super) type Labels = BTreeMap<String, String>;

/// The labels of an alert: what routes it and what makes it one session.
pub fn labels_of(a: &AlertRecord, sensor: &str, extra: &Labels) -> Labels {
    let mut l = Labels::new();
    l.insert("alertname".into(), alertname(a.alert.category));
    l.insert("category".into(), a.alert.category.into());
    l.insert("severity".into(), severity_name(a.alert.severity).into());
    l.insert("sensor".into(), sensor.into());
    l.insert("signature_id".into(), a.alert.signature_id.to_string());
    l.insert("src_ip".into(), a.tuple.src_ip.to_string());
    l.insert("dest_ip".into(), a.tuple.dest_ip.to_string());
    if a.tuple.dest_port != 0 {
        l.insert("dest_port".into(), a.tuple.dest_port.to_string());
    }
    l.insert("proto".into(), a.tuple.proto.clone());
    l.insert("direction".into(), a.direction.into());
    if let Some(app) = &a.app {
        l.insert("app".into(), app.clone());
    }
    if a.app_proto != "unknown" && !a.app_proto.is_empty() {
        l.insert("app_proto".into(), a.app_proto.into());
    }
    // Parts of the dedup identity that are not in the tuple (`account`: the account view's
    // alert is about one account, whichever flow tripped it).
    for k in ["target", "domain", "account"] {
        if let Some(v) = a.alert.metadata.get(k).and_then(|v| v.first()) {
            l.insert(k.into(), v.clone());
        }
    }
    for (k, v) in extra {
        l.entry(k.clone()).or_insert_with(|| v.clone());
    }
    l
}

/// The annotations: the evidence, for whoever reads the notification.
pub fn annotations_of(a: &AlertRecord, sensor: &str) -> Labels {
    let mut n = Labels::new();
    let dest = match a.tuple.dest_port {
        0 => a.tuple.dest_ip.to_string(),
        p => format!("{}:{p}", a.tuple.dest_ip),
    };
    n.insert(
        "summary".into(),
        format!(
            "{} ({} → {dest}, {}, sensor {sensor})",
            a.alert.signature, a.tuple.src_ip, a.direction
        ),
    );
    n.insert("signature".into(), a.alert.signature.clone());
    n.insert("sid".into(), a.alert.signature_id.to_string());
    n.insert("community_id".into(), a.tuple.community_id.clone());
    n.insert("flow_id".into(), a.flow_id.to_string());
    n.insert("src_port".into(), a.tuple.src_port.to_string());
    n.insert("timestamp".into(), a.timestamp.clone());
    let evidence: Vec<String> = a
        .alert
        .metadata
        .iter()
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect();
    if !evidence.is_empty() {
        n.insert("evidence".into(), evidence.join("; "));
    }
    if let Some(e) = &a.evidence {
        // the flow's packets: a file in the sensor's evidence.directory
        n.insert("pcap".into(), e.pcap.clone());
    }
    n
}

/// `"labels":{…},"annotations":{…}`, the part of an alert's JSON that does not change.
pub(super) fn alert_body(labels: &Labels, annotations: &Labels) -> Box<str> {
    let mut v = serde_json::to_string(&json!({ "labels": labels, "annotations": annotations }))
        .unwrap_or_else(|_| "{}".into());
    // Drop the braces: the times are added to the same object.
    v.pop();
    v.remove(0);
    v.into_boxed_str()
}
