#![no_main]
//! The packet decoder on every link type it knows (and one it does not).

use libfuzzer_sys::fuzz_target;
use spanwatch::capture::LinkType;
use spanwatch::decode::{decode, Decoded};

const LINK_TYPES: [LinkType; 10] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::RawIp,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Ppp,
    LinkType::CiscoHdlc,
    LinkType::Ppi,
    LinkType::Other(147),
];

fuzz_target!(|data: &[u8]| {
    for lt in LINK_TYPES {
        if let Decoded::Ip(info) = decode(lt, data) {
            let _ = info.payload(data);
        }
    }
});
