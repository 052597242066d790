//! Live capture through libpcap: promiscuous, with snap length, kernel buffer size, buffer
//! timeout (or immediate mode) from the config, and an optional BPF filter.
//! libpcap's drop counters are 32-bit and wrap; [`DropCounter`] keeps 64-bit totals.
//!
//! The handle is non-blocking and the caller waits on its descriptor with `poll(2)` and a
//! timeout of its own: on Linux, libpcap's blocking read never returns on its read timeout
//! when no packet comes (the timeout only bounds how long packets wait in the kernel's
//! buffer; libpcap issues #550 and #1489), so a blocking read cannot give the sensor a
//! clock on a quiet link.

use super::{CaptureError, LinkType, RawPacket};

/// The most interfaces one sensor reads (`capture.interface`): the bound of the
/// `interface` label of the metrics.
pub const MAX_INTERFACES: usize = 8;

#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interface: String,
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub buffer_size: i32,
    pub immediate: bool,
    pub timeout_ms: i32,
    pub promisc: bool,
    pub method: CaptureMethod,
    /// The AF_PACKET ring of each socket (`method = AfPacket`).
    pub ring: RingOptions,
}

/// How `run` reads the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMethod {
    /// One socket with a TPACKET_V3 ring per worker, in one fanout group (Linux).
    AfPacket,
    /// One libpcap handle on the capture thread, sharding to the workers.
    Pcap,
}

/// The shape of an AF_PACKET ring (the values are range-checked by the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingOptions {
    pub blocks: u32,
    pub block_kib: u32,
    pub block_timeout_ms: u32,
}

/// A 64-bit running total fed with libpcap's wrapping 32-bit counter.
#[derive(Debug, Default, Clone, Copy)]
pub struct DropCounter {
    last: u32,
    total: u64,
}

impl DropCounter {
    pub fn update(&mut self, raw: u32) -> u64 {
        self.total += raw.wrapping_sub(self.last) as u64;
        self.last = raw;
        self.total
    }
    pub fn total(&self) -> u64 {
        self.total
    }
}

pub struct LiveCapture {
    name: String,
    cap: pcap::Capture<pcap::Active>,
    fd: std::os::unix::io::RawFd,
    linktype: LinkType,
    pub kernel_drops: DropCounter,
    pub iface_drops: DropCounter,
}

pub enum LiveNext<'a> {
    Packet(RawPacket<'a>),
    /// Nothing to deliver now (the kernel's buffer holds no finished block): wait with
    /// [`LiveCapture::wait`].
    Idle,
}

impl LiveCapture {
    pub fn open(o: &LiveOptions) -> Result<LiveCapture, CaptureError> {
        let err = |m: String| CaptureError {
            source_name: o.interface.clone(),
            message: m,
        };
        let cap = pcap::Capture::from_device(o.interface.as_str())
            .map_err(|e| err(format!("cannot use interface: {e}")))?
            .promisc(o.promisc)
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_size)
            .immediate_mode(o.immediate)
            .timeout(o.timeout_ms);
        let cap = cap.open().map_err(|e| {
            err(format!(
                "cannot open capture: {e} (needs CAP_NET_RAW and CAP_NET_ADMIN)"
            ))
        })?;
        let mut cap = cap
            .setnonblock()
            .map_err(|e| err(format!("cannot make the capture non-blocking: {e}")))?;
        // On Linux the selectable descriptor is the packet socket itself (pcap_fileno).
        let fd = std::os::unix::io::AsRawFd::as_raw_fd(&cap);
        if let Some(f) = &o.bpf {
            cap.filter(f, true)
                .map_err(|e| err(format!("bad BPF filter {f:?}: {e}")))?;
        }
        let linktype = LinkType::from_u32(cap.get_datalink().0 as u32);
        Ok(LiveCapture {
            name: o.interface.clone(),
            cap,
            fd,
            linktype,
            kernel_drops: DropCounter::default(),
            iface_drops: DropCounter::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A handle another thread uses to wake a blocked read at shutdown.
    pub fn breakloop_handle(&mut self) -> pcap::BreakLoop {
        self.cap.breakloop_handle()
    }

    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<LiveNext<'_>, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                let ts = p.header.ts;
                let ts_ns =
                    ts.tv_sec.max(0) as u64 * 1_000_000_000 + ts.tv_usec.max(0) as u64 * 1000;
                Ok(LiveNext::Packet(RawPacket {
                    ts_ns,
                    wire_len: p.header.len.max(p.data.len() as u32),
                    linktype: self.linktype,
                    data: p.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => Ok(LiveNext::Idle),
            Err(e) => Err(CaptureError {
                source_name: self.name.clone(),
                message: format!("capture failed: {e}"),
            }),
        }
    }

    /// Wait until a packet may be ready or `timeout` has passed (whichever is first).
    /// Returns whether the descriptor said it is readable; a signal ends the wait early.
    pub fn wait(&self, timeout: std::time::Duration) -> bool {
        wait_any(&[self.fd], timeout)
    }

    /// The descriptor to wait on ([`wait_any`]).
    pub fn fd(&self) -> std::os::unix::io::RawFd {
        self.fd
    }

    /// Refresh the 64-bit drop totals from libpcap's counters.
    pub fn refresh_stats(&mut self) {
        if let Ok(s) = self.cap.stats() {
            self.kernel_drops.update(s.dropped);
            self.iface_drops.update(s.if_dropped);
        }
    }
}

/// Wait until one of `fds` is readable (or in error) or `timeout` has passed, whichever is
/// first; whether one was. A signal ends the wait early. At most 16 descriptors are
/// waited on (a sensor has one per interface and one for its hand-off queue).
pub fn wait_any(fds: &[std::os::unix::io::RawFd], timeout: std::time::Duration) -> bool {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 16];
    let n = fds.len().min(pfds.len());
    for (p, fd) in pfds.iter_mut().zip(fds) {
        p.fd = *fd;
        p.events = libc::POLLIN | libc::POLLERR;
    }
    // round up: a wait of 0.3 ms must not become a busy loop of poll(…, 0)
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: `n` valid pollfds for the duration of the call.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), n as libc::nfds_t, ms) };
    r > 0
}

#[cfg(test)]
mod tests {
    use super::DropCounter;

    #[test]
    fn drop_counter_survives_wrap() {
        let mut c = DropCounter::default();
        c.update(u32::MAX - 1);
        assert_eq!(c.update(3), u32::MAX as u64 + 4);
    }
}
