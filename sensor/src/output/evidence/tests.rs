use super::writer::pcap_header;
use super::*;

#[test]
fn file_names_are_the_community_id_made_safe() {
    assert_eq!(
        file_name("1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
        "1_hO-sN4H-MG5MY_8hIrXPqc4ZQz0=.pcap"
    );
    assert_eq!(file_name("../x y"), "___x_y.pcap");
}

#[test]
fn header_is_nanosecond_pcap() {
    let h = pcap_header(1);
    assert_eq!(&h[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
    assert_eq!(u32::from_le_bytes(h[20..24].try_into().unwrap()), 1);
}

fn cfg(dir: &std::path::Path, budget_mb: u64) -> EvidenceConfig {
    EvidenceConfig {
        enabled: true,
        directory: dir.to_path_buf(),
        disk_budget_mb: budget_mb,
        ..Default::default()
    }
}

#[test]
fn the_budget_deletes_the_oldest_and_counts() {
    let d = tempfile::tempdir().unwrap();
    let stats = Arc::new(EvidenceStats::default());
    let h = start(&cfg(d.path(), 1), stats.clone()).unwrap();
    let rec = vec![0u8; 300 << 10];
    for i in 0..5 {
        h.tx.send(Msg::Start {
            name: format!("f{i}.pcap").into(),
            link: 1,
            records: rec.clone(),
            packets: 1,
        })
        .unwrap();
    }
    // a chunk for a file the budget deleted is dropped and counted
    h.tx.send(Msg::More {
        name: "f0.pcap".into(),
        records: vec![0; 10],
        packets: 2,
    })
    .unwrap();
    h.finish();
    let mut left: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["f2.pcap", "f3.pcap", "f4.pcap"]);
    assert_eq!(stats.files.get(), 5);
    assert_eq!(stats.deleted.get(), 2);
    assert!(stats.disk_bytes.get() <= 1 << 20);
    assert_eq!(stats.dropped[crate::telemetry::EVIDENCE_BUDGET].get(), 2);
}

#[test]
fn a_directory_that_cannot_be_made_is_an_error_naming_the_key() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let e = match start(&cfg(&file.join("sub"), 1), Arc::default()) {
        Err(e) => e,
        Ok(_) => panic!("started in a directory under a file"),
    };
    assert!(e.starts_with("evidence.directory: "), "{e}");
    let mut c = cfg(&file, 1);
    assert!(c.validate().unwrap_err().contains("evidence.directory"));
    c.enabled = false;
    c.validate().unwrap();
}
