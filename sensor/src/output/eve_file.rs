//! Where EVE lines go: a file opened for appending (as Suricata does), or standard output.
//!
//! Lines are buffered (64 KiB) and written whole or not at all: when a write fails part way
//! (disk full), the part of a line that reached the file is cut off again, so a reader never
//! sees half a JSON record; the records that could not be written are counted in
//! `spanwatch_eve_write_errors_total` and logged (at most once every 10 s). A file can be
//! reopened (SIGHUP, after logrotate moved it away) without losing a line.

use crate::telemetry::OutputStats;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Buffered bytes that trigger a write.
const BUF: usize = 1 << 16;
/// At most one log line about write errors in this time.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The record kinds counted in `spanwatch_eve_records_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Flow = 0,
    Alert = 1,
    Stats = 2,
}

/// What the lines are written to.
pub trait Target: Send {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Remove the last `n` bytes written (part of a line); false when that cannot be done.
    fn cut(&mut self, n: u64) -> bool;
    /// Open the file again by its name (log rotation); a no-op where there is no name.
    fn reopen(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn name(&self) -> String;
}

pub struct FileTarget {
    path: PathBuf,
    file: std::fs::File,
}

impl FileTarget {
    pub fn open(path: PathBuf) -> io::Result<FileTarget> {
        let file = Self::open_file(&path)?;
        Ok(FileTarget { path, file })
    }
    fn open_file(path: &std::path::Path) -> io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    }
}

impl Target for FileTarget {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn cut(&mut self, n: u64) -> bool {
        match self.file.metadata() {
            Ok(m) if m.len() >= n => self.file.set_len(m.len() - n).is_ok(),
            _ => false,
        }
    }
    fn reopen(&mut self) -> io::Result<()> {
        self.file = Self::open_file(&self.path)?;
        Ok(())
    }
    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

pub struct StdoutTarget;

impl Target for StdoutTarget {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().lock().write(buf)
    }
    fn cut(&mut self, _n: u64) -> bool {
        false
    }
    fn name(&self) -> String {
        "standard output".into()
    }
}

pub struct EveWriter {
    target: Box<dyn Target>,
    buf: Vec<u8>,
    /// The kind of each line in `buf` (3: none counted), counted once it is written.
    kinds: Vec<u8>,
    /// The target ends in part of a line that could not be cut off: the next write starts
    /// with a newline, so the next record at least is whole and on its own line.
    torn: bool,
    lost_unlogged: u64,
    last_log: Option<Instant>,
    last_error: String,
}

impl EveWriter {
    pub fn new(target: Box<dyn Target>) -> EveWriter {
        EveWriter {
            target,
            buf: Vec::with_capacity(BUF + 4096),
            kinds: Vec::with_capacity(1024),
            torn: false,
            lost_unlogged: 0,
            last_log: None,
            last_error: String::new(),
        }
    }

    /// Whether lines wait in the buffer.
    pub fn dirty(&self) -> bool {
        !self.buf.is_empty()
    }

    /// One complete line (with its newline); written when the buffer is full.
    pub fn line(&mut self, line: &[u8], kind: Option<Kind>, stats: &OutputStats) {
        debug_assert!(line.ends_with(b"\n"));
        self.buf.extend_from_slice(line);
        self.kinds.push(kind.map_or(3, |k| k as u8));
        if self.buf.len() >= BUF {
            self.flush(stats);
        }
    }

    /// Write every buffered line. Lines a failed write did not get out whole are lost,
    /// counted and logged; the file is left ending on a whole line.
    pub fn flush(&mut self, stats: &OutputStats) {
        if self.buf.is_empty() {
            return;
        }
        let skip = usize::from(self.torn);
        if self.torn {
            self.buf.insert(0, b'\n');
        }
        let mut done = 0;
        let mut err = None;
        while done < self.buf.len() {
            match self.target.write(&self.buf[done..]) {
                Ok(0) => {
                    err = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let Some(e) = err else {
            self.torn = false;
            self.count_written(self.kinds.len(), stats);
            self.clear();
            return;
        };
        // Whole lines that reached the target stay; a partial line is cut off again.
        let written = &self.buf[..done];
        let whole = written
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let partial = (done - whole) as u64;
        if partial > 0 {
            self.torn = !self.target.cut(partial);
        } else if done > 0 {
            self.torn = false;
        }
        // (the newline that closed a torn line is no record)
        let out = written[skip.min(whole)..whole]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.count_written(out, stats);
        let lost = (self.kinds.len() - out) as u64;
        stats.eve_write_errors.add(lost);
        self.lost_unlogged += lost;
        self.last_error = e.to_string();
        self.clear();
        self.log_errors(false);
    }

    /// The first `n` buffered lines are out: count them by kind.
    fn count_written(&self, n: usize, stats: &OutputStats) {
        let mut by = [0u64; 4];
        for k in &self.kinds[..n] {
            by[*k as usize] += 1;
        }
        stats.eve_flow.add(by[0]);
        stats.eve_alert.add(by[1]);
        stats.eve_stats.add(by[2]);
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.kinds.clear();
    }

    /// Log lost records, at most once every [`LOG_EVERY`] (`force`: now, if any).
    fn log_errors(&mut self, force: bool) {
        if self.lost_unlogged == 0 {
            return;
        }
        if !force && self.last_log.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        tracing::error!(
            output = %self.target.name(),
            records = self.lost_unlogged,
            "EVE records could not be written: {}",
            self.last_error
        );
        self.lost_unlogged = 0;
        self.last_log = Some(Instant::now());
    }

    /// Write what is buffered, then open the file again by its name.
    pub fn reopen(&mut self, stats: &OutputStats) {
        self.flush(stats);
        match self.target.reopen() {
            Ok(()) => {
                self.torn = false;
                tracing::info!(output = %self.target.name(), "EVE output reopened");
            }
            Err(e) => tracing::error!(
                output = %self.target.name(),
                "cannot reopen the EVE output, still writing to the old file: {e}"
            ),
        }
    }

    /// Last write at exit, and the last word on errors.
    pub fn finish(&mut self, stats: &OutputStats) {
        self.flush(stats);
        self.log_errors(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A target that takes `room` bytes, then fails (a disk that fills up).
    #[derive(Clone, Default)]
    struct Disk {
        data: Arc<Mutex<Vec<u8>>>,
        room: Arc<Mutex<usize>>,
        cuttable: bool,
    }
    impl Target for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut room = self.room.lock().unwrap();
            if *room == 0 {
                return Err(io::Error::other("no space left on device"));
            }
            let n = buf.len().min(*room);
            *room -= n;
            self.data.lock().unwrap().extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn cut(&mut self, n: u64) -> bool {
            if !self.cuttable {
                return false;
            }
            let mut d = self.data.lock().unwrap();
            let l = d.len() - n as usize;
            d.truncate(l);
            true
        }
        fn name(&self) -> String {
            "disk".into()
        }
    }

    fn lines(d: &Disk) -> Vec<String> {
        String::from_utf8(d.data.lock().unwrap().clone())
            .unwrap()
            .split_inclusive('\n')
            .map(String::from)
            .collect()
    }

    #[test]
    fn a_full_disk_leaves_whole_lines_only() {
        let disk = Disk {
            room: Arc::new(Mutex::new(20)),
            cuttable: true,
            ..Default::default()
        };
        let stats = OutputStats::default();
        let mut w = EveWriter::new(Box::new(disk.clone()));
        for i in 0..3 {
            w.line(
                format!("{{\"n\":{i}}}\n").as_bytes(),
                Some(Kind::Alert),
                &stats,
            );
        }
        w.flush(&stats);
        // 8 bytes a line: two whole lines fit in 20, the third is cut off again
        assert_eq!(lines(&disk), ["{\"n\":0}\n", "{\"n\":1}\n"]);
        assert_eq!(stats.eve_write_errors.get(), 1);
        assert_eq!(stats.eve_alert.get(), 2);
        // space again: the next records are whole
        *disk.room.lock().unwrap() = 1000;
        w.line(b"{\"n\":3}\n", Some(Kind::Flow), &stats);
        w.flush(&stats);
        assert_eq!(lines(&disk).last().unwrap(), "{\"n\":3}\n");
        assert_eq!(lines(&disk).len(), 3);
        assert_eq!(stats.eve_flow.get(), 1);
    }

    #[test]
    fn a_torn_line_that_cannot_be_cut_is_closed_before_the_next() {
        let disk = Disk {
            room: Arc::new(Mutex::new(12)),
            cuttable: false,
            ..Default::default()
        };
        let stats = OutputStats::default();
        let mut w = EveWriter::new(Box::new(disk.clone()));
        w.line(b"{\"n\":0}\n", Some(Kind::Flow), &stats);
        w.line(b"{\"n\":1}\n", Some(Kind::Flow), &stats);
        w.flush(&stats);
        assert_eq!(stats.eve_write_errors.get(), 1);
        *disk.room.lock().unwrap() = 1000;
        w.line(b"{\"n\":2}\n", Some(Kind::Flow), &stats);
        w.flush(&stats);
        let l = lines(&disk);
        assert_eq!(l.last().unwrap(), "{\"n\":2}\n");
        assert_eq!(l[0], "{\"n\":0}\n");
        assert_eq!(l[1], "{\"n\"\n"); // the torn line, closed
        assert_eq!(stats.eve_flow.get(), 2);
    }

    #[test]
    fn reopen_follows_the_name() {
        let dir = std::env::temp_dir().join(format!("spanwatch-eve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("eve.json");
        let stats = OutputStats::default();
        let mut w = EveWriter::new(Box::new(FileTarget::open(p.clone()).unwrap()));
        w.line(b"{\"a\":1}\n", Some(Kind::Stats), &stats);
        w.flush(&stats);
        std::fs::rename(&p, dir.join("eve.json.1")).unwrap();
        w.line(b"{\"a\":2}\n", Some(Kind::Stats), &stats);
        w.reopen(&stats);
        w.line(b"{\"a\":3}\n", Some(Kind::Stats), &stats);
        w.finish(&stats);
        let old = std::fs::read_to_string(dir.join("eve.json.1")).unwrap();
        let new = std::fs::read_to_string(&p).unwrap();
        assert_eq!(old, "{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(new, "{\"a\":3}\n");
        assert_eq!(stats.eve_stats.get(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
