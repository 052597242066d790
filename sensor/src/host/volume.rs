//! Volumes per internal host: bytes sent outside the home networks (egress) against the
//! host's own baseline and its peers', uploads to the code-hosting, cloud-storage,
//! file-transfer and paste services of `rules/` (exfiltration), and reads from internal
//! file shares and code servers (collection). Also the direction classes of
//! `spanwatch_egress_bytes_total`.

use super::hosts::{Dest, Host, Upload, COLLECT_ALERTED, EGRESS_ALERTED};
use super::*;
use crate::model::sid::{self, AnomalyKind};

/// A host's destinations are listed once it has sent this much in the interval.
const DEST_TRACK_BYTES: u64 = 1 << 20;
/// Destinations kept per host and interval (the largest by bytes sent, approximately).
const MAX_DESTS: usize = 8;
/// Uploads to watched services kept per host.
const MAX_UPLOADS: usize = 8;

/// Services whose reads count as collection: SMB, NFS, the git protocol, SSH (git over
/// SSH, scp, sftp), and code-hosting names of the catalogue on an internal server.
fn collection_service(u: &FlowUse) -> Option<&'static str> {
    match (u.app_proto, u.ends.proto, u.ends.sport) {
        ("smb", _, _) | (_, 6, 445 | 139) => Some("smb"),
        ("nfs", _, _) | (_, 6 | 17, 2049) => Some("nfs"),
        (_, 6, 9418) => Some("git"),
        ("ssh", _, _) => Some("ssh"),
        _ if u.category == Some("code-hosting") => Some("code-hosting"),
        _ => None,
    }
}

fn fmt_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

impl HostStage {
    /// Account one step of a flow.
    pub(super) fn account(&mut self, u: &FlowUse, alerts: &mut Vec<AlertRecord>) {
        let e = u.ends;
        if u.delta == [0, 0] {
            return;
        }
        let ci = self.internal(e.v6, &e.client);
        let si = self.internal(e.v6, &e.server);
        let [ts, tc] = u.delta;
        let cls = &self.stats.egress_bytes;
        match (ci, si) {
            (true, false) => {
                cls[1].add(ts);
                cls[0].add(tc);
                self.egress(
                    key(e.v6, &e.client),
                    &e.server,
                    e.sport,
                    ts,
                    tc,
                    true,
                    u,
                    alerts,
                );
            }
            (false, true) => {
                cls[0].add(ts);
                cls[1].add(tc);
                self.egress(
                    key(e.v6, &e.server),
                    &e.client,
                    e.cport,
                    tc,
                    ts,
                    false,
                    u,
                    alerts,
                );
            }
            (true, true) => {
                cls[2].add(ts + tc);
                if tc > 0 {
                    if let Some(svc) = collection_service(u) {
                        self.collection(u, svc, tc, alerts);
                    }
                }
            }
            (false, false) => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn egress(
        &mut self,
        k: HostKey,
        peer: &[u8; 16],
        peer_port: u16,
        out: u64,
        inn: u64,
        host_is_client: bool,
        u: &FlowUse,
        alerts: &mut Vec<AlertRecord>,
    ) {
        let (vol, warm, peer_level) = (
            self.cfg.egress.volume(),
            self.cfg.warmup_intervals,
            self.peer[0],
        );
        let idle_ns = self.cfg.exfiltration.idle_s * 1_000_000_000;
        let limit = u
            .category
            .filter(|_| host_is_client)
            .and_then(|c| self.cfg.exfiltration.limit(c).map(|l| (c, l)));
        let h = self.hosts.entry(k, u.ts_ns);
        h.cur_out += out;
        h.cur_in += inn;
        if h.cur_out >= DEST_TRACK_BYTES {
            note_dest(h, k.v6, peer, peer_port, u.app, out, inn);
        }
        let mut exfil = None;
        if let (Some((cat, lim)), Some(app)) = (limit, u.app) {
            exfil = note_upload(h, app, cat, lim, out, inn, idle_ns, u);
        }
        let mut egress = None;
        if h.flags & EGRESS_ALERTED == 0 {
            let v = h.egress.threshold(&vol, warm, peer_level);
            if h.cur_out as f64 > v.threshold {
                h.flags |= EGRESS_ALERTED;
                egress = Some(egress_finding(h, k, v, peer_level, self.cfg.interval_s));
            }
        }
        if let Some(f) = exfil {
            self.raise(
                AnomalyKind::Exfiltration,
                u.ends,
                u.flow_id,
                u.ts_ns,
                u.app_proto,
                format!("{}|{}", k.ip(), u.app.unwrap_or("")),
                f,
                alerts,
            );
        }
        if let Some(f) = egress {
            self.raise(
                AnomalyKind::Egress,
                u.ends,
                u.flow_id,
                u.ts_ns,
                u.app_proto,
                k.ip().to_string(),
                f,
                alerts,
            );
        }
    }

    fn collection(&mut self, u: &FlowUse, svc: &str, read: u64, alerts: &mut Vec<AlertRecord>) {
        let e = u.ends;
        let k = key(e.v6, &e.client);
        let (vol, warm, peer_level) = (
            self.cfg.collection.volume(),
            self.cfg.warmup_intervals,
            self.peer[1],
        );
        let h = self.hosts.entry(k, u.ts_ns);
        h.cur_collect += read;
        if h.flags & COLLECT_ALERTED != 0 {
            return;
        }
        let v = h.collect.threshold(&vol, warm, peer_level);
        if h.cur_collect as f64 <= v.threshold {
            return;
        }
        h.flags |= COLLECT_ALERTED;
        let mut md = BTreeMap::new();
        md1(&mut md, "bytes_read", h.cur_collect);
        md1(&mut md, "interval_s", self.cfg.interval_s);
        md1(&mut md, "threshold_bytes", v.threshold as u64);
        md1(
            &mut md,
            "basis",
            if v.new_host { "new-host" } else { "baseline" },
        );
        md1(&mut md, "baseline_mean_bytes", h.collect.mean as u64);
        md1(&mut md, "baseline_dev_bytes", h.collect.dev as u64);
        md1(&mut md, "intervals_learned", h.collect.n);
        md1(&mut md, "peer_level_bytes", peer_level as u64);
        md1(&mut md, "service", svc);
        md1(&mut md, "server", crate::model::net::to_ip(e.v6, &e.server));
        let f = Finding {
            signature_id: sid::COLLECTION,
            signature: format!(
                "SPANWATCH collection: host read {} from internal {svc} servers in {} s, far above its usual",
                fmt_bytes(h.cur_collect),
                self.cfg.interval_s
            ),
            category: "collection",
            severity: 3,
            app: u.app.map(str::to_string),
            metadata: md,
        };
        self.raise(
            AnomalyKind::Collection,
            e,
            u.flow_id,
            u.ts_ns,
            u.app_proto,
            k.ip().to_string(),
            f,
            alerts,
        );
    }

    /// Close `n` intervals (the open one, then `n - 1` empty ones): learn them into the
    /// baselines, update the peers' level, forget what was per interval.
    pub(super) fn roll(&mut self, n: u32) {
        let span = self.cfg.baseline_intervals;
        let warm = self.cfg.warmup_intervals;
        let (ve, vc) = (self.cfg.egress.volume(), self.cfg.collection.volume());
        // the peers' level: 95th percentile of the hosts that sent anything
        let mut active: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        for h in self.hosts.map.values() {
            if h.cur_out > 0 {
                active[0].push(h.cur_out);
            }
            if h.cur_collect > 0 {
                active[1].push(h.cur_collect);
            }
        }
        let a = 2.0 / (span.max(1) as f64 + 1.0);
        for (i, v) in active.iter_mut().enumerate() {
            if v.len() >= 8 {
                let at = (v.len() * 95 / 100).min(v.len() - 1);
                let (_, p95, _) = v.select_nth_unstable(at);
                let p95 = *p95 as f64;
                self.peer[i] = if self.peer[i] == 0.0 {
                    p95
                } else {
                    self.peer[i] + a * (p95 - self.peer[i])
                };
            }
        }
        let forget_ns = span as u64 * self.interval_ns;
        let now = self.now;
        let window_ns = self.cfg.fan_in.window_s * 1_000_000_000;
        let idle_ns = self.cfg.exfiltration.idle_s * 1_000_000_000;
        self.hosts.map.retain(|_, h| {
            for i in 0..n {
                let (o, c) = if i == 0 {
                    (h.cur_out, h.cur_collect)
                } else {
                    (0, 0)
                };
                h.egress.learn(o, span, &ve, warm);
                h.collect.learn(c, span, &vc, warm);
            }
            h.cur_out = 0;
            h.cur_in = 0;
            h.cur_collect = 0;
            h.flags = 0;
            if let Some(x) = h.extra.as_mut() {
                x.dests.clear();
                x.uploads
                    .retain(|u| now.saturating_sub(u.last_ns) <= idle_ns);
                x.sources
                    .retain(|s| now.saturating_sub(s.last_ns) <= window_ns);
                if x.is_empty() {
                    h.extra = None;
                }
            }
            // a host silent for a whole baseline span has nothing left to compare with
            h.extra.is_some() || now.saturating_sub(h.last_ns) <= forget_ns
        });
    }
}

fn note_dest(
    h: &mut Host,
    v6: bool,
    peer: &[u8; 16],
    port: u16,
    app: Option<&str>,
    out: u64,
    inn: u64,
) {
    let x = h.extra();
    if let Some(d) = x
        .dests
        .iter_mut()
        .find(|d| d.addr == *peer && d.port == port && d.v6 == v6)
    {
        d.out += out;
        d.inn += inn;
        return;
    }
    let d = Dest {
        v6,
        addr: *peer,
        port,
        app: app.map(str::to_string),
        out,
        inn,
    };
    if x.dests.len() < MAX_DESTS {
        x.dests.push(d);
    } else if let Some(min) = x.dests.iter_mut().min_by_key(|d| d.out) {
        // space-saving: the newcomer inherits the smallest count it replaces
        if out > 0 {
            let floor = min.out;
            *min = d;
            min.out += floor;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn note_upload(
    h: &mut Host,
    app: &str,
    cat: &'static str,
    limit: u64,
    out: u64,
    inn: u64,
    idle_ns: u64,
    u: &FlowUse,
) -> Option<Finding> {
    let now = u.ts_ns;
    let x = h.extra();
    let i = match x.uploads.iter().position(|p| p.app == app) {
        Some(i) => i,
        None => {
            if x.uploads.len() >= MAX_UPLOADS {
                let (j, _) = x
                    .uploads
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, p)| p.last_ns)?;
                x.uploads.swap_remove(j);
            }
            x.uploads.push(Upload {
                app: app.to_string(),
                category: cat,
                out: 0,
                inn: 0,
                first_ns: now,
                last_ns: now,
                flows: 0,
                ssh: false,
                http_push: false,
                alerted: false,
            });
            x.uploads.len() - 1
        }
    };
    let p = &mut x.uploads[i];
    if now.saturating_sub(p.last_ns) > idle_ns {
        *p = Upload {
            out: 0,
            inn: 0,
            first_ns: now,
            flows: 0,
            ssh: false,
            http_push: false,
            alerted: false,
            ..p.clone()
        };
    }
    p.out += out;
    p.inn += inn;
    p.last_ns = now;
    if u.ended {
        p.flows += 1;
    }
    if u.app_proto == "ssh" && out > inn {
        p.ssh = true;
    }
    p.http_push |= u.git_push;
    if p.alerted || p.out < limit {
        return None;
    }
    p.alerted = true;
    let mut md = BTreeMap::new();
    md1(&mut md, "destination", app);
    md1(&mut md, "destination_category", cat);
    md1(&mut md, "bytes_uploaded", p.out);
    md1(&mut md, "bytes_downloaded", p.inn);
    md1(&mut md, "limit_bytes", limit);
    md1(&mut md, "duration_s", (now - p.first_ns) / 1_000_000_000);
    md1(
        &mut md,
        "server",
        crate::model::net::to_ip(u.ends.v6, &u.ends.server),
    );
    md1(&mut md, "transport", u.app_proto);
    // What the wire shows of a git push: SSH to a code host carrying far more up than down
    // (a clone or fetch is the other way round); over HTTPS only the volume shows.
    let push = if cat != "code-hosting" {
        None
    } else if p.http_push {
        Some("git push over http (POST git-receive-pack)")
    } else if p.ssh {
        Some("git push over ssh (upload-dominated SSH session to the code host)")
    } else if u.app_proto == "http" || u.app_proto == "tls" || u.app_proto == "quic" {
        Some("upload over https (a push or an API upload; the path is encrypted)")
    } else {
        None
    };
    if let Some(g) = push {
        md1(&mut md, "git", g);
    }
    Some(Finding {
        signature_id: sid::EXFIL,
        signature: format!(
            "SPANWATCH exfiltration: {} uploaded to {app} ({cat})",
            fmt_bytes(p.out)
        ),
        category: "exfiltration",
        severity: 2,
        app: Some(app.to_string()),
        metadata: md,
    })
}

fn egress_finding(
    h: &Host,
    k: HostKey,
    v: super::baseline::Verdict,
    peer_level: f64,
    interval_s: u64,
) -> Finding {
    let mut md = BTreeMap::new();
    md1(&mut md, "bytes_out", h.cur_out);
    md1(&mut md, "bytes_in", h.cur_in);
    md1(&mut md, "interval_s", interval_s);
    md1(&mut md, "threshold_bytes", v.threshold as u64);
    md1(
        &mut md,
        "basis",
        if v.new_host { "new-host" } else { "baseline" },
    );
    md1(&mut md, "baseline_mean_bytes", h.egress.mean as u64);
    md1(&mut md, "baseline_dev_bytes", h.egress.dev as u64);
    md1(&mut md, "intervals_learned", h.egress.n);
    md1(&mut md, "peer_level_bytes", peer_level as u64);
    if let Some(x) = &h.extra {
        let mut d: Vec<&Dest> = x.dests.iter().collect();
        d.sort_by_key(|d| std::cmp::Reverse(d.out));
        md.insert(
            "top_destinations".into(),
            d.iter()
                .take(5)
                .map(|d| {
                    let ratio = if d.inn == 0 {
                        "inf".to_string()
                    } else {
                        format!("{:.1}", d.out as f64 / d.inn as f64)
                    };
                    let ip = crate::model::net::to_ip(d.v6, &d.addr);
                    let at = if d.v6 {
                        format!("[{ip}]:{}", d.port)
                    } else {
                        format!("{ip}:{}", d.port)
                    };
                    format!(
                        "{at}{} out={} in={} up/down={ratio}",
                        d.app
                            .as_deref()
                            .map(|a| format!(" ({a})"))
                            .unwrap_or_default(),
                        d.out,
                        d.inn
                    )
                })
                .collect(),
        );
    }
    Finding {
        signature_id: sid::EGRESS,
        signature: format!(
            "SPANWATCH egress: {} sent {} outside the home networks in {interval_s} s, {}",
            k.ip(),
            fmt_bytes(h.cur_out),
            if v.new_host {
                "above the limit for a new host"
            } else {
                "far above its own baseline and its peers"
            }
        ),
        category: "egress",
        severity: 2,
        app: None,
        metadata: md,
    }
}
