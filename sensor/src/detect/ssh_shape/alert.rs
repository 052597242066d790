//! SSH sessions whose shape says port forwarding rather than someone typing or a file copy:
//! the worker measures the session after its handshake (the parent module) and puts
//! `ssh.shape` and `ssh.timing` into the flow record; this raises the `tunnel` alert from the
//! flow record (on the output thread, where the record's final volume is known; it keeps no
//! state across flows).
//!
//! A `transfer` (scp, sftp, rsync, git over SSH) raises nothing here: it is a copy, not a
//! hidden channel, and its bytes and direction reach the egress, exfiltration and
//! collection accounting of the host stage as any upload or download does.

use super::{BULK_BYTES, MIN_KEYSTROKES};
use crate::model::net::HomeNet;
use crate::model::record::{alert_from_tuple, AlertRecord, Finding, FlowRecord};
use crate::model::sid;

use std::collections::BTreeMap;

/// A flow record of an SSH session: alert when it is forwarding, or moved bulk data without
/// being a copy.
pub fn check(home: &HomeNet, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
    if rec.app_proto != "ssh" {
        return;
    }
    let f = &rec.flow;
    let ssh = rec.meta.ssh.as_ref();
    let shape = ssh.and_then(|s| s.shape).unwrap_or("");
    if shape == "transfer" {
        return;
    }
    // The record's own volume (wire bytes) makes any other shape bulk: a forward carrying a
    // large download, or data moved inside a typed session (a forward beside the shell).
    let bulk = f.bytes_toclient.max(f.bytes_toserver) >= BULK_BYTES;
    if !bulk && shape != "forwarding" {
        return;
    }
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        md.insert(k.to_string(), vec![v]);
    };
    put("bytes_toserver", f.bytes_toserver.to_string());
    put("bytes_toclient", f.bytes_toclient.to_string());
    let pkts = (f.pkts_toclient + f.pkts_toserver).max(1);
    put(
        "mean_packet_bytes",
        ((f.bytes_toclient + f.bytes_toserver) / pkts).to_string(),
    );
    put("duration_s", f.age.to_string());
    put(
        "shape",
        if bulk { "bulk" } else { "forwarding" }.to_string(),
    );
    if let Some(t) = ssh.and_then(|s| s.timing.as_ref()) {
        for (k, v) in t {
            put(k, v.to_string());
        }
    }
    let (signature_id, signature) = if bulk {
        let (dir, way) = if f.bytes_toclient >= f.bytes_toserver {
            ("to_client", "to the client")
        } else {
            ("to_server", "to the server")
        };
        put("bulk_direction", dir.to_string());
        (
            sid::SSH_BULK,
            format!(
                "SPANWATCH tunnel: SSH session carrying bulk data {way} (port forwarding, not a copy)"
            ),
        )
    } else {
        let typed = ssh
            .and_then(|s| s.timing.as_ref()?.get("keystrokes").copied())
            .is_some_and(|k| k >= MIN_KEYSTROKES as u64);
        let how = if typed {
            "requests and answers beside someone typing"
        } else {
            "data exchanged, nobody typing"
        };
        (
            sid::SSH_FORWARDING,
            format!("SPANWATCH tunnel: SSH session shaped like port forwarding ({how})"),
        )
    };
    let fnd = Finding {
        signature_id,
        signature,
        category: "tunnel",
        severity: 3,
        app: Some("ssh".into()),
        metadata: md,
    };
    let e = &rec.ends;
    let dirn = home.direction(e.v6, &e.client, &e.server);
    let t = &rec.tuple;
    let dedup = format!("{}|{}|{}", t.src_ip, t.dest_ip, t.dest_port);
    alerts.push(alert_from_tuple(
        t.clone(),
        rec.flow_id,
        rec.end_ns,
        "ssh",
        dirn,
        dedup,
        fnd,
    ));
}
