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

/// Tests: the recorded fixtures (`tests/fixtures`), the demo capture, and every capture under
/// `$SPANWATCH_RAWKEY_DIR` when set (e.g. the shared corpus), for tests that check a fast
/// path against the general one packet by packet.
#[cfg(test)]
pub(crate) fn test_captures() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("sensor/assets/demo.pcap")];
    let mut dirs = vec![root.join("tests/fixtures")];
    if let Some(d) = std::env::var_os("SPANWATCH_RAWKEY_DIR") {
        dirs.push(d.into());
    }
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
            {
                files.push(p);
            }
        }
    }
    files
}
