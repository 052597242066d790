//! Link-layer header types (tcpdump.org/linktypes.html) that the decoder understands.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1)
    Ethernet,
    /// LINKTYPE_NULL (0) and LINKTYPE_LOOP (108): 4-byte address family header.
    Null,
    /// LINKTYPE_LOOP (108): like NULL but the family is always big-endian.
    Loop,
    /// LINKTYPE_RAW (101), DLT_RAW (12/14), LINKTYPE_IPV4 (228), LINKTYPE_IPV6 (229).
    RawIp,
    /// LINKTYPE_LINUX_SLL (113)
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276)
    LinuxSll2,
    /// LINKTYPE_PPP (9): PPP in HDLC-like framing, protocol field only.
    Ppp,
    /// LINKTYPE_C_HDLC (104)
    CiscoHdlc,
    /// LINKTYPE_PPI (192): per-packet information header, then the DLT it names.
    Ppi,
    /// Anything else: packets are counted and reported under decode errors.
    Other(u32),
}

impl LinkType {
    pub fn from_u32(v: u32) -> LinkType {
        match v {
            1 => LinkType::Ethernet,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            12 | 14 | 101 | 228 | 229 => LinkType::RawIp,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            9 | 50 => LinkType::Ppp,
            104 => LinkType::CiscoHdlc,
            192 => LinkType::Ppi,
            other => LinkType::Other(other),
        }
    }

    pub fn as_u32(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::Null => 0,
            LinkType::Loop => 108,
            LinkType::RawIp => 101,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Ppp => 9,
            LinkType::CiscoHdlc => 104,
            LinkType::Ppi => 192,
            LinkType::Other(v) => v,
        }
    }
}
