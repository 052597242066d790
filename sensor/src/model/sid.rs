//! Every signature id spanwatch raises from code, in one place (the rules catalogue's
//! entries carry their own ids in `rules/*.toml`), and the kinds of host anomaly.
//!
//! Ranges: 9 2xx xxx remote access, 9 3xx xxx tunnels and the host stage's behaviour
//! (ICMP tunnel, DNS tunnel, SSH shapes, egress, exfiltration, collection, calls, fan-in,
//! beacons, resolver bypass), 9 4xx xxx VPNs and proxies.

// Remote access by protocol (detect::remote_access).
pub const RDP: u32 = 9_200_001;
pub const VNC: u32 = 9_200_002;
pub const SSH: u32 = 9_200_003;
pub const XDMCP: u32 = 9_200_004;
/// An IP-KVM device shows itself on the network (host::ikvm).
pub const IKVM_DEVICE: u32 = 9_200_010;
/// A remote-access session to a known IP-KVM device (host::ikvm).
pub const IKVM_SESSION: u32 = 9_200_011;
/// A VDI session named by its transports: TLS then UDP (QUIC for Amazon DCV, BEAT for
/// Horizon Blast) from one client to the same server port (host::vdi).
pub const VDI_TRANSPORTS: u32 = 9_200_012;

// Tunnels seen in one flow (detect).
pub const ICMP_TUNNEL: u32 = 9_300_001;
/// A flow to port 53 that does not speak DNS (detect::tunnels).
pub const PORT53_NOT_DNS: u32 = 9_300_100;
/// DNS over HTTPS or TLS polled the way a DNS tunnel polls (detect::wrapped::dns_poll).
pub const DNS_POLL_ENCRYPTED: u32 = 9_300_101;

// The host stage (host): across flows and over time.
pub const DNS_TUNNEL: u32 = 9_300_002;
pub const SSH_BULK: u32 = 9_300_003;
pub const SSH_FORWARDING: u32 = 9_300_004;
pub const EGRESS: u32 = 9_300_010;
pub const EXFIL: u32 = 9_300_020;
pub const COLLECTION: u32 = 9_300_030;
pub const CALLS: u32 = 9_300_040;
pub const FANIN_SOURCES: u32 = 9_300_050;
pub const FANIN_NETWORKS: u32 = 9_300_051;
pub const BEACON: u32 = 9_300_060;
pub const LONG_CONNECTION: u32 = 9_300_061;
pub const RESOLVER_BYPASS: u32 = 9_300_070;
/// One account authenticating from many networks within a window (host::accounts).
pub const ACCOUNT_NETWORKS: u32 = 9_300_080;
/// One account in two places closer in time than travel allows (host::account_signals).
pub const ACCOUNT_TRAVEL: u32 = 9_300_081;
/// After warm-up, an account seen from a device fingerprint it never used.
pub const ACCOUNT_NEW_DEVICE: u32 = 9_300_082;
/// Many failed logins for one account from several sources.
pub const ACCOUNT_FAILED_LOGINS: u32 = 9_300_083;
/// After warm-up, a host's first use of a remote-access, VPN or tunnel service (host::novelty).
pub const FIRST_USE: u32 = 9_300_084;
/// Two or more remote-access or RMM tools on one host within a day (host::novelty).
pub const REMOTE_ACCESS_VENDORS: u32 = 9_300_085;

// VPNs and proxies (detect::tunnels).
pub const VPN: u32 = 9_400_001;
pub const TOR: u32 = 9_400_002;
pub const PROXY: u32 = 9_400_003;
pub const PROXY_HEADER: u32 = 9_400_004;
pub const AH_TUNNEL: u32 = 9_400_005;
/// A TCP flow whose openings are fully encrypted both ways (detect::encrypted).
pub const FULLY_ENCRYPTED: u32 = 9_400_010;
/// A WebSocket whose frames carry another protocol (detect::tunnels).
pub const WEBSOCKET_TUNNEL: u32 = 9_400_011;
/// An SSH session inside TLS (detect::wrapped::tls_ssh).
pub const TLS_WRAPPED_SSH: u32 = 9_400_012;
/// A byte stream inside long-lived HTTP requests (detect::wrapped::http_stream, host::tunnels).
pub const HTTP_WRAPPED_STREAM: u32 = 9_400_013;
/// IPsec AH in transport mode between two unicast hosts (detect::tunnels).
pub const AH_TRANSPORT: u32 = 9_400_014;

/// Every id above, for tests that check they are distinct.
pub const ALL: &[u32] = &[
    RDP,
    VNC,
    SSH,
    XDMCP,
    IKVM_DEVICE,
    IKVM_SESSION,
    VDI_TRANSPORTS,
    ICMP_TUNNEL,
    DNS_TUNNEL,
    SSH_BULK,
    SSH_FORWARDING,
    EGRESS,
    EXFIL,
    COLLECTION,
    CALLS,
    FANIN_SOURCES,
    FANIN_NETWORKS,
    BEACON,
    LONG_CONNECTION,
    RESOLVER_BYPASS,
    ACCOUNT_NETWORKS,
    ACCOUNT_TRAVEL,
    ACCOUNT_NEW_DEVICE,
    ACCOUNT_FAILED_LOGINS,
    FIRST_USE,
    REMOTE_ACCESS_VENDORS,
    VPN,
    TOR,
    PROXY,
    PROXY_HEADER,
    AH_TUNNEL,
    FULLY_ENCRYPTED,
    WEBSOCKET_TUNNEL,
    TLS_WRAPPED_SSH,
    HTTP_WRAPPED_STREAM,
    AH_TRANSPORT,
    PORT53_NOT_DNS,
    DNS_POLL_ENCRYPTED,
];

/// Kinds of host anomaly: the bounded `kind` label of `spanwatch_host_anomalies_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    Egress,
    Exfiltration,
    Collection,
    Calls,
    FanIn,
    DnsTunnel,
    Beacon,
    LongConnection,
    ResolverBypass,
    FirstUse,
    Vendors,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 11] = [
        AnomalyKind::Egress,
        AnomalyKind::Exfiltration,
        AnomalyKind::Collection,
        AnomalyKind::Calls,
        AnomalyKind::FanIn,
        AnomalyKind::DnsTunnel,
        AnomalyKind::Beacon,
        AnomalyKind::LongConnection,
        AnomalyKind::ResolverBypass,
        AnomalyKind::FirstUse,
        AnomalyKind::Vendors,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Egress => "egress",
            AnomalyKind::Exfiltration => "exfiltration",
            AnomalyKind::Collection => "collection",
            AnomalyKind::Calls => "calls",
            AnomalyKind::FanIn => "fan-in",
            AnomalyKind::DnsTunnel => "dns-tunnel",
            AnomalyKind::Beacon => "beacon",
            AnomalyKind::LongConnection => "long-connection",
            AnomalyKind::ResolverBypass => "resolver-bypass",
            AnomalyKind::FirstUse => "first-use",
            AnomalyKind::Vendors => "remote-access-vendors",
        }
    }
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Kinds of host anomaly: the bounded `kind` label of `spanwatch_host_anomalies_total`
/// (the names of [`AnomalyKind::ALL`]).
pub const ANOMALY_KINDS: [&str; 11] = {
    let mut k = [""; 11];
    let mut i = 0;
    while i < 11 {
        k[i] = AnomalyKind::ALL[i].as_str();
        i += 1;
    }
    k
};

/// Kinds of account anomaly: the bounded `kind` label of
/// `spanwatch_account_anomalies_total` (index = position).
pub const ACCOUNT_ANOMALY_KINDS: [&str; 4] = ["networks", "travel", "new-device", "failed-logins"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_kinds_in_order() {
        let mut v = ALL.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), ALL.len());
        for (i, k) in AnomalyKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
