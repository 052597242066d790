#![no_main]
//! QUIC Initial packets: raw datagrams in both directions through a flow's `Track`
//! (header parsing, header protection, AEAD failure paths, coalescing), and the same
//! bytes as the plaintext of an Initial sealed with the real keys, so the frame parser,
//! the CRYPTO reassembly and the ClientHello/ServerHello parsers see decrypted input.
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::quic::{self, crypto::CryptoStream, Track};
use spanwatch::proto::tls;
use spanwatch_testkit::{quic_initial, QUIC_V1, QUIC_V2};

fuzz_target!(|data: &[u8]| {
    let _ = quic::is_initial_like(data);
    let _ = quic::varint(data, 0);
    let _ = quic::initial::long_header(data);

    // Datagrams: 2-byte length prefixes, alternating directions.
    let mut t = Track::default();
    let mut rest = data;
    let mut dir = 0;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let _ = t.datagram(&rest[2..2 + n], dir);
        rest = &rest[2 + n..];
        dir ^= 1;
    }

    // The input as decrypted frames, directly and through a sealed Initial.
    let mut s = CryptoStream::default();
    let _ = quic::crypto::read_frames(data, &mut s);
    let _ = tls::parse_client_hello_message(s.contiguous(), true);
    let _ = tls::parse_server_hello_message(s.contiguous(), true);
    let _ = tls::parse_client_hello_message(data, true);
    let _ = tls::parse_server_hello_message(data, false);
    if data.len() < 1100 {
        let v = if data.first().is_some_and(|b| b & 1 == 1) { QUIC_V2 } else { QUIC_V1 };
        let dcid = [1, 2, 3, 4, 5, 6, 7, 8];
        let mut t = Track::default();
        let c = quic_initial(v, &dcid, &dcid, &[9], false, 0, data, 1200);
        let _ = t.datagram(&c, 0);
        let sv = quic_initial(v, &dcid, &[9], &[7; 4], true, 0, data, 0);
        let _ = t.datagram(&sv, 1);
        let _ = tls::parse_client_hello_message(t.streams[0].contiguous(), true);
        let _ = tls::parse_server_hello_message(t.streams[1].contiguous(), true);
    }
});
