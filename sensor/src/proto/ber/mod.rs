//! A small, checked reader of BER/DER tag-length-value items (ITU-T X.690 §8.1), shared by
//! the Kerberos (RFC 4120 uses DER) and LDAP (RFC 4511 §5.1 uses a BER subset) parsers.
//!
//! Only definite lengths of at most four length octets and tag numbers of at most four
//! octets are accepted; anything else is malformed. Nothing here allocates or panics.

/// Tag classes (X.690 §8.1.2.2).
pub const UNIVERSAL: u8 = 0;
pub const APPLICATION: u8 = 1;
pub const CONTEXT: u8 = 2;

/// Longest name this module's callers keep, in bytes (longer ones are cut).
pub const NAME_CAP: usize = 256;

/// One TLV item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub class: u8,
    pub constructed: bool,
    pub tag: u32,
    /// The contents octets.
    pub value: &'a [u8],
    /// Header plus contents: how many bytes of the input this item spans.
    pub len: usize,
}

/// Why an item could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BerError {
    /// The item is cut: at least this many more bytes are needed.
    NeedMore(usize),
    Malformed(&'static str),
}

/// Reads the header of the item at the start of `buf`: (class, constructed, tag, header
/// length, contents length).
pub fn header(buf: &[u8]) -> Result<(u8, bool, u32, usize, usize), BerError> {
    let first = *buf.first().ok_or(BerError::NeedMore(2))?;
    let class = first >> 6;
    let constructed = first & 0x20 != 0;
    let mut tag = u32::from(first & 0x1f);
    let mut pos = 1;
    if tag == 0x1f {
        tag = 0;
        loop {
            let b = *buf.get(pos).ok_or(BerError::NeedMore(1))?;
            pos += 1;
            if pos > 5 {
                return Err(BerError::Malformed("BER tag number too long"));
            }
            tag = (tag << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l = *buf.get(pos).ok_or(BerError::NeedMore(1))?;
    pos += 1;
    let len = if l < 0x80 {
        usize::from(l)
    } else if l == 0x80 {
        return Err(BerError::Malformed("BER indefinite length"));
    } else {
        let n = usize::from(l & 0x7f);
        if n > 4 {
            return Err(BerError::Malformed("BER length too long"));
        }
        if buf.len() < pos + n {
            return Err(BerError::NeedMore(pos + n - buf.len()));
        }
        let mut v: usize = 0;
        for &b in &buf[pos..pos + n] {
            v = (v << 8) | usize::from(b);
        }
        pos += n;
        v
    };
    Ok((class, constructed, tag, pos, len))
}

/// Reads the item at the start of `buf`; `NeedMore` when its contents run past the end.
pub fn read(buf: &[u8]) -> Result<Tlv<'_>, BerError> {
    let (class, constructed, tag, hdr, len) = header(buf)?;
    let end = hdr
        .checked_add(len)
        .ok_or(BerError::Malformed("BER length overflow"))?;
    if buf.len() < end {
        return Err(BerError::NeedMore(end - buf.len()));
    }
    Ok(Tlv {
        class,
        constructed,
        tag,
        value: &buf[hdr..end],
        len: end,
    })
}

/// Reads an item that must be complete (it lies inside an outer item already read whole).
pub fn read_inner(buf: &[u8]) -> Result<Tlv<'_>, &'static str> {
    read(buf).map_err(|e| match e {
        BerError::NeedMore(_) => "BER item runs past its container",
        BerError::Malformed(m) => m,
    })
}

/// The items inside a constructed item's contents, in order; stops at the first bad one
/// (which it yields as an error).
pub fn children(value: &[u8]) -> Children<'_> {
    Children { rest: value }
}

pub struct Children<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Tlv<'a>, &'static str>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match read_inner(self.rest) {
            Ok(t) => {
                self.rest = &self.rest[t.len..];
                Some(Ok(t))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// The child with context-specific tag `[n]` in a SEQUENCE's contents.
pub fn field(value: &[u8], n: u32) -> Result<Option<Tlv<'_>>, &'static str> {
    for c in children(value) {
        let c = c?;
        if c.class == CONTEXT && c.tag == n {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// The contents of an explicitly tagged `[n]` field: its single inner item.
pub fn explicit(value: &[u8], n: u32) -> Result<Option<Tlv<'_>>, &'static str> {
    match field(value, n)? {
        Some(t) => read_inner(t.value).map(Some),
        None => Ok(None),
    }
}

/// A two's-complement INTEGER (or ENUMERATED) of at most eight contents octets.
pub fn integer(value: &[u8]) -> Result<i64, &'static str> {
    if value.is_empty() || value.len() > 8 {
        return Err("BER integer length");
    }
    let mut v: i64 = if value[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in value {
        v = (v << 8) | i64::from(b);
    }
    Ok(v)
}

/// Text of a string item, lossily decoded, cut at [`NAME_CAP`] bytes.
pub fn text(value: &[u8]) -> String {
    let v = &value[..value.len().min(NAME_CAP)];
    let mut s = String::from_utf8_lossy(v).into_owned();
    truncate(&mut s, NAME_CAP);
    s
}

/// Cuts `s` to at most `cap` bytes on a character boundary.
pub fn truncate(s: &mut String, cap: usize) {
    if s.len() > cap {
        let mut end = cap;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Test helper: one DER item with identifier octet `id` (tag numbers below 31 only).
#[cfg(test)]
pub(crate) fn tlv(id: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// Test helper: pseudo-random garbage and mutations of `seed`, deterministic.
#[cfg(test)]
pub(crate) fn garbage(seed: &[u8], rounds: usize, mut f: impl FnMut(&[u8])) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..rounds {
        let len = (next() % 300) as usize;
        let rnd: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        f(&rnd);
        let mut m = seed.to_vec();
        if !m.is_empty() {
            for _ in 0..(1 + next() % 4) {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            let cut = (next() as usize) % (m.len() + 1);
            f(&m[..cut]);
            f(&m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let t = read(&[0x04, 0x02, b'a', b'b', 0xff]).unwrap();
        assert_eq!(
            (t.class, t.constructed, t.tag, t.value, t.len),
            (0, false, 4, &b"ab"[..], 4)
        );
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0u8, 0x100));
        assert_eq!(read(&long).unwrap().value.len(), 0x100);
        assert_eq!(read(&long[..10]), Err(BerError::NeedMore(0x104 - 10)));
        assert_eq!(read(&[0x30, 0x82, 0x01]), Err(BerError::NeedMore(1)));
        assert!(matches!(read(&[0x30, 0x80]), Err(BerError::Malformed(_))));
        assert!(matches!(
            read(&[0x30, 0x85, 1, 1, 1, 1, 1]),
            Err(BerError::Malformed(_))
        ));
    }

    #[test]
    fn reads_high_tag_numbers_and_integers() {
        let t = read(&[0x7f, 0x81, 0x00, 0x00]).unwrap();
        assert_eq!((t.class, t.tag), (APPLICATION, 128));
        assert_eq!(integer(&[0xff]), Ok(-1));
        assert_eq!(integer(&[0x00, 0x80]), Ok(128));
        assert!(integer(&[]).is_err());
        assert!(integer(&[0; 9]).is_err());
    }

    #[test]
    fn inner_items_that_run_past_their_container_are_errors() {
        let kids: Vec<_> = children(&[0x02, 0x01, 0x05, 0x04, 0x09, 0x00]).collect();
        assert_eq!(kids.len(), 2);
        assert!(kids[0].is_ok());
        assert!(kids[1].is_err());
    }
}
