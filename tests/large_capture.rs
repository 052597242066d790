//! Captures larger than 4 GiB: packets past the 4 GiB mark must be inspected with the right
//! bytes whatever the number of workers (the offset handed to worker threads is 64-bit).
//!
//! The capture is built at run time as a sparse file: over 4 GiB of 1 MiB records whose
//! bodies are holes (all zeros: an 802.3 frame, counted as non-IP and skipped), then the
//! recorded TigerVNC and OpenSSH sessions from tests/fixtures. It takes a few MiB on disk
//! and is deleted at the end; nothing large is committed.

mod common;
use common::*;
use serde_json::Value;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const PAD_RECORD: u64 = 1 << 20; // the largest record the reader accepts is 1 MiB
const FOUR_GIB: u64 = 1 << 32;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// Write the sparse capture; returns the offset where the real sessions start.
fn write_sparse_capture(path: &Path) -> u64 {
    let vnc = fixture("live-vnc.pcap");
    let ssh = fixture("live-ssh.pcap");
    let first_sec = u32::from_le_bytes(vnc[24..28].try_into().unwrap());
    let mut f = std::fs::File::create(path).unwrap();
    // The file header of the fixture (Ethernet, microseconds).
    f.write_all(&vnc[..24]).unwrap();
    let mut pos = 24u64;
    while pos <= FOUR_GIB + PAD_RECORD {
        let mut h = Vec::with_capacity(16);
        h.extend_from_slice(&(first_sec - 1).to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&(PAD_RECORD as u32).to_le_bytes());
        h.extend_from_slice(&(PAD_RECORD as u32).to_le_bytes());
        f.write_all(&h).unwrap();
        // The body is a hole.
        f.seek(SeekFrom::Current(PAD_RECORD as i64)).unwrap();
        pos += 16 + PAD_RECORD;
    }
    let sessions_at = pos;
    // VNC was recorded before SSH: packet time keeps moving forward.
    f.write_all(&vnc[24..]).unwrap();
    f.write_all(&ssh[24..]).unwrap();
    f.sync_all().unwrap();
    sessions_at
}

fn sorted(recs: &[Value], event_type: &str) -> Vec<String> {
    let mut v: Vec<String> = recs
        .iter()
        .filter(|r| r["event_type"] == event_type)
        .map(|r| r.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn sessions_past_4_gib_same_with_1_and_2_workers() {
    let dir = tmpdir();
    let p = dir.path().join("big.pcap");
    let sessions_at = write_sparse_capture(&p);
    let meta = std::fs::metadata(&p).unwrap();
    assert!(sessions_at > FOUR_GIB);
    assert!(meta.len() > FOUR_GIB, "capture is {} bytes", meta.len());
    // Sparse: the holes take no space (a filesystem without holes would need > 4 GiB).
    let on_disk = meta.blocks() * 512;
    assert!(
        on_disk < 256 << 20,
        "the test capture takes {on_disk} bytes on disk: this filesystem does not keep holes"
    );

    let mut runs = Vec::new();
    for workers in ["1", "2"] {
        let (recs, out) = replay(&p, &["--workers", workers]);
        assert!(
            out.status.success(),
            "workers {workers}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let apps: Vec<&str> = flows(&recs)
            .iter()
            .filter_map(|f| f["app_proto"].as_str())
            .collect();
        for want in ["ssh", "vnc"] {
            assert!(
                apps.contains(&want),
                "workers {workers}: no {want} flow past 4 GiB; flows: {apps:?}"
            );
        }
        runs.push(recs);
    }
    assert_eq!(sorted(&runs[0], "flow"), sorted(&runs[1], "flow"));
    assert_eq!(sorted(&runs[0], "alert"), sorted(&runs[1], "alert"));
    drop(dir);
    assert!(!p.exists());
}
