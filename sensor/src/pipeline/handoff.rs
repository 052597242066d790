//! Tunnelled span feeds over AF_PACKET workers: the hand-off of encapsulated packets to the
//! worker that owns their inner flow.
//!
//! A mirror that arrives inside ERSPAN, GRE, VXLAN (or any tunnel the decoder crosses) has
//! one outer tuple, so the kernel's fanout hash sends all of it to one worker. That worker
//! decodes each packet as usual (the decoder goes through the tunnel) and, when the packet
//! crossed an encapsulation other than VLAN tags (which the kernel's hash looks through),
//! the worker owning the inner flow is `FlowKey::shard_hash % workers` (symmetric: both
//! directions of the inner flow agree). A packet owned by another worker is copied, with
//! its decoded headers, into a parcel for that worker; parcels go over one bounded queue
//! per receiving worker (lock-free; a full queue drops the parcel and counts its packets in
//! `spanwatch_queue_dropped_packets_total`, the reader never waits) and an eventfd wakes
//! the receiver, which runs its packets through its own flow table as if it had read them.
//! Plain packets never take this path: for them the kernel's hash already picked the
//! worker, and nothing is copied.

use super::dispatch::Dispatch;
use super::live::LiveClock;
use crate::capture::RawPacket;
use crate::decode::{Encap, PacketInfo};
use crate::flow::FlowKey;
use crate::telemetry::CaptureStats;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// Packets in one parcel: the sender sends a parcel when it is full, and the partial ones
/// every 64 packets read and whenever its socket is drained.
const PARCEL: usize = 64;

/// Encapsulations the kernel's flow hash looks through: no hand-off for them.
const KERNEL_SEES_THROUGH: u16 = Encap::VLAN | Encap::QINQ;

struct Item {
    ts: u64,
    off: u32,
    len: u32,
    wire_len: u32,
    info: PacketInfo,
    key: FlowKey,
    fwd: bool,
}

/// Packets for one worker, with the bytes they point into.
pub(super) struct Parcel {
    bytes: Vec<u8>,
    items: Vec<Item>,
}

impl Parcel {
    fn new() -> Parcel {
        Parcel {
            bytes: Vec::new(),
            items: Vec::with_capacity(PARCEL),
        }
    }
}

/// Whether a decoded packet crossed a tunnel the kernel's hash does not see through, or is
/// IPsec: the kernel's flow hash reads an ESP or AH header's SPI as its ports (Linux
/// include/linux/in.h, `proto_ports_offset`: ESP at offset 0, AH at 4), and the two
/// directions of an IPsec tunnel have SPIs of their own, so the kernel sends them to two
/// workers; spanwatch keys ESP on the addresses alone and AH on what it carries.
#[inline]
pub(super) fn tunnelled(info: &PacketInfo) -> bool {
    const PROTO_ESP: u8 = 50;
    info.encap.0 & !KERNEL_SEES_THROUGH != 0 || info.proto == PROTO_ESP || info.ah_next.is_some()
}

/// The queues and wake-up descriptors of all workers; each worker takes its [`Handoff`].
pub(super) struct Exchange {
    txs: Vec<Sender<Parcel>>,
    rxs: Vec<Option<Receiver<Parcel>>>,
    wake: Vec<Arc<OwnedFd>>,
}

impl Exchange {
    /// For `n` workers, each inbox holding up to `queue_packets` packets.
    pub(super) fn new(n: usize, queue_packets: usize) -> Result<Exchange, String> {
        let cap = (queue_packets / PARCEL).max(4);
        let mut txs = Vec::with_capacity(n);
        let mut rxs = Vec::with_capacity(n);
        let mut wake = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = bounded(cap);
            txs.push(tx);
            rxs.push(Some(rx));
            // SAFETY: a plain system call; the descriptor is owned from here on.
            let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
            if fd < 0 {
                return Err(format!(
                    "cannot make an eventfd for the workers' hand-off: {}",
                    std::io::Error::last_os_error()
                ));
            }
            // SAFETY: `fd` was just opened and is owned by nothing else.
            wake.push(Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
        Ok(Exchange { txs, rxs, wake })
    }

    /// Worker `idx`'s end (once each).
    pub(super) fn take(&mut self, idx: usize) -> Option<Handoff> {
        Some(Handoff {
            idx,
            txs: self.txs.clone(),
            wake: self.wake.clone(),
            rx: self.rxs.get_mut(idx)?.take()?,
            out: (0..self.txs.len()).map(|_| Parcel::new()).collect(),
        })
    }
}

/// One worker's end of the exchange: parcels it is filling for the others, its inbox.
pub(super) struct Handoff {
    idx: usize,
    txs: Vec<Sender<Parcel>>,
    wake: Vec<Arc<OwnedFd>>,
    rx: Receiver<Parcel>,
    out: Vec<Parcel>,
}

impl Handoff {
    /// The descriptor that is readable when parcels wait in this worker's inbox.
    pub(super) fn fd(&self) -> RawFd {
        self.wake[self.idx].as_raw_fd()
    }

    /// Take a tunnelled packet that another worker owns (true), or leave it to this one.
    #[inline]
    pub(super) fn take(
        &mut self,
        stats: &CaptureStats,
        p: &RawPacket<'_>,
        info: &PacketInfo,
    ) -> bool {
        if !tunnelled(info) {
            return false;
        }
        let (key, fwd) = FlowKey::of(info);
        let to = (key.shard_hash() % self.txs.len() as u64) as usize;
        if to == self.idx {
            return false;
        }
        let parcel = &mut self.out[to];
        let off = parcel.bytes.len() as u32;
        parcel.bytes.extend_from_slice(p.data);
        parcel.items.push(Item {
            ts: p.ts_ns,
            off,
            len: p.data.len() as u32,
            wire_len: p.wire_len,
            info: *info,
            key,
            fwd,
        });
        if parcel.items.len() >= PARCEL {
            self.send(stats, to);
        }
        true
    }

    fn send(&mut self, stats: &CaptureStats, to: usize) {
        let parcel = std::mem::replace(&mut self.out[to], Parcel::new());
        let n = parcel.items.len() as u64;
        match self.txs[to].try_send(parcel) {
            Ok(()) => {
                stats.handoff.add(n);
                let one: u64 = 1;
                // SAFETY: writes 8 bytes from a live u64 to an eventfd (non-blocking: a
                // counter at its maximum refuses, and the receiver is awake anyway).
                unsafe {
                    libc::write(
                        self.wake[to].as_raw_fd(),
                        &one as *const u64 as *const libc::c_void,
                        8,
                    );
                }
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                stats.queue_drops.add(n)
            }
        }
    }

    /// Send every parcel that holds packets.
    pub(super) fn flush(&mut self, stats: &CaptureStats) {
        for to in 0..self.out.len() {
            if !self.out[to].items.is_empty() {
                self.send(stats, to);
            }
        }
    }

    /// Run the parcels waiting in the inbox through this worker; how many packets.
    pub(super) fn receive(&mut self, dispatch: &mut Dispatch, clock: &mut LiveClock) -> usize {
        let mut buf: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 (non-blocking: nothing to read is fine).
        unsafe {
            libc::read(self.fd(), &mut buf as *mut u64 as *mut libc::c_void, 8);
        }
        let mut n = 0;
        while let Ok(parcel) = self.rx.try_recv() {
            for it in &parcel.items {
                let data = parcel
                    .bytes
                    .get(it.off as usize..(it.off + it.len) as usize)
                    .unwrap_or(&[]);
                clock.packet(it.ts);
                dispatch.keyed(it.ts, it.wire_len, data, &it.info, &it.key, it.fwd);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;

    fn info(encap: u16, last_octet: u8) -> PacketInfo {
        let mut i = PacketInfo {
            proto: 17,
            sport: 40000,
            dport: 53,
            encap: Encap(encap),
            ..Default::default()
        };
        i.src[..4].copy_from_slice(&[10, 0, 0, last_octet]);
        i.dst[..4].copy_from_slice(&[10, 0, 1, 1]);
        i
    }

    #[test]
    fn only_tunnels_the_kernel_cannot_see_through_are_handed_over() {
        assert!(!tunnelled(&info(0, 1)));
        assert!(!tunnelled(&info(Encap::VLAN | Encap::QINQ, 1)));
        for bit in [
            Encap::GRE,
            Encap::ERSPAN,
            Encap::VXLAN,
            Encap::MPLS,
            Encap::GENEVE,
        ] {
            assert!(tunnelled(&info(bit | Encap::VLAN, 1)));
        }
        // IPsec: ESP, and AH (transport mode here), whose SPIs the kernel hashes as ports
        let mut esp = info(0, 1);
        esp.proto = 50;
        assert!(tunnelled(&esp));
        let mut ah = info(0, 1);
        ah.ah_next = Some(17);
        assert!(tunnelled(&ah));
    }

    #[test]
    fn a_full_queue_is_a_counted_drop_and_the_owner_keeps_its_own() {
        let mut x = Exchange::new(2, 0).unwrap();
        let mut h0 = x.take(0).unwrap();
        let _h1 = x.take(1).unwrap();
        assert!(x.take(0).is_none(), "each end is taken once");
        let stats = CaptureStats::default();
        let data = [0u8; 60];
        let p = RawPacket {
            ts_ns: 1,
            wire_len: 60,
            linktype: LinkType::Ethernet,
            data: &data,
        };
        // a flow worker 1 owns, and one worker 0 owns
        let owner = |i: &PacketInfo| FlowKey::of(i).0.shard_hash() % 2;
        let theirs = (1..=255)
            .map(|o| info(Encap::VXLAN, o))
            .find(|i| owner(i) == 1);
        let ours = (1..=255)
            .map(|o| info(Encap::VXLAN, o))
            .find(|i| owner(i) == 0);
        let (theirs, ours) = (theirs.unwrap(), ours.unwrap());
        assert!(!h0.take(&stats, &p, &ours));
        // The inbox holds 4 parcels of 64 packets; the fifth and sixth are dropped, counted,
        // and the reader never waits.
        for _ in 0..6 * PARCEL {
            assert!(h0.take(&stats, &p, &theirs));
        }
        h0.flush(&stats);
        assert_eq!(stats.handoff.get(), 4 * PARCEL as u64);
        assert_eq!(stats.queue_drops.get(), 2 * PARCEL as u64);
    }
}
