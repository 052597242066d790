use super::*;
use crate::proto::ber::garbage;

pub(crate) fn notify(server: &str) -> Vec<u8> {
    format!(
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n\
         LOCATION: http://192.168.1.50:80/description.xml\r\nNT: upnp:rootdevice\r\n\
         NTS: ssdp:alive\r\nSERVER: {server}\r\n\
         USN: uuid:2f402f80-da50-11e1-9b23-00178809ea66::upnp:rootdevice\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn notify_names_the_device() {
    let m = parse(&notify("Linux/5.10 UPnP/1.0 JetKVM/0.3"))
        .done()
        .unwrap();
    assert_eq!(m.kind, "notify");
    assert_eq!(m.server.as_deref(), Some("Linux/5.10 UPnP/1.0 JetKVM/0.3"));
    assert_eq!(m.target.as_deref(), Some("upnp:rootdevice"));
    assert_eq!(m.nts.as_deref(), Some("ssdp:alive"));
    assert!(m.usn.unwrap().starts_with("uuid:2f402f80"));
    assert_eq!(
        m.location.as_deref(),
        Some("http://192.168.1.50:80/description.xml")
    );
}

#[test]
fn search_and_answer() {
    let s = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 2\r\nST: ssdp:all\r\n\r\n";
    let m = parse(s).done().unwrap();
    assert_eq!(m.kind, "m-search");
    assert_eq!(m.target.as_deref(), Some("ssdp:all"));
    let a = b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nServer: Raritan/1.0 UPnP/1.0\r\n\r\n";
    let m = parse(a).done().unwrap();
    assert_eq!(m.kind, "response");
    assert_eq!(m.server.as_deref(), Some("Raritan/1.0 UPnP/1.0"));
}

#[test]
fn split_at_every_byte_is_never_done() {
    let msg = notify("x UPnP/1.0 y");
    for cut in 0..msg.len() {
        assert!(
            !matches!(parse(&msg[..cut]), Parsed::Done { .. }),
            "cut {cut}"
        );
    }
}

#[test]
fn other_http_is_not_ssdp() {
    assert!(matches!(
        parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Parsed::Malformed(_)
    ));
}

#[test]
fn never_panics_on_garbage() {
    garbage(&notify("Linux UPnP/1.0 PiKVM"), 5000, |b| {
        let _ = parse(b);
    });
}
