//! IP-KVMs on the network ("laptop farms"): a small computer that captures a host's HDMI
//! and emulates its keyboard and mouse lets someone elsewhere drive the host with nothing
//! installed on it. The host shows nothing; the device does: its DHCP name, the certificate
//! of its web UI, the vendor cloud it calls home to (the catalogue's `ikvm` entries), the
//! maker of its network board. A device is announced once ("IP-KVM on the network"), and a
//! later remote-access session TO it ("session to an IP-KVM") is named as such.
//!
//! Traits, from public documentation:
//! * DHCP host names (option 12), the devices' defaults: `pikvm` (PiKVM docs, "First steps":
//!   `https://pikvm/`), `tinypilot` (TinyPilot docs: `http://tinypilot/`), `jetkvm`
//!   (JetKVM), `glkvm` (GL.iNet Comet docs: `glkvm.local`). A prefix match, so `pikvm-lab1`
//!   counts.
//! * MAC OUIs (IEEE registry) of the boards they are built on, as supporting evidence only
//!   (a Raspberry Pi is not an IP-KVM): Raspberry Pi Foundation `B8:27:EB`, Raspberry Pi
//!   Trading `DC:A6:32`, `E4:5F:01`, `28:CD:C1`, `D8:3A:DD`, `2C:CF:67` (PiKVM, TinyPilot),
//!   GL Technologies (GL.iNet) `94:83:C4`, `E4:95:6E` (Comet), and the enterprise KVM-over-IP
//!   makers Raritan `00:0D:5D`, ATEN `00:10:74`, Lantronix `00:20:4A` (Spider).
//! * DHCP from a board of an enterprise KVM-over-IP maker whose products are mostly KVMs
//!   (Raritan `00:0D:5D`, ATEN `00:10:74`): named `raritan-kvm` / `aten-kvm`, the OUI as the
//!   only evidence. Lantronix (Spider) also makes serial and embedded modules, so its OUI
//!   only supports another trait.
//! * The catalogue's `ikvm` entries (rules/ikvm.toml): certificate subjects of the devices'
//!   web UIs (the server of that flow is the device) and the hosts only devices call: PiKVM's
//!   package repository `files.pikvm.org`, JetKVM's `api.jetkvm.com` (update check and
//!   cloud), GL.iNet's `glkvm.com` cloud (the client is the device). A person reading a
//!   vendor's web site is not a device.
//!
//! Bounded: at most [`MAX_DEVICES`] devices are remembered (the oldest goes first); each is
//! announced once while remembered. Sessions to a device are deduplicated by the output's
//! alert suppression like every alert.

use super::hosts::raw_of;
use super::*;
use std::collections::{HashMap, VecDeque};

/// Devices remembered at most.
pub const MAX_DEVICES: usize = 1024;

/// DHCP host-name prefixes of IP-KVM devices → catalogue id.
const HOSTNAMES: &[(&str, &str)] = &[
    ("pikvm", "pikvm"),
    ("tinypilot", "tinypilot"),
    ("jetkvm", "jetkvm"),
    ("glkvm", "glinet-comet"),
];

/// Product names the devices put in the strings they choose themselves — mDNS service
/// instance names, SSDP `SERVER`/`USN`, a UPnP `<friendlyName>`, the web UI's `<title>` and
/// `Server` header, the DHCP vendor class — matched as whole words (ASCII case ignored) →
/// catalogue id. Sources: PiKVM's login page is titled "PiKVM Login" (kvmd's web UI,
/// github.com/pikvm/kvmd `web/login`); JetKVM's UI is titled "JetKVM" (github.com/jetkvm/kvm
/// `ui/`); GL.iNet's Comet runs a PiKVM-derived stack under the name GLKVM with model GL-RM1
/// (docs.gl-inet.com/kvm); TinyPilot (tinypilotkvm.com), Raritan's Dominion KX, ATEN's
/// KVM-over-IP and Lantronix's Spider/SpiderDuo name themselves in their UI and product
/// strings (vendors' product pages and manuals).
const TOKENS: &[(&str, &str)] = &[
    ("pikvm", "pikvm"),
    ("tinypilot", "tinypilot"),
    ("jetkvm", "jetkvm"),
    ("glkvm", "glinet-comet"),
    ("gl-rm1", "glinet-comet"),
    ("raritan", "raritan-kvm"),
    ("dominion kx", "raritan-kvm"),
    ("aten", "aten-kvm"),
    ("spiderduo", "lantronix-spider"),
    ("lantronix spider", "lantronix-spider"),
];

/// The catalogue id of the IP-KVM a device-chosen string names, as a whole word.
pub fn device_of_text(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    let word = |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric());
    TOKENS.iter().find_map(|(tok, id)| {
        t.match_indices(tok).find_map(|(i, _)| {
            let before = t[..i].chars().next_back();
            let after = t[i + tok.len()..].chars().next();
            (word(before) && word(after)).then_some(*id)
        })
    })
}

/// Hosts only the devices themselves call (update repositories, device clouds): a client
/// reaching one is a device. The vendors' web sites (pikvm.org, jetkvm.com …) are read by
/// people too, and name no device.
const DEVICE_HOSTS: &[&str] = &["files.pikvm.org", "api.jetkvm.com", "glkvm.com"];

/// MAC OUIs of the boards IP-KVMs are built on → maker.
const OUIS: &[(&str, &str)] = &[
    ("b8:27:eb", "Raspberry Pi"),
    ("dc:a6:32", "Raspberry Pi"),
    ("e4:5f:01", "Raspberry Pi"),
    ("28:cd:c1", "Raspberry Pi"),
    ("d8:3a:dd", "Raspberry Pi"),
    ("2c:cf:67", "Raspberry Pi"),
    ("94:83:c4", "GL.iNet"),
    ("e4:95:6e", "GL.iNet"),
    ("00:0d:5d", "Raritan"),
    ("00:10:74", "ATEN"),
    ("00:20:4a", "Lantronix"),
];

/// The maker of the board whose MAC address this is, when it is one IP-KVMs use.
pub fn oui_maker(mac: &str) -> Option<&'static str> {
    let m = mac.to_ascii_lowercase().replace('-', ":");
    OUIS.iter().find(|(p, _)| m.starts_with(p)).map(|(_, v)| *v)
}

/// A board of an enterprise KVM-over-IP maker whose products are mostly KVMs.
pub fn enterprise_oui(mac: &str) -> Option<&'static str> {
    match oui_maker(mac)? {
        "Raritan" => Some("raritan-kvm"),
        "ATEN" => Some("aten-kvm"),
        _ => None,
    }
}

/// The catalogue id of the IP-KVM whose default DHCP host name this is.
pub fn device_of_hostname(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    HOSTNAMES
        .iter()
        .find(|(p, _)| n.starts_with(p))
        .map(|(_, id)| *id)
}

#[derive(Debug)]
struct Device {
    tool: String,
}

/// Sessions to internal servers not (yet) known as IP-KVMs, kept at most.
pub const MAX_PENDING: usize = 256;
/// How long such a session waits for its server to show itself as an IP-KVM (flow records
/// come in the order flows end, so the device's own record may come after the session's).
const PENDING_NS: u64 = 3600 * 1_000_000_000;

#[derive(Debug, Default)]
pub struct Ikvms {
    devices: HashMap<(bool, [u8; 16]), Device>,
    order: VecDeque<(bool, [u8; 16])>,
    pending: VecDeque<Pending>,
}

#[derive(Debug)]
struct Pending {
    server: (bool, [u8; 16]),
    tuple: Tuple,
    flow_id: u64,
    end_ns: u64,
    app_proto: &'static str,
    dir: &'static str,
}

impl Ikvms {
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Remember a device; true when it is new.
    fn add(&mut self, k: (bool, [u8; 16]), tool: &str) -> bool {
        if self.devices.contains_key(&k) {
            return false;
        }
        if self.devices.len() >= MAX_DEVICES {
            if let Some(old) = self.order.pop_front() {
                self.devices.remove(&old);
            }
        }
        self.order.push_back(k);
        self.devices.insert(
            k,
            Device {
                tool: tool.to_string(),
            },
        );
        true
    }
}

impl Ikvms {
    /// The devices remembered, oldest first (for the state file).
    pub(super) fn saved(&self) -> Vec<(std::net::IpAddr, String)> {
        self.order
            .iter()
            .filter_map(|k| {
                let d = self.devices.get(k)?;
                Some((crate::model::net::to_ip(k.0, &k.1), d.tool.clone()))
            })
            .collect()
    }

    /// Remember a device from the state file (not announced again).
    pub(super) fn restore(&mut self, ip: std::net::IpAddr, tool: &str) -> bool {
        if tool.is_empty() || tool.len() > 64 {
            return false;
        }
        self.add(raw_of(ip), tool);
        true
    }
}

/// A device a flow record shows: its address, the catalogue id, and what showed it.
struct Seen {
    v6: bool,
    addr: [u8; 16],
    tool: String,
    evidence: Vec<String>,
    mac: Option<String>,
}

fn seen_in(rec: &FlowRecord) -> Option<Seen> {
    let e = &rec.ends;
    if let Some(d) = &rec.meta.dhcp {
        let tool = d
            .hostname
            .as_deref()
            .and_then(device_of_hostname)
            .or_else(|| {
                d.vendor_class_identifier
                    .as_deref()
                    .and_then(device_of_text)
            })
            .or_else(|| enterprise_oui(&d.client_mac))?;
        let ip = d
            .assigned_ip
            .as_deref()
            .or(d.requested_ip.as_deref())
            .and_then(|s| s.parse::<std::net::IpAddr>().ok())
            .or_else(|| {
                let c = crate::model::net::to_ip(e.v6, &e.client);
                (!c.is_unspecified()).then_some(c)
            })?;
        let (v6, addr) = raw_of(ip);
        let mut evidence = Vec::new();
        if let Some(h) = &d.hostname {
            evidence.push(format!("dhcp.hostname={h}"));
        }
        if let Some(v) = &d.vendor_class_identifier {
            evidence.push(format!("dhcp.vendor_class={v}"));
        }
        return Some(Seen {
            v6,
            addr,
            tool: tool.to_string(),
            evidence,
            mac: Some(d.client_mac.clone()),
        });
    }
    if let Some(s) = named_by_device(rec) {
        return Some(s);
    }
    if rec.app_category != Some("ikvm") {
        return None;
    }
    let tool = rec.app.clone()?;
    let evidence = rec.meta.evidence.clone().unwrap_or_default();
    // The device's own web UI (its certificate, its Server header) is the server's; a vendor
    // cloud looked up or named by the device makes the client the device.
    let served = evidence
        .iter()
        .any(|v| v.starts_with("tls.cert=") || v.starts_with("http.server="));
    // the names the client asked for (evidence is recorded once identification finished;
    // the SNI and Host always are)
    let mut names: Vec<&str> = evidence
        .iter()
        .filter_map(|v| v.split_once('=').map(|(_, h)| h))
        .collect();
    names.extend(rec.meta.tls.as_ref().and_then(|t| t.sni.as_deref()));
    names.extend(rec.meta.http.as_ref().and_then(|h| h.hostname.as_deref()));
    let calls_home = names.iter().any(|h| {
        let host = h.trim_end_matches('.').to_ascii_lowercase();
        DEVICE_HOSTS
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
    });
    let addr = match (served, calls_home) {
        (true, _) => e.server,
        (false, true) => e.client,
        (false, false) => return None,
    };
    Some(Seen {
        v6: e.v6,
        addr,
        tool,
        evidence,
        mac: None,
    })
}

/// A device naming itself: its mDNS or NetBIOS names (the sender of the announcement), its
/// SSDP notify or search answer, its web UI's title, `Server` header or UPnP description.
fn named_by_device(rec: &FlowRecord) -> Option<Seen> {
    let e = &rec.ends;
    let m = &rec.meta;
    let side = |server: bool| if server { e.server } else { e.client };
    let mut found: Option<(&'static str, String, bool)> = None;
    if let Some(x) = &m.mdns {
        let by_name = x
            .hostnames
            .iter()
            .find_map(|h| device_of_hostname(h).map(|t| (t, format!("mdns.hostname={h}"))));
        let by_instance = || {
            x.instances
                .iter()
                .find_map(|i| device_of_text(i).map(|t| (t, format!("mdns.instance={i}"))))
        };
        if let Some((t, ev)) = by_name.or_else(by_instance) {
            found = Some((t, ev, x.responder_is_server));
        }
    }
    if let Some(x) = m.netbios.as_ref().filter(|_| found.is_none()) {
        if let Some((t, ev)) = x
            .hostnames
            .iter()
            .find_map(|h| device_of_hostname(h).map(|t| (t, format!("netbios.name={h}"))))
        {
            found = Some((t, ev, x.claimed_by_server));
        }
    }
    if let Some(x) = m.ssdp.as_ref().filter(|_| found.is_none()) {
        let said = [("ssdp.server", &x.server), ("ssdp.usn", &x.usn)];
        if let Some((t, ev)) = said.iter().find_map(|(k, v)| {
            let v = v.as_deref()?;
            device_of_text(v).map(|t| (t, format!("{k}={v}")))
        }) {
            found = Some((t, ev, x.from_server));
        }
    }
    if let Some(x) = m.http.as_ref().filter(|_| found.is_none()) {
        let said = [
            ("http.title", &x.title),
            ("http.server", &x.server),
            ("upnp.friendly_name", &x.friendly_name),
        ];
        if let Some((t, ev)) = said.iter().find_map(|(k, v)| {
            let v = v.as_deref()?;
            device_of_text(v).map(|t| (t, format!("{k}={v}")))
        }) {
            found = Some((t, ev, true));
        }
    }
    let (tool, ev, server) = found?;
    Some(Seen {
        v6: e.v6,
        addr: side(server),
        tool: tool.to_string(),
        evidence: vec![ev],
        mac: None,
    })
}

impl HostStage {
    /// A flow record: a device announced when one shows itself for the first time; a session
    /// to a known device named as one.
    pub(super) fn ikvm(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        if let Some(s) = seen_in(rec) {
            let k = (s.v6, s.addr);
            if self.internal(s.v6, &s.addr) && self.ikvms.add(k, &s.tool) {
                let tool = s.tool.clone();
                self.ikvm_device(rec, s, alerts);
                // sessions to it whose records came first
                let now = rec.end_ns;
                let p = &mut self.ikvms.pending;
                p.retain(|x| now.saturating_sub(x.end_ns) <= PENDING_NS);
                let mut i = 0;
                while i < p.len() {
                    if p[i].server == k {
                        if let Some(x) = p.remove(i) {
                            alerts.push(session_alert(x, &tool));
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            return;
        }
        self.ikvm_session(rec, alerts);
    }

    fn ikvm_device(&self, rec: &FlowRecord, s: Seen, alerts: &mut Vec<AlertRecord>) {
        let ip = crate::model::net::to_ip(s.v6, &s.addr);
        let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
        md1(&mut md, "ikvm", &s.tool);
        md1(&mut md, "device", ip);
        if !s.evidence.is_empty() {
            md.insert("evidence".into(), s.evidence);
        }
        if let Some(mac) = &s.mac {
            md1(&mut md, "mac", mac);
            if let Some(m) = oui_maker(mac) {
                md1(&mut md, "mac_vendor", m);
            }
        }
        let f = Finding {
            signature_id: sid::IKVM_DEVICE,
            signature: format!(
                "SPANWATCH remote access: IP-KVM on the network ({})",
                s.tool
            ),
            category: "remote-access",
            severity: 2,
            app: Some(s.tool.clone()),
            metadata: md,
        };
        let e = &rec.ends;
        let dir = self.home.direction(e.v6, &e.client, &e.server);
        alerts.push(alert_from_tuple(
            rec.tuple.clone(),
            rec.flow_id,
            rec.end_ns,
            rec.app_proto,
            dir,
            format!("{ip}"),
            f,
        ));
    }

    /// A session (both sides talked, several packets each way) to a known device, from
    /// another host, that the worker did not already raise as the device's own; to an
    /// internal server not known yet, kept a while in case its device record comes later.
    fn ikvm_session(&mut self, rec: &FlowRecord, alerts: &mut Vec<AlertRecord>) {
        let e = &rec.ends;
        if e.client == e.server
            || rec.flow.pkts_toserver < 4
            || rec.flow.pkts_toclient < 4
            || rec.app_category.is_some()
            || !self.internal(e.v6, &e.server)
        {
            return;
        }
        let p = Pending {
            server: (e.v6, e.server),
            tuple: rec.tuple.clone(),
            flow_id: rec.flow_id,
            end_ns: rec.end_ns,
            app_proto: rec.app_proto,
            dir: self.home.direction(e.v6, &e.client, &e.server),
        };
        match self.ikvms.devices.get(&(e.v6, e.server)) {
            Some(d) => alerts.push(session_alert(p, &d.tool)),
            None => {
                let q = &mut self.ikvms.pending;
                if q.len() >= MAX_PENDING {
                    q.pop_front();
                }
                q.push_back(p);
            }
        }
    }
}

fn session_alert(p: Pending, tool: &str) -> AlertRecord {
    let mut md: BTreeMap<String, Vec<String>> = BTreeMap::new();
    md1(&mut md, "ikvm", tool);
    md1(&mut md, "tool", tool);
    md1(&mut md, "app_proto", p.app_proto);
    md1(&mut md, "direction", p.dir);
    let f = Finding {
        signature_id: sid::IKVM_SESSION,
        signature: format!(
            "SPANWATCH remote access: session to an IP-KVM ({tool}, {})",
            p.dir
        ),
        category: "remote-access",
        severity: 1,
        app: Some(tool.to_string()),
        metadata: md,
    };
    let dedup = format!("{}|{}", p.tuple.src_ip, p.tuple.dest_ip);
    alert_from_tuple(p.tuple, p.flow_id, p.end_ns, p.app_proto, p.dir, dedup, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traits() {
        assert_eq!(device_of_hostname("PiKVM"), Some("pikvm"));
        assert_eq!(device_of_hostname("pikvm-lab2"), Some("pikvm"));
        assert_eq!(device_of_hostname("glkvm"), Some("glinet-comet"));
        assert_eq!(device_of_hostname("raspberrypi"), None);
        assert_eq!(oui_maker("DC:A6:32:01:02:03"), Some("Raspberry Pi"));
        assert_eq!(oui_maker("94-83-c4-00-00-01"), Some("GL.iNet"));
        assert_eq!(oui_maker("02:00:00:00:00:01"), None);
        assert_eq!(enterprise_oui("00:0d:5d:11:22:33"), Some("raritan-kvm"));
        assert_eq!(enterprise_oui("00:20:4a:11:22:33"), None);
        assert_eq!(enterprise_oui("b8:27:eb:11:22:33"), None);
        assert_eq!(
            device_of_text("Linux/4.19 UPnP/1.0 Raritan-Dominion-KX/4.2"),
            Some("raritan-kvm")
        );
        assert_eq!(device_of_text("PiKVM Login"), Some("pikvm"));
        assert_eq!(device_of_text("JetKVM"), Some("jetkvm"));
        assert_eq!(device_of_text("GL-RM1 Comet"), Some("glinet-comet"));
        // whole words only
        assert_eq!(device_of_text("Saten latency"), None);
        assert_eq!(device_of_text("mypikvmfan"), None);
    }

    #[test]
    fn bounded() {
        let mut t = Ikvms::default();
        for i in 0..(MAX_DEVICES + 10) {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&(i as u32).to_be_bytes());
            assert!(t.add((false, a), "pikvm"));
        }
        assert_eq!(t.len(), MAX_DEVICES);
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&((MAX_DEVICES + 9) as u32).to_be_bytes());
        assert!(!t.add((false, a), "pikvm"));
    }
}
