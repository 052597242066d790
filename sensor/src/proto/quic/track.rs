//! One QUIC flow's Initial packets, both directions: the keys from the client's first
//! Destination Connection ID, and each direction's CRYPTO stream.

use super::crypto::{read_frames, CryptoStream};
use super::initial::{initial_keys, long_header, open, Keys, Version};

/// What one datagram gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram {
    /// At least one Initial packet opened and its frames were read.
    Read,
    /// No Initial packet in it (Handshake, 0-RTT, short header …).
    Nothing,
    /// An Initial that could not be opened or read (counted in [`Track::malformed`]).
    Malformed(&'static str),
}

/// A server Initial seen before any client Initial (a capture of one side): not the
/// packet's fault.
pub const NO_KEYS: &str = "server Initial before the client's: no keys";

/// A flow's Initial packets so far.
#[derive(Default, Clone)]
pub struct Track {
    /// The version of the first long header opened.
    pub version: Option<Version>,
    /// The Destination Connection ID the keys come from (the client's first Initial's,
    /// or after a Retry the one its next Initial uses).
    key_dcid: Vec<u8>,
    /// Initial keys [client, server].
    keys: Option<Box<[Keys; 2]>>,
    /// The CRYPTO stream [client to server, server to client].
    pub streams: [CryptoStream; 2],
    /// Initial packets opened.
    pub opened: u16,
    /// Initial packets that did not open or whose frames were malformed.
    pub malformed: u16,
}

impl Track {
    /// Read one datagram of direction `dir` (0: from the client): every coalesced
    /// Initial packet in it is opened and its CRYPTO frames kept.
    pub fn datagram(&mut self, b: &[u8], dir: usize) -> Datagram {
        let mut at = 0usize;
        let mut out = Datagram::Nothing;
        while let Some(pkt) = b.get(at..).filter(|p| !p.is_empty()) {
            // A short header (1-RTT) or datagram padding ends what we can read.
            if pkt[0] & 0x80 == 0 {
                break;
            }
            let h = match long_header(pkt) {
                Ok(h) => h,
                Err(m) => {
                    if out == Datagram::Nothing {
                        self.malformed = self.malformed.saturating_add(1);
                        out = Datagram::Malformed(m);
                    }
                    break;
                }
            };
            if h.is_initial() {
                match self.open_initial(pkt, &h, dir) {
                    Ok(()) => out = Datagram::Read,
                    Err(m) => {
                        self.malformed = self.malformed.saturating_add(1);
                        if out == Datagram::Nothing {
                            out = Datagram::Malformed(m);
                        }
                    }
                }
            }
            if h.end == 0 {
                break;
            }
            at += h.end;
        }
        out
    }

    fn open_initial(
        &mut self,
        pkt: &[u8],
        h: &super::initial::LongHeader<'_>,
        dir: usize,
    ) -> Result<(), &'static str> {
        if self.keys.is_none() {
            if dir != 0 {
                return Err(NO_KEYS);
            }
            self.set_keys(h.version, h.dcid);
        }
        let k = self.keys.as_deref().ok_or("no keys")?;
        let plain = match open(pkt, h, &k[dir]) {
            Ok((_, p)) => p,
            // After a Retry the client's next Initial uses the server's new connection
            // ID, and both sides' keys come from it (RFC 9001 §5.2).
            Err(_) if dir == 0 && h.dcid != self.key_dcid.as_slice() => {
                let k = [
                    initial_keys(h.version, h.dcid, false),
                    initial_keys(h.version, h.dcid, true),
                ];
                let (_, p) = open(pkt, h, &k[0])?;
                self.key_dcid = h.dcid.to_vec();
                self.keys = Some(Box::new(k));
                p
            }
            Err(m) => return Err(m),
        };
        self.opened = self.opened.saturating_add(1);
        self.version.get_or_insert(h.version);
        read_frames(&plain, &mut self.streams[dir])
    }

    fn set_keys(&mut self, v: Version, dcid: &[u8]) {
        self.key_dcid = dcid.to_vec();
        self.keys = Some(Box::new([
            initial_keys(v, dcid, false),
            initial_keys(v, dcid, true),
        ]));
    }
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track")
            .field("version", &self.version)
            .field("opened", &self.opened)
            .field("malformed", &self.malformed)
            .finish()
    }
}
