//! The demo capture in sensor/assets is exactly what the generator in testkit/src/demo.rs makes.
//! Regenerate with: SPANWATCH_REGEN=1 cargo test --release --test demo_capture

#[test]
fn committed_demo_capture_matches_generator() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sensor/assets/demo.pcap");
    let made = spanwatch_testkit::demo::demo_capture();
    if std::env::var_os("SPANWATCH_REGEN").is_some() {
        std::fs::write(&path, &made).unwrap();
    }
    let committed = std::fs::read(&path).expect("sensor/assets/demo.pcap");
    assert!(committed == made, "sensor/assets/demo.pcap differs from demo::demo_capture(); regenerate with SPANWATCH_REGEN=1 cargo test --test demo_capture");
}
