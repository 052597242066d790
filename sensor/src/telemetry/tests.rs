//! The exposition against the catalogue.

use super::names::{self, CATALOGUE};
use super::*;

/// A telemetry with something in every family (remote-access sessions included, which
/// are left out of the text while there are none).
fn busy() -> Arc<Telemetry> {
    let t = Telemetry::new(2, "replay");
    t.interfaces.set(vec!["eth1".into()]).unwrap();
    t.capture.packets.add(10);
    t.workers[1].flows_ended[EndReason::Evicted as usize].inc();
    t.output.alerts[category_index("tunnel")][3].inc();
    t.output.host_anomalies[2].inc();
    t.output
        .ra_sessions
        .lock()
        .unwrap()
        .insert(("rdp".to_string(), "inbound"), 2);
    t
}

#[test]
fn every_family_is_the_catalogues_in_its_order() {
    let fams = busy().families();
    let got: Vec<&str> = fams.iter().map(|f| f.name()).collect();
    let want: Vec<&str> = CATALOGUE.iter().map(|m| m.name).collect();
    assert_eq!(got, want);
    for f in &fams {
        assert_eq!(names::check(f), Ok(()));
        assert!(!f.get_metric().is_empty(), "{}: no samples", f.name());
    }
}

#[test]
fn check_refuses_a_value_outside_its_set_and_a_wrong_help() {
    let fams = busy().families();
    let mut f = fams
        .iter()
        .find(|f| f.name() == "spanwatch_flows_ended_total")
        .unwrap()
        .clone();
    f.mut_metric()[0].mut_label()[0].set_value("10.0.0.1".into());
    assert!(names::check(&f).unwrap_err().contains("reason"));
    let mut f = fams[0].clone();
    f.set_help("something else".into());
    assert!(names::check(&f).is_err());
}

#[test]
fn names_are_unique_and_follow_the_conventions() {
    let mut seen = std::collections::HashSet::new();
    for m in CATALOGUE {
        assert!(seen.insert(m.name), "{} twice", m.name);
        assert!(m.name.starts_with("spanwatch_"), "{}", m.name);
        assert_eq!(
            m.name.ends_with("_total"),
            m.kind == names::Kind::Counter,
            "{}: `_total` on counters only",
            m.name
        );
        for l in m.labels {
            if let Some(v) = l.values.allowed() {
                assert!(!v.is_empty(), "{}: {} has no values", m.name, l.name);
            }
        }
    }
}
