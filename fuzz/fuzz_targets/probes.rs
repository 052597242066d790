#![no_main]
//! Every payload probe and handshake parser of the remote-management, VDI, VPN, proxy and
//! call-media modules, in both directions.
use libfuzzer_sys::fuzz_target;
use spanwatch::proto::{calls, encrypted, proxy, rmm, vdi, vpn, websocket, Direction};

fuzz_target!(|data: &[u8]| {
    for dir in [Direction::ToServer, Direction::ToClient] {
        let _ = rmm::probe_tcp(dir, data);
        let _ = rmm::probe_udp(dir, data);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rmm::teamviewer_http_uri(s);
        let _ = vpn::probe_tor_cert(s, s);
        let _ = vpn::probe_tor_sni(s, false, &[23, 29, 21]);
    }
    let _ = vdi::probe_citrix(data);
    let _ = vdi::probe_tcp(data);
    let _ = vpn::probe_openvpn_udp(data);
    let _ = vpn::probe_openvpn_tcp(data);
    let _ = vpn::probe_wireguard(data);
    let _ = vpn::probe_ike(data, 500);
    let _ = vpn::probe_ike(data, 4500);
    let _ = vpn::is_nat_t_keepalive(data);
    let _ = vpn::probe_esp_in_udp(data);
    let _ = vpn::probe_l2tp(data);
    let _ = vpn::probe_pptp(data);
    let _ = vpn::probe_sstp(data);
    let _ = vpn::probe_softether_udp(data);
    let _ = proxy::parse_socks4(data);
    let _ = proxy::parse_socks5_greeting(data);
    let _ = proxy::parse_socks5_request(data);
    let _ = proxy::parse_socks5_reply(data);
    let _ = proxy::parse_http_connect(data);
    let _ = proxy::parse_connect_response(data);
    let _ = proxy::is_absolute_form_proxy_request(data);
    let _ = proxy::parse_proxy_protocol(data);
    let _ = calls::probe_stun(data);
    let _ = calls::probe_turn_channel(data);
    let _ = calls::probe_rtp(data);
    let _ = calls::probe_rtcp(data);
    let _ = calls::probe_dtls(data);
    let _ = calls::probe_zoom(data);
    let _ = calls::dtls_use_srtp_read(data);
    let _ = websocket::upgrade_response(data);
    let _ = websocket::frame(data);
    let _ = websocket::payload(data);
    let (a, b) = data.split_at(data.len() / 2);
    let _ = encrypted::judge(a, b);
});
