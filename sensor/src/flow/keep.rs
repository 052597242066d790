//! A flow's packets kept for evidence (`[evidence]`): its opening packets as pcap records,
//! held from the flow's first packet until its opening is classified (then freed unless it
//! alerted), and after an alert the packets that follow, handed to the evidence writer in
//! chunks. The flow holds one box only while evidence is on and the flow is still young or
//! alerted; a flow that never alerts frees it once detection is done.

/// Where a flow's evidence stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepState {
    /// Keeping the opening packets (up to the limits).
    Opening,
    /// The opening limits are reached: nothing more is kept unless the flow alerts.
    Full,
    /// The flow alerted: the packets after it go to the file, up to the limits.
    Alerted,
    /// The file is complete (or was never started): nothing more to keep.
    Done,
}

/// pcap record header: seconds, nanoseconds, captured length, original length.
pub const RECORD_HEADER: usize = 16;

#[derive(Debug)]
pub struct Keep {
    /// pcap records (headers and data) not yet handed to the writer.
    pub buf: Vec<u8>,
    /// Packets in `buf`.
    pub pending: u32,
    /// Packets written or pending for this flow's file.
    pub packets: u32,
    /// Record bytes of this flow's file (the `max_bytes` limit).
    pub bytes: u32,
    /// After the alert: packets still to write.
    pub after_left: u32,
    /// Link type of the flow's first packet (the file's `LINKTYPE_`).
    pub link: u16,
    pub state: KeepState,
    /// The file's name, once the flow alerted.
    pub name: Option<Box<str>>,
}

impl Keep {
    pub fn new(link: u16) -> Keep {
        Keep {
            buf: Vec::new(),
            pending: 0,
            packets: 0,
            bytes: 0,
            after_left: 0,
            link,
            state: KeepState::Opening,
            name: None,
        }
    }

    /// Ready for a new flow, keeping the buffer's memory.
    pub fn reset(&mut self, link: u16) {
        self.buf.clear();
        self.pending = 0;
        self.packets = 0;
        self.bytes = 0;
        self.after_left = 0;
        self.link = link;
        self.state = KeepState::Opening;
        self.name = None;
    }

    /// Append one packet as a pcap record, cut to fit `room` record bytes (header
    /// included); the bytes appended, 0 when not even the header and one byte fit.
    pub fn push(&mut self, ts_ns: u64, wire_len: u32, data: &[u8], room: usize) -> usize {
        if room <= RECORD_HEADER {
            return 0;
        }
        let cap = data.len().min(room - RECORD_HEADER);
        let secs = (ts_ns / 1_000_000_000) as u32;
        let nanos = (ts_ns % 1_000_000_000) as u32;
        self.buf.reserve(RECORD_HEADER + cap);
        self.buf.extend_from_slice(&secs.to_le_bytes());
        self.buf.extend_from_slice(&nanos.to_le_bytes());
        self.buf.extend_from_slice(&(cap as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&wire_len.max(cap as u32).to_le_bytes());
        self.buf.extend_from_slice(&data[..cap]);
        self.pending += 1;
        self.packets += 1;
        self.bytes += (RECORD_HEADER + cap) as u32;
        RECORD_HEADER + cap
    }

    /// The pending records, handed over (the buffer's memory goes with them).
    pub fn take(&mut self) -> (Vec<u8>, u32) {
        let n = std::mem::take(&mut self.pending);
        (std::mem::take(&mut self.buf), n)
    }
}
