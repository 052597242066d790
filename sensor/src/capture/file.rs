//! Capture files read through a memory map: classic pcap (micro- and nanosecond, either byte
//! order) and pcapng (several interfaces, each with its own link type and time resolution).
//!
//! The reader is zero-copy: every packet is a slice of the map, so the dispatcher can hand
//! worker threads an offset instead of a copy. A file cut short yields every whole packet
//! and then reports where it ended.

use super::{CaptureError, LinkType, RawPacket};
use memmap2::Mmap;
use std::fs::File;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;
/// Largest file whose map is populated when opened (see [`CaptureFile::open`]).
const POPULATE_MAX: u64 = 1 << 30;

/// The bytes of a capture: a file's memory map, or a capture built into the binary.
pub enum FileBytes {
    Map(Mmap),
    Static(&'static [u8]),
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Map(m) => m,
            FileBytes::Static(s) => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: LinkType,
    /// Multiply the raw timestamp by `num` then divide by `den` to get nanoseconds.
    num: u64,
    den: u64,
    offset_s: i64,
}

impl Iface {
    fn new(linktype: LinkType) -> Self {
        Iface {
            linktype,
            num: 1000,
            den: 1,
            offset_s: 0,
        }
    }
    fn ts_ns(&self, raw: u64) -> u64 {
        let ns = (raw as u128 * self.num as u128 / self.den as u128) as u64;
        (ns as i128 + self.offset_s as i128 * 1_000_000_000).max(0) as u64
    }
}

/// An open capture file.
pub struct CaptureFile {
    name: String,
    map: Arc<FileBytes>,
    format: Format,
    big_endian: bool,
    pos: usize,
    ifaces: Vec<Iface>,
    /// Set when reading stopped early; reported once by [`CaptureFile::error`].
    error: Option<String>,
    done: bool,
}

impl CaptureFile {
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureError> {
        let name = path.display().to_string();
        let err = |m: String| CaptureError {
            source_name: name.clone(),
            message: m,
        };
        let file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
        let meta = file
            .metadata()
            .map_err(|e| err(format!("cannot stat: {e}")))?;
        if meta.is_dir() {
            return Err(err("is a directory, not a capture file".into()));
        }
        if meta.len() == 0 {
            return Err(err("empty file, not a capture".into()));
        }
        // SAFETY: the map is read-only; a file truncated underneath us by another process
        // is outside what a capture reader can defend against (as with any mmap reader).
        // Populate the mapping up front: faulting it in page by page on first touch cost
        // more than the whole decode (perf showed most cycles in page faults). Only for
        // files that comfortably fit in memory: populating a capture of many GiB would read
        // all of it before the first packet (and evict its own start on a small machine);
        // those are faulted in as read, with read-ahead from the sequential advice.
        let mut opts = memmap2::MmapOptions::new();
        if meta.len() <= POPULATE_MAX {
            opts.populate();
        }
        let map = unsafe { opts.map(&file) }.map_err(|e| err(format!("cannot map: {e}")))?;
        let _ = map.advise(memmap2::Advice::Sequential);
        Self::from_map(name, Arc::new(FileBytes::Map(map)))
    }

    /// A capture held in memory (the demo capture built into the binary).
    pub fn from_static(name: &str, bytes: &'static [u8]) -> Result<CaptureFile, CaptureError> {
        Self::from_map(name.to_string(), Arc::new(FileBytes::Static(bytes)))
    }

    fn from_map(name: String, map: Arc<FileBytes>) -> Result<CaptureFile, CaptureError> {
        let err = |m: String| CaptureError {
            source_name: name.clone(),
            message: m,
        };
        let b = &map[..];
        if b.len() < 4 {
            return Err(err(format!(
                "{} bytes: too short to be a capture file",
                b.len()
            )));
        }
        let magic_le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let magic_be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let mut cf = CaptureFile {
            name: name.clone(),
            map: map.clone(),
            format: Format::Pcap,
            big_endian: false,
            pos: 0,
            ifaces: Vec::new(),
            error: None,
            done: false,
        };
        if magic_le == PCAPNG_SHB {
            cf.format = Format::Pcapng;
            if b.len() < 12 {
                return Err(err("pcapng section header cut short".into()));
            }
            let bom = &b[8..12];
            cf.big_endian = match u32::from_le_bytes([bom[0], bom[1], bom[2], bom[3]]) {
                PCAPNG_BOM => false,
                x if x.swap_bytes() == PCAPNG_BOM => true,
                _ => {
                    return Err(err(
                        "pcapng section header has a bad byte-order magic".into()
                    ))
                }
            };
            return Ok(cf);
        }
        let (big_endian, nanos) = match (magic_le, magic_be) {
            (PCAP_MAGIC_US, _) => (false, false),
            (PCAP_MAGIC_NS, _) => (false, true),
            (_, PCAP_MAGIC_US) => (true, false),
            (_, PCAP_MAGIC_NS) => (true, true),
            _ => {
                return Err(err(format!(
                    "not a pcap or pcapng file (magic {:02x}{:02x}{:02x}{:02x})",
                    b[0], b[1], b[2], b[3]
                )))
            }
        };
        if b.len() < 24 {
            return Err(err("pcap file header cut short".into()));
        }
        cf.big_endian = big_endian;
        let lt = cf.u32_at(20) & 0x0fff_ffff; // upper bits carry FCS info
        let mut iface = Iface::new(LinkType::from_u32(lt));
        if nanos {
            iface.num = 1;
        }
        cf.ifaces.push(iface);
        cf.pos = 24;
        Ok(cf)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn format(&self) -> Format {
        self.format
    }
    /// The map behind every packet slice, for zero-copy hand-off to workers.
    pub fn map(&self) -> &Arc<FileBytes> {
        &self.map
    }
    /// Why reading stopped before the end, if it did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    /// Bytes of the file consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn u16_at(&self, off: usize) -> u16 {
        let b = [self.map[off], self.map[off + 1]];
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }
    fn u32_at(&self, off: usize) -> u32 {
        let b = [
            self.map[off],
            self.map[off + 1],
            self.map[off + 2],
            self.map[off + 3],
        ];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn fail(&mut self, msg: String) {
        self.error = Some(msg);
        self.done = true;
    }

    /// The next packet, or `None` at the end of the file or at the first damage
    /// (then [`CaptureFile::error`] says what and where).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<RawPacket<'_>> {
        if self.done {
            return None;
        }
        match self.format {
            Format::Pcap => self.next_pcap(),
            Format::Pcapng => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self) -> Option<RawPacket<'_>> {
        let len = self.map.len();
        let p = self.pos;
        if p == len {
            self.done = true;
            return None;
        }
        if len - p < 16 {
            self.fail(format!("cut short: partial record header at byte {p}"));
            return None;
        }
        // The 16-byte record header in one slice: four fields, one bounds check (this runs
        // for every packet of a replay).
        let h: &[u8; 16] = self.map[p..p + 16]
            .try_into()
            .expect("16 bytes checked above");
        let field = |i: usize| {
            let b = [h[i], h[i + 1], h[i + 2], h[i + 3]];
            if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (sec, frac) = (field(0) as u64, field(4) as u64);
        let (caplen, wire) = (field(8) as usize, field(12));
        if caplen > 262_144 * 4 {
            self.fail(format!(
                "corrupt record at byte {p}: captured length {caplen}"
            ));
            return None;
        }
        if len - p - 16 < caplen {
            self.fail(format!(
                "cut short: record at byte {p} needs {caplen} bytes, {} remain",
                len - p - 16
            ));
            return None;
        }
        let ifc = self.ifaces[0];
        let frac_ns = if ifc.num == 1 { frac } else { frac * 1000 };
        self.pos = p + 16 + caplen;
        Some(RawPacket {
            ts_ns: sec * 1_000_000_000 + frac_ns,
            wire_len: wire.max(caplen as u32),
            linktype: ifc.linktype,
            data: &self.map[p + 16..p + 16 + caplen],
        })
    }

    fn next_pcapng(&mut self) -> Option<RawPacket<'_>> {
        loop {
            let len = self.map.len();
            let p = self.pos;
            if p == len {
                self.done = true;
                return None;
            }
            if len - p < 12 {
                self.fail(format!("cut short: partial block header at byte {p}"));
                return None;
            }
            let btype = u32::from_le_bytes(self.map[p..p + 4].try_into().unwrap());
            if btype == PCAPNG_SHB {
                // A new section may switch byte order and resets the interface list.
                let bom = u32::from_le_bytes(self.map[p + 8..p + 12].try_into().unwrap());
                self.big_endian = match bom {
                    PCAPNG_BOM => false,
                    x if x.swap_bytes() == PCAPNG_BOM => true,
                    _ => {
                        self.fail(format!("bad section header byte-order magic at byte {p}"));
                        return None;
                    }
                };
                self.ifaces.clear();
            }
            let btype = self.u32_at(p);
            let blen = self.u32_at(p + 4) as usize;
            if blen < 12 || blen % 4 != 0 {
                self.fail(format!("corrupt block at byte {p}: length {blen}"));
                return None;
            }
            if len - p < blen {
                self.fail(format!(
                    "cut short: block at byte {p} needs {blen} bytes, {} remain",
                    len - p
                ));
                return None;
            }
            self.pos = p + blen;
            let body = p + 8;
            let body_len = blen - 12;
            match btype {
                1 => {
                    // Interface Description Block
                    if body_len < 8 {
                        self.fail(format!("corrupt interface block at byte {p}"));
                        return None;
                    }
                    let lt = self.u16_at(body) as u32;
                    let mut ifc = Iface::new(LinkType::from_u32(lt));
                    self.read_idb_options(body + 8, body + body_len, &mut ifc);
                    self.ifaces.push(ifc);
                }
                6 | 2 => {
                    // Enhanced Packet Block, or the obsolete Packet Block
                    if body_len < 20 {
                        self.fail(format!("corrupt packet block at byte {p}"));
                        return None;
                    }
                    let ifid = if btype == 6 {
                        self.u32_at(body) as usize
                    } else {
                        self.u16_at(body) as usize
                    };
                    let ts = ((self.u32_at(body + 4) as u64) << 32) | self.u32_at(body + 8) as u64;
                    let caplen = self.u32_at(body + 12) as usize;
                    let wire = self.u32_at(body + 16);
                    if caplen > body_len - 20 {
                        self.fail(format!(
                            "corrupt packet block at byte {p}: captured length {caplen}"
                        ));
                        return None;
                    }
                    let Some(ifc) = self.ifaces.get(ifid).copied() else {
                        self.fail(format!("packet block at byte {p} names interface {ifid}, which is not described"));
                        return None;
                    };
                    let start = body + 20;
                    return Some(RawPacket {
                        ts_ns: ifc.ts_ns(ts),
                        wire_len: wire.max(caplen as u32),
                        linktype: ifc.linktype,
                        data: &self.map[start..start + caplen],
                    });
                }
                3 => {
                    // Simple Packet Block: interface 0, no timestamp.
                    if body_len < 4 {
                        self.fail(format!("corrupt simple packet block at byte {p}"));
                        return None;
                    }
                    let Some(ifc) = self.ifaces.first().copied() else {
                        self.fail(format!(
                            "simple packet block at byte {p} before any interface"
                        ));
                        return None;
                    };
                    let wire = self.u32_at(body);
                    let caplen = (wire as usize).min(body_len - 4);
                    let start = body + 4;
                    return Some(RawPacket {
                        ts_ns: 0,
                        wire_len: wire.max(caplen as u32),
                        linktype: ifc.linktype,
                        data: &self.map[start..start + caplen],
                    });
                }
                _ => {} // section header, statistics, name resolution, custom: skipped
            }
        }
    }

    fn read_idb_options(&self, mut o: usize, end: usize, ifc: &mut Iface) {
        while o + 4 <= end {
            let code = self.u16_at(o);
            let olen = self.u16_at(o + 2) as usize;
            let val = o + 4;
            if code == 0 || val + olen > end {
                break;
            }
            if code == 9 && olen >= 1 {
                let r = self.map[val];
                let (num, den) = if r & 0x80 == 0 {
                    let e = (r & 0x7f) as u32;
                    if e <= 9 {
                        (10u64.pow(9 - e), 1)
                    } else {
                        (1, 10u64.pow((e - 9).min(19)))
                    }
                } else {
                    (1_000_000_000, 1u64 << (r & 0x7f).min(63))
                };
                ifc.num = num;
                ifc.den = den;
            } else if code == 14 && olen >= 8 {
                let hi = self.u32_at(val) as u64;
                let lo = self.u32_at(val + 4) as u64;
                ifc.offset_s = if self.big_endian {
                    ((hi << 32) | lo) as i64
                } else {
                    ((lo << 32) | hi) as i64
                };
            }
            o = val + ((olen + 3) & !3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_tmp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn pcap_header(magic: u32, lt: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&lt.to_le_bytes());
        v
    }

    fn record(v: &mut Vec<u8>, sec: u32, frac: u32, data: &[u8]) {
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&frac.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32 + 10).to_le_bytes());
        v.extend_from_slice(data);
    }

    #[test]
    fn pcap_micro_and_nano() {
        for (magic, frac, want) in [(PCAP_MAGIC_US, 5u32, 5_000u64), (PCAP_MAGIC_NS, 5, 5)] {
            let mut v = pcap_header(magic, 1);
            record(&mut v, 2, frac, &[1, 2, 3]);
            let f = write_tmp(&v);
            let mut cf = CaptureFile::open(f.path()).unwrap();
            let p = cf.next().unwrap();
            assert_eq!(p.ts_ns, 2_000_000_000 + want);
            assert_eq!(p.data, &[1, 2, 3]);
            assert_eq!(p.wire_len, 13);
            assert_eq!(p.linktype, LinkType::Ethernet);
            assert!(cf.next().is_none());
            assert!(cf.error().is_none());
        }
    }

    #[test]
    fn pcap_cut_short_reports_position() {
        let mut v = pcap_header(PCAP_MAGIC_US, 1);
        record(&mut v, 1, 0, &[9; 20]);
        record(&mut v, 1, 0, &[9; 20]);
        v.truncate(v.len() - 5);
        let f = write_tmp(&v);
        let mut cf = CaptureFile::open(f.path()).unwrap();
        assert!(cf.next().is_some());
        assert!(cf.next().is_none());
        assert!(
            cf.error().unwrap().contains("cut short"),
            "{:?}",
            cf.error()
        );
    }

    #[test]
    fn not_a_capture() {
        let f = write_tmp(b"hello world, not a capture");
        let e = CaptureFile::open(f.path()).err().unwrap();
        assert!(e.to_string().contains("not a pcap or pcapng file"), "{e}");
    }

    #[test]
    fn pcapng_two_interfaces_with_resolutions() {
        let mut v = Vec::new();
        let block = |v: &mut Vec<u8>, t: u32, body: &[u8]| {
            let l = 12 + body.len() as u32;
            v.extend_from_slice(&t.to_le_bytes());
            v.extend_from_slice(&l.to_le_bytes());
            v.extend_from_slice(body);
            v.extend_from_slice(&l.to_le_bytes());
        };
        let mut shb = Vec::new();
        shb.extend_from_slice(&PCAPNG_BOM.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        block(&mut v, PCAPNG_SHB, &shb);
        // if 0: ethernet, default microseconds
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        block(&mut v, 1, &idb);
        // if 1: raw IP, nanoseconds (tsresol 9)
        let mut idb = Vec::new();
        idb.extend_from_slice(&101u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        idb.extend_from_slice(&9u16.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[9, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]);
        block(&mut v, 1, &idb);
        for (ifid, ts) in [(0u32, 1_000_001u64), (1, 1_000_000_001)] {
            let mut epb = Vec::new();
            epb.extend_from_slice(&ifid.to_le_bytes());
            epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(ts as u32).to_le_bytes());
            epb.extend_from_slice(&3u32.to_le_bytes());
            epb.extend_from_slice(&3u32.to_le_bytes());
            epb.extend_from_slice(&[7, 7, 7, 0]);
            block(&mut v, 6, &epb);
        }
        let f = write_tmp(&v);
        let mut cf = CaptureFile::open(f.path()).unwrap();
        let a = cf.next().unwrap();
        assert_eq!((a.ts_ns, a.linktype), (1_000_001_000, LinkType::Ethernet));
        let b = cf.next().unwrap();
        assert_eq!((b.ts_ns, b.linktype), (1_000_000_001, LinkType::RawIp));
        assert_eq!(b.data, &[7, 7, 7]);
        assert!(cf.next().is_none());
        assert!(cf.error().is_none());
    }
}
