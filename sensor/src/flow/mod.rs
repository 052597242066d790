//! Flows: the canonical key, the per-worker table with packet-time expiry and a hard cap,
//! TCP state, client/server roles, and Community ID.

pub mod keep;
pub mod key;
pub mod table;
pub mod tcp;

pub use crate::model::net::Ends;
pub use crate::proto::registry::AppProto;
pub use key::FlowKey;
pub use table::{FlowConfig, FlowTable};
pub use tcp::TcpState;

use crate::decode::Encap;

/// Index 0 is client → server, 1 is server → client.
pub const TO_SERVER: usize = 0;
pub const TO_CLIENT: usize = 1;

/// One bidirectional flow, with the per-flow state `D` of the stages above (detection's
/// `detect::FlowDetect`, whose buffers sit behind a box so that flows which never carry
/// payload stay small).
#[derive(Debug)]
pub struct Flow<D> {
    pub id: u64,
    pub start_ns: u64,
    pub last_ns: u64,
    /// Time of the first packet after the last active-timeout record.
    pub period_start_ns: u64,
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    /// Bytes of this period already reported to the host stage in progress events.
    pub reported: [u64; 2],
    /// Whether the key's `lo` endpoint is the client.
    pub client_is_lo: bool,
    pub tcp: TcpState,
    pub tcp_flags: [u8; 2],
    pub app_proto: AppProto,
    pub encap: Encap,
    pub vlan: u16,
    pub detect: D,
}

impl<D> Flow<D> {
    /// A flow whose first packet, at `ts`, has not been counted yet.
    #[inline]
    pub fn new(id: u64, ts: u64, client_is_lo: bool, detect: D) -> Flow<D> {
        Flow {
            id,
            start_ns: ts,
            last_ns: ts,
            period_start_ns: ts,
            pkts: [0; 2],
            bytes: [0; 2],
            reported: [0; 2],
            client_is_lo,
            tcp: TcpState::None,
            tcp_flags: [0; 2],
            app_proto: AppProto::Unknown,
            encap: Encap::default(),
            vlan: 0,
            detect,
        }
    }

    pub fn state_name(&self, proto: u8) -> &'static str {
        if proto == crate::decode::PROTO_TCP {
            match self.tcp {
                TcpState::None | TcpState::SynSent | TcpState::SynAckSeen => "new",
                TcpState::Established | TcpState::Closing => "established",
                TcpState::Closed => "closed",
            }
        } else if self.pkts[TO_CLIENT] > 0 {
            "established"
        } else {
            "new"
        }
    }
}

/// Ports on which the listening side is the server even above 1023.
pub fn is_service_port(p: u16) -> bool {
    matches!(
        p,
        1080 | 1194
            | 1433
            | 1494
            | 1521
            | 1701
            | 1723
            | 2598
            | 3128
            | 3306
            | 3389
            | 3478
            | 4172
            | 4500
            | 4899
            | 5060
            | 5061
            | 5222
            | 5432
            | 5900..=5910
            | 5938
            | 6379
            | 7070
            | 8000
            | 8008
            | 8080
            | 8081
            | 8443
            | 8801..=8810
            | 8888
            | 9001
            | 9030
            | 9050
            | 9993
            | 19302..=19309
            | 21115..=21119
            | 22443
            | 27017
            | 41641
            | 51820
    )
}

/// Decide whether the sender of a flow's first packet is the client: the TCP handshake
/// when seen, else well-known and service ports, else the first sender.
pub fn first_sender_is_client(proto: u8, tcp_flags: u8, sport: u16, dport: u16) -> bool {
    use crate::decode::tcp_flags::*;
    if proto == crate::decode::PROTO_TCP && tcp_flags & SYN != 0 {
        return tcp_flags & ACK == 0;
    }
    if proto == crate::decode::PROTO_ICMP || proto == crate::decode::PROTO_ICMPV6 {
        // replies travel from the server: echo reply (0/129), timestamp reply (14) …
        return !matches!(
            sport as u8,
            0 | 14 | 16 | 18 | 129 | 131 | 134 | 136 | 140 | 145
        );
    }
    let (s_svc, d_svc) = (
        sport < 1024 || is_service_port(sport),
        dport < 1024 || is_service_port(dport),
    );
    match (s_svc, d_svc) {
        (true, false) => false,
        (false, true) => true,
        (true, true) => sport >= dport,
        (false, false) => true,
    }
}
