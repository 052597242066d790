//! Packet sources: capture files (pcap and pcapng, read through a memory map) and live
//! interfaces (libpcap, or AF_PACKET rings on Linux). Every source yields [`RawPacket`]s
//! whose timestamp is the clock.

#[cfg(target_os = "linux")]
pub mod afpacket;
pub mod file;
pub mod linktype;
pub mod live;

pub use linktype::LinkType;

/// One captured packet as the source delivers it.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Packet time in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length on the wire (may exceed `data.len()` when the snap length cut it).
    pub wire_len: u32,
    pub linktype: LinkType,
    pub data: &'a [u8],
}

/// Error opening or reading a capture, worded for a one-line message naming the file.
#[derive(Debug)]
pub struct CaptureError {
    pub source_name: String,
    pub message: String,
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source_name, self.message)
    }
}

impl std::error::Error for CaptureError {}
