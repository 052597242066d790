//! Live capture through an AF_PACKET socket with a TPACKET_V3 ring (Linux): the kernel
//! fills blocks of a memory-mapped ring and hands each over when full or
//! `block_timeout_ms` after its first packet; the reader walks the block's packets in place
//! and gives the block back. Several sockets (one per worker) join one `PACKET_FANOUT`
//! group hashed on the flow (`PACKET_FANOUT_HASH`: both directions of a flow go to the same
//! socket; `PACKET_FANOUT_FLAG_DEFRAG`: fragments are reassembled first so they hash like
//! the rest of their datagram). The BPF filter is compiled by libpcap and attached to every
//! socket; its accept value is the snap length.
//!
//! Layouts and constants are the kernel's (`linux/if_packet.h`, as the `libc` crate
//! declares them; packet(7) and Documentation/networking/packet_mmap.rst).

use super::live::LiveNext;
pub use super::live::RingOptions;
use super::{CaptureError, LinkType, RawPacket};
use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// Which `PACKET_FANOUT` group a socket is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fanout {
    /// None: the only socket.
    Alone,
    /// A new group whose id the kernel picks (`PACKET_FANOUT_FLAG_UNIQUEID`, so no other
    /// program's group is joined by chance); [`AfPacket::fanout_id`] tells it.
    New,
    /// The group of that id.
    Join(u16),
}

/// What one socket needs: the interface, filter, snap length, promiscuity, the ring, and
/// the fanout group it joins.
#[derive(Debug, Clone)]
pub struct SocketOptions {
    pub interface: String,
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub promisc: bool,
    pub ring: RingOptions,
    pub fanout: Fanout,
}

/// Counts read from the kernel with `PACKET_STATISTICS` (which resets them on each read).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RingStats {
    pub packets: u64,
    pub drops: u64,
    pub freezes: u64,
}

/// Where the reader stands in the block it holds.
#[derive(Debug, Clone, Copy)]
struct InBlock {
    left: u32,
    off: usize,
}

pub struct AfPacket {
    name: String,
    fd: RawFd,
    map: *mut u8,
    map_len: usize,
    block_size: usize,
    blocks: usize,
    cur: usize,
    held: Option<InBlock>,
    linktype: LinkType,
    /// A packet whose VLAN tag the kernel took off (offload) is rebuilt here with its tag.
    scratch: Vec<u8>,
}

// SAFETY: the ring mapping belongs to this value alone (no other handle to it exists), so
// moving it to another thread moves sole ownership with it.
unsafe impl Send for AfPacket {}

fn os_err(name: &str, what: &str) -> CaptureError {
    CaptureError {
        source_name: name.to_string(),
        message: format!("{what}: {}", std::io::Error::last_os_error()),
    }
}

fn setopt<T>(fd: RawFd, level: i32, opt: i32, v: &T) -> bool {
    // SAFETY: `v` is a live value of the size passed, read by the kernel during the call.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            v as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        ) == 0
    }
}

/// libpcap's compiled program for `filter` (or accept-all), its accept values set to
/// `snaplen`: the kernel keeps that many bytes of each packet the filter accepts.
fn filter_program(
    bpf: Option<&str>,
    snaplen: i32,
    name: &str,
) -> Result<Vec<libc::sock_filter>, CaptureError> {
    let err = |m: String| CaptureError {
        source_name: name.to_string(),
        message: m,
    };
    let f = bpf.unwrap_or("");
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET)
        .map_err(|e| err(format!("capture.bpf: cannot start libpcap's compiler: {e}")))?;
    let prog = dead
        .compile(f, true)
        .map_err(|e| err(format!("capture.bpf: bad BPF filter {f:?}: {e}")))?;
    let mut out = Vec::new();
    for ins in prog.get_instructions() {
        // libpcap prints an instruction as "code jt jf k" (its only public view of one).
        let text = ins.to_string();
        let v: Vec<u64> = text
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        let [code, jt, jf, k] = v[..] else {
            return Err(err(format!(
                "capture.bpf: cannot read libpcap's instruction {text:?}"
            )));
        };
        let mut k = k as u32;
        // BPF_RET | BPF_K with a non-zero value: accept, keeping k bytes.
        if code == 0x06 && k != 0 {
            k = snaplen.max(1) as u32;
        }
        out.push(libc::sock_filter {
            code: code as u16,
            jt: jt as u8,
            jf: jf as u8,
            k,
        });
    }
    Ok(out)
}

impl AfPacket {
    pub fn open(o: &SocketOptions) -> Result<AfPacket, CaptureError> {
        let name = o.interface.as_str();
        let err = |m: String| CaptureError {
            source_name: name.to_string(),
            message: m,
        };
        let cname =
            std::ffi::CString::new(name).map_err(|_| err("bad interface name".to_string()))?;
        // SAFETY: a lookup of a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) } as i32;
        if ifindex == 0 {
            return Err(err(format!(
                "capture.method = \"af_packet\" needs a kernel interface ({}); libpcap's own \
                 devices (\"any\", nflog …) need capture.method = \"pcap\"",
                std::io::Error::last_os_error()
            )));
        }
        let prog = filter_program(o.bpf.as_deref(), o.snaplen, name)?;
        // Protocol 0: the socket receives nothing until bound (below, with ETH_P_ALL and
        // the interface), so no packet of another interface or unfiltered lands in the ring.
        // SAFETY: a plain system call.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(os_err(
                name,
                "cannot open an AF_PACKET socket (needs CAP_NET_RAW)",
            ));
        }
        let mut s = AfPacket {
            name: name.to_string(),
            fd,
            map: std::ptr::null_mut(),
            map_len: 0,
            block_size: o.ring.block_kib as usize * 1024,
            blocks: o.ring.blocks as usize,
            cur: 0,
            held: None,
            linktype: LinkType::Ethernet,
            scratch: Vec::new(),
        };
        s.linktype = s.link_type(name)?;
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        if !setopt(fd, libc::SOL_PACKET, libc::PACKET_VERSION, &version) {
            return Err(os_err(name, "PACKET_VERSION = TPACKET_V3 refused"));
        }
        // Frames have no fixed size in TPACKET_V3; the kernel only checks that the frame
        // count matches the blocks (frames per block × blocks).
        let frame = 2048u32;
        let req = libc::tpacket_req3 {
            tp_block_size: s.block_size as u32,
            tp_block_nr: s.blocks as u32,
            tp_frame_size: frame,
            tp_frame_nr: (s.block_size as u32 / frame) * s.blocks as u32,
            tp_retire_blk_tov: o.ring.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        if !setopt(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req) {
            return Err(os_err(
                name,
                &format!(
                    "PACKET_RX_RING refused (capture.ring_blocks = {}, capture.block_kib = {}: \
                     the block must be a multiple of the page size and the ring fit in memory)",
                    o.ring.blocks, o.ring.block_kib
                ),
            ));
        }
        s.map_len = s.block_size * s.blocks;
        // SAFETY: maps the ring the kernel just set up for this socket, of exactly its size.
        // Not MAP_LOCKED: the ring's pages are the kernel's own and never swapped, and locking
        // counts them against RLIMIT_MEMLOCK (8 MiB for an unprivileged user without
        // CAP_IPC_LOCK), which a sensor run with only CAP_NET_RAW and CAP_NET_ADMIN hits.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                s.map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            s.map_len = 0;
            return Err(os_err(
                name,
                "cannot map the ring (capture.ring_blocks × capture.block_kib too large for memory?)",
            ));
        }
        s.map = map as *mut u8;
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        if prog.len() > u16::MAX as usize
            || !setopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
        {
            return Err(os_err(name, "capture.bpf: the kernel refused the filter"));
        }
        // SAFETY: an all-zero sockaddr_ll is a valid value, filled in below.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: binds to a valid sockaddr_ll of the size passed.
        let r = unsafe {
            libc::bind(
                fd,
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(os_err(name, "cannot bind the AF_PACKET socket"));
        }
        if o.promisc {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            if !setopt(fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq) {
                return Err(os_err(name, "capture.promisc: promiscuous mode refused"));
            }
        }
        let mode = (libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG) << 16;
        match o.fanout {
            Fanout::Alone => {}
            Fanout::New => {
                let v: u32 = mode | (libc::PACKET_FANOUT_FLAG_UNIQUEID << 16);
                if !setopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &v) {
                    return Err(os_err(
                        name,
                        "cannot make a PACKET_FANOUT group (hash, defrag, unique id; Linux 4.6 or later)",
                    ));
                }
            }
            Fanout::Join(g) => {
                let v: u32 = mode | g as u32;
                if !setopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &v) {
                    return Err(os_err(
                        name,
                        &format!("cannot join PACKET_FANOUT group {g} (hash, defrag)"),
                    ));
                }
            }
        }
        // Packets counted before the filter and the fanout were in place are not ours.
        let _ = s.stats();
        Ok(s)
    }

    /// The link type of the interface's hardware type (`SIOCGIFHWADDR`).
    fn link_type(&self, name: &str) -> Result<LinkType, CaptureError> {
        // SAFETY: an all-zero ifreq is valid; the name fits (checked) and stays NUL-ended.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        let bytes = name.as_bytes();
        if bytes.len() >= ifr.ifr_name.len() {
            return Err(CaptureError {
                source_name: name.to_string(),
                message: "interface name too long".into(),
            });
        }
        for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        // SAFETY: SIOCGIFHWADDR fills the ifreq passed, which lives across the call.
        if unsafe { libc::ioctl(self.fd, libc::SIOCGIFHWADDR, &mut ifr) } != 0 {
            return Err(os_err(name, "cannot read the interface's hardware type"));
        }
        // SAFETY: SIOCGIFHWADDR set the hardware-address member of the union.
        let hw = unsafe { ifr.ifr_ifru.ifru_hwaddr.sa_family };
        match hw {
            libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => Ok(LinkType::Ethernet),
            libc::ARPHRD_NONE => Ok(LinkType::RawIp),
            other => Err(CaptureError {
                source_name: name.to_string(),
                message: format!(
                    "capture.method = \"af_packet\" reads Ethernet and raw-IP interfaces; this one has hardware type {other}: use capture.method = \"pcap\""
                ),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The id of the fanout group this socket is in (none when it is in none).
    pub fn fanout_id(&self) -> Result<Option<u16>, CaptureError> {
        let mut v: u32 = 0;
        let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `v`, which lives across the call.
        let r = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                &mut v as *mut u32 as *mut libc::c_void,
                &mut len,
            )
        };
        if r != 0 {
            return Err(os_err(&self.name, "cannot read the PACKET_FANOUT group"));
        }
        // no group: the kernel answers 0 with no length
        Ok((len as usize == std::mem::size_of::<u32>() && v != 0).then_some(v as u16))
    }

    fn block_status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: block `i` (< blocks) lies in the mapping; its descriptor begins with
        // version and offset_to_priv (two u32), then block_status (u32, 4-aligned), which the
        // kernel and this reader hand back and forth: accessed atomically only.
        unsafe { &*(self.map.add(i * self.block_size + 8) as *const AtomicU32) }
    }

    fn block(&self, i: usize) -> &[u8] {
        // SAFETY: block `i` (< blocks) lies in the mapping, which lives as long as `self`;
        // its bytes are ours (not written by the kernel) while its status says TP_STATUS_USER.
        unsafe { std::slice::from_raw_parts(self.map.add(i * self.block_size), self.block_size) }
    }

    fn release(&mut self) {
        if self.held.take().is_some() {
            self.block_status(self.cur)
                .store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.cur = (self.cur + 1) % self.blocks;
        }
    }

    /// The next packet, or `Idle` when the kernel has handed over no block yet.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<LiveNext<'_>, CaptureError> {
        loop {
            if let Some(h) = self.held {
                if h.left > 0 {
                    break;
                }
                self.release();
            }
            if self.block_status(self.cur).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                return Ok(LiveNext::Idle);
            }
            let b = self.block(self.cur);
            let num = u32_at(b, 12);
            let first = u32_at(b, 16) as usize;
            self.held = Some(InBlock {
                left: num,
                off: first,
            });
        }
        let Some(h) = self.held.as_mut() else {
            return Ok(LiveNext::Idle);
        };
        let off = h.off;
        h.left -= 1;
        let block_size = self.block_size;
        let map = self.map;
        let cur = self.cur;
        // SAFETY: as in `block`: the held block is ours until released.
        let b: &[u8] = unsafe { std::slice::from_raw_parts(map.add(cur * block_size), block_size) };
        let hdr_len = std::mem::size_of::<libc::tpacket3_hdr>();
        if off + hdr_len > b.len() {
            return Err(self.odd(off, "header"));
        }
        let next = u32_at(b, off) as usize;
        let sec = u32_at(b, off + 4) as u64;
        let nsec = u32_at(b, off + 8) as u64;
        let snap = u32_at(b, off + 12) as usize;
        let len = u32_at(b, off + 16);
        let status = u32_at(b, off + 20);
        let mac = u16_at(b, off + 24) as usize;
        // hv1: tp_rxhash (u32), tp_vlan_tci (u32), tp_vlan_tpid (u16)
        let tci = u32_at(b, off + 32) as u16;
        let tpid = u16_at(b, off + 36);
        let start = off + mac;
        let Some(data) = b.get(start..start + snap) else {
            return Err(self.odd(off, "packet"));
        };
        if let Some(h) = self.held.as_mut() {
            h.off = if next == 0 { b.len() } else { off + next };
            if next == 0 {
                h.left = 0;
            }
        }
        let ts_ns = sec * 1_000_000_000 + nsec;
        let mut wire_len = len.max(snap as u32);
        let data = if status & libc::TP_STATUS_VLAN_VALID != 0
            && self.linktype == LinkType::Ethernet
            && data.len() >= 12
        {
            let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                tpid
            } else {
                0x8100
            };
            self.scratch.clear();
            self.scratch.extend_from_slice(&data[..12]);
            self.scratch.extend_from_slice(&tpid.to_be_bytes());
            self.scratch.extend_from_slice(&tci.to_be_bytes());
            self.scratch.extend_from_slice(&data[12..]);
            wire_len += 4;
            &self.scratch[..]
        } else {
            data
        };
        Ok(LiveNext::Packet(RawPacket {
            ts_ns,
            wire_len,
            linktype: self.linktype,
            data,
        }))
    }

    fn odd(&mut self, off: usize, what: &str) -> CaptureError {
        let e = CaptureError {
            source_name: self.name.clone(),
            message: format!(
                "ring block {}: the kernel's {what} at offset {off} runs past the block (capture.block_kib = {})",
                self.cur,
                self.block_size / 1024
            ),
        };
        // Skip the rest of the block: hand it back.
        if let Some(h) = self.held.as_mut() {
            h.left = 0;
        }
        self.release();
        e
    }

    /// The descriptor to wait on (`capture::live::wait_any`): readable when a block is
    /// ready.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The share of the ring's blocks that the kernel has handed over and the reader not
    /// yet given back (0.0 to 1.0): how close the socket is to dropping.
    pub fn fill(&self) -> f64 {
        let user = (0..self.blocks)
            .filter(|i| self.block_status(*i).load(Ordering::Relaxed) & libc::TP_STATUS_USER != 0)
            .count();
        user as f64 / self.blocks.max(1) as f64
    }

    /// The kernel's counts since the last read (`PACKET_STATISTICS` resets them).
    pub fn stats(&self) -> Result<RingStats, CaptureError> {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `st`, which lives across the call.
        let r = unsafe {
            libc::getsockopt(
                self.fd,
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                &mut st as *mut libc::tpacket_stats_v3 as *mut libc::c_void,
                &mut len,
            )
        };
        if r != 0 {
            return Err(os_err(&self.name, "PACKET_STATISTICS refused"));
        }
        Ok(RingStats {
            packets: st.tp_packets as u64,
            drops: st.tp_drops as u64,
            freezes: st.tp_freeze_q_cnt as u64,
        })
    }
}

impl Drop for AfPacket {
    fn drop(&mut self) {
        // SAFETY: the mapping and descriptor were made by `open` and are released once.
        unsafe {
            if !self.map.is_null() && self.map_len > 0 {
                libc::munmap(self.map as *mut libc::c_void, self.map_len);
            }
            libc::close(self.fd);
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map(|s| u16::from_ne_bytes([s[0], s[1]]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::filter_program;

    #[test]
    fn filter_accepts_snaplen_bytes() {
        let p = filter_program(Some("tcp port 80"), 200, "t").unwrap();
        assert!(p.len() > 2);
        let rets: Vec<u32> = p.iter().filter(|i| i.code == 0x06).map(|i| i.k).collect();
        assert!(rets.contains(&200) && rets.contains(&0), "{rets:?}");
        let all = filter_program(None, 96, "t").unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].code, all[0].k), (0x06, 96));
        let e = filter_program(Some("tcp port nope"), 96, "eth9").unwrap_err();
        assert!(e.message.starts_with("capture.bpf: bad BPF filter"), "{e}");
    }

    #[test]
    fn header_offsets_match_the_kernel() {
        // the offsets `next` reads at
        let h = std::mem::MaybeUninit::<libc::tpacket3_hdr>::uninit();
        let p = h.as_ptr();
        // SAFETY: only field addresses are taken, nothing is read.
        unsafe {
            let base = p as usize;
            assert_eq!(std::ptr::addr_of!((*p).tp_status) as usize - base, 20);
            assert_eq!(std::ptr::addr_of!((*p).tp_mac) as usize - base, 24);
            assert_eq!(std::ptr::addr_of!((*p).hv1.tp_vlan_tci) as usize - base, 32);
            assert_eq!(
                std::ptr::addr_of!((*p).hv1.tp_vlan_tpid) as usize - base,
                36
            );
        }
        let d = std::mem::MaybeUninit::<libc::tpacket_block_desc>::uninit();
        let q = d.as_ptr();
        // SAFETY: as above.
        unsafe {
            let base = q as usize;
            assert_eq!(
                std::ptr::addr_of!((*q).hdr.bh1.block_status) as usize - base,
                8
            );
            assert_eq!(
                std::ptr::addr_of!((*q).hdr.bh1.num_pkts) as usize - base,
                12
            );
            assert_eq!(
                std::ptr::addr_of!((*q).hdr.bh1.offset_to_first_pkt) as usize - base,
                16
            );
        }
    }
}
