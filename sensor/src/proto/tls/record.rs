//! The record layer (RFC 8446 §5.1): handshake bytes gathered across consecutive records,
//! one handshake message at a time, and the bounds-checked reader the message parsers share.

use std::borrow::Cow;

use super::{CT_HANDSHAKE, MAX_HANDSHAKE, MAX_RECORD, STR_CAP};
use crate::bytes::{be16, be24};
use crate::proto::Parsed;

/// Handshake bytes gathered from consecutive handshake records at the start of a buffer.
pub(super) struct Gathered<'a> {
    pub(super) data: Cow<'a, [u8]>,
    /// For each record: (handshake bytes up to its end, buffer offset of its end).
    ends: Vec<(usize, usize)>,
    pub(super) stop: Stop,
}

pub(super) enum Stop {
    /// The buffer ended on a record boundary.
    End,
    /// The last record is incomplete: this many more bytes finish it.
    Partial(usize),
    /// A record of another content type follows (e.g. ChangeCipherSpec).
    Other,
    /// MAX_HANDSHAKE bytes were gathered.
    Cap,
}

pub(super) fn gather(buf: &[u8]) -> Result<Gathered<'_>, &'static str> {
    let mut data: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    let mut ends = Vec::new();
    let mut off = 0usize;
    loop {
        if data.len() >= MAX_HANDSHAKE {
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Cap,
            });
        }
        let avail = buf.len().saturating_sub(off);
        if avail == 0 {
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::End,
            });
        }
        let Some(hdr) = buf.get(off..off + 5) else {
            // Peek what we can of the header to reject non-handshake early.
            if buf.get(off).is_some_and(|&t| t != CT_HANDSHAKE) {
                return if ends.is_empty() {
                    Err("not a handshake record")
                } else {
                    Ok(Gathered {
                        data,
                        ends,
                        stop: Stop::Other,
                    })
                };
            }
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Partial(5 - avail),
            });
        };
        if hdr.first() != Some(&CT_HANDSHAKE) {
            if ends.is_empty() {
                return Err("not a handshake record");
            }
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Other,
            });
        }
        if hdr.get(1) != Some(&3) {
            return Err("record version is not 3.x");
        }
        let len = usize::from(be16(hdr, 3).unwrap_or(0));
        if len > MAX_RECORD {
            return Err("record longer than 2^14+2048");
        }
        let start = off + 5;
        let end = start + len;
        let Some(frag) = buf.get(start..end) else {
            return Ok(Gathered {
                data,
                ends,
                stop: Stop::Partial(end - buf.len()),
            });
        };
        if ends.is_empty() {
            data = Cow::Borrowed(frag);
        } else {
            data.to_mut().extend_from_slice(frag);
        }
        ends.push((data.len(), end));
        off = end;
    }
}

impl Gathered<'_> {
    /// Buffer offset of the end of the record holding handshake byte `hs_end - 1`.
    pub(super) fn consumed_for(&self, hs_end: usize) -> usize {
        self.ends
            .iter()
            .find(|(h, _)| *h >= hs_end)
            .map(|(_, b)| *b)
            .unwrap_or(0)
    }

    /// What to say when `want` handshake bytes are not all there.
    pub(super) fn short(&self, want: usize) -> Parsed<()> {
        let missing = want.saturating_sub(self.data.len());
        match self.stop {
            Stop::Partial(n) => Parsed::NeedMore { needed: n.max(1) },
            // A further record needs at least its 5-byte header plus the missing bytes.
            Stop::End => Parsed::NeedMore {
                needed: 5 + missing.max(1),
            },
            Stop::Other => Parsed::Malformed("handshake message cut by another record type"),
            Stop::Cap => Parsed::Malformed("handshake message too long"),
        }
    }
}

/// One handshake message at `at` in the gathered bytes: Ok(Some((type, body, end))),
/// Ok(None) when it is not complete (Err(want) gives how many bytes would complete it).
pub(super) fn message_at(data: &[u8], at: usize) -> Result<(u8, &[u8], usize), usize> {
    let (Some(&t), Some(len)) = (data.get(at), be24(data, at + 1)) else {
        return Err(at + 4);
    };
    let end = at + 4 + len as usize;
    match data.get(at + 4..end) {
        Some(body) => Ok((t, body, end)),
        None => Err(end),
    }
}

pub(super) fn reshape<T>(p: Parsed<()>) -> Parsed<T> {
    match p {
        Parsed::NeedMore { needed } => Parsed::NeedMore { needed },
        Parsed::Malformed(m) => Parsed::Malformed(m),
        Parsed::Done { .. } => Parsed::Malformed("internal"),
    }
}

/// A bounds-checked forward reader.
pub(super) struct Rd<'a> {
    b: &'a [u8],
    off: usize,
}

impl<'a> Rd<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Rd { b, off: 0 }
    }
    pub(super) fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.off)?;
        self.off += 1;
        Some(v)
    }
    pub(super) fn u16(&mut self) -> Option<u16> {
        let v = be16(self.b, self.off)?;
        self.off += 2;
        Some(v)
    }
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.off..self.off.checked_add(n)?)?;
        self.off += n;
        Some(s)
    }
    pub(super) fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    pub(super) fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    pub(super) fn rest(&self) -> usize {
        self.b.len().saturating_sub(self.off)
    }
}

pub(super) fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

pub(super) fn lossy(b: &[u8]) -> String {
    let b = b.get(..b.len().min(STR_CAP)).unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}
