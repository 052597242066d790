//! The frames of an Initial packet (RFC 9000 §12.4, §19: PADDING, PING, ACK, CRYPTO,
//! CONNECTION_CLOSE) and the CRYPTO stream they carry, reassembled in order from frames
//! that may come out of order and across several packets, in a bounded buffer.

use super::varint;

/// Most CRYPTO bytes kept per direction: a ClientHello with post-quantum key shares is
/// a few KiB; more than this in Initial packets is not a handshake we follow.
pub const MAX_CRYPTO: usize = 16 * 1024;
/// Most out-of-order fragments held while waiting for the bytes before them.
const MAX_PENDING: usize = 32;

/// One direction's CRYPTO stream at the Initial encryption level.
#[derive(Debug, Default, Clone)]
pub struct CryptoStream {
    /// The bytes from offset 0 with no hole.
    data: Vec<u8>,
    /// Fragments beyond a hole: (offset, bytes).
    pending: Vec<(usize, Vec<u8>)>,
}

impl CryptoStream {
    /// The stream's bytes from offset 0 up to the first hole.
    pub fn contiguous(&self) -> &[u8] {
        &self.data
    }

    /// CRYPTO frame data at `off`. Data already held is ignored (a retransmission);
    /// data beyond [`MAX_CRYPTO`] or too many held fragments is an error.
    pub fn add(&mut self, off: u64, d: &[u8]) -> Result<(), &'static str> {
        let off = usize::try_from(off).map_err(|_| "CRYPTO offset beyond the bound")?;
        let end = off
            .checked_add(d.len())
            .filter(|&e| e <= MAX_CRYPTO)
            .ok_or("CRYPTO data beyond the bound")?;
        if off > self.data.len() {
            if self.pending.len() >= MAX_PENDING {
                return Err("too many CRYPTO fragments out of order");
            }
            self.pending.push((off, d.to_vec()));
            return Ok(());
        }
        if end > self.data.len() {
            let new = &d[self.data.len() - off..];
            self.data.extend_from_slice(new);
        }
        // Fragments the new bytes reached.
        loop {
            let len = self.data.len();
            let Some(i) = self.pending.iter().position(|(o, _)| *o <= len) else {
                break;
            };
            let (o, f) = self.pending.swap_remove(i);
            if o + f.len() > len {
                self.data.extend_from_slice(&f[len - o..]);
            }
        }
        Ok(())
    }
}

/// Walk an Initial packet's frames, adding CRYPTO data to `s`. Frames an Initial may
/// not carry are an error (RFC 9000 §12.4, Table 3).
pub fn read_frames(p: &[u8], s: &mut CryptoStream) -> Result<(), &'static str> {
    let mut at = 0usize;
    let v = |at: &mut usize| -> Result<u64, &'static str> {
        let (x, n) = varint(p, *at).ok_or("short frame")?;
        *at += n;
        Ok(x)
    };
    while at < p.len() {
        let (t, n) = varint(p, at).ok_or("short frame type")?;
        at += n;
        match t {
            0x00 | 0x01 => {} // PADDING, PING
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges, ECN counts.
                v(&mut at)?;
                v(&mut at)?;
                let ranges = v(&mut at)?;
                v(&mut at)?;
                for _ in 0..ranges {
                    v(&mut at)?;
                    v(&mut at)?;
                    if at >= p.len() {
                        break;
                    }
                }
                if t == 0x03 {
                    for _ in 0..3 {
                        v(&mut at)?;
                    }
                }
            }
            0x06 => {
                let off = v(&mut at)?;
                let len = usize::try_from(v(&mut at)?).map_err(|_| "short CRYPTO frame")?;
                let d = at
                    .checked_add(len)
                    .and_then(|e| p.get(at..e))
                    .ok_or("short CRYPTO frame")?;
                at += len;
                s.add(off, d)?;
            }
            0x1c => return Ok(()), // CONNECTION_CLOSE: nothing further to learn
            _ => return Err("frame type not allowed in an Initial packet"),
        }
    }
    Ok(())
}
