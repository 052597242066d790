//! The demo capture: a few minutes of an office network, made by this project's own
//! builders (real wire formats, synthetic addresses from the documentation ranges).
//! `spanwatch demo` replays it from the copy built into the binary; a test checks that
//! the copy in `sensor/assets/demo.pcap` is what this function makes.

use crate::*;

pub fn demo_capture() -> Vec<u8> {
    let ws = v4("10.20.0.42"); // a developer's laptop
    let srv = v4("10.20.0.15"); // a Windows server
    let nas = v4("10.20.0.99"); // an internal host with VNC
    let dns = v4("10.20.0.1");
    let ext_rdp = v4("198.51.100.23");
    let anydesk_relay = v4("203.0.113.50");
    let github = v4("140.82.112.3");
    let ssh_host = v4("192.0.2.10");
    let tv = v4("203.0.113.77");
    let mut sc = Scene::new(1_763_719_200); // 2025-11-21 10:00:00 UTC

    // 1. Inbound RDP to the server from outside, cookie and security negotiation in clear.
    let mut s = sc.tcp_session((ext_rdp, 52100), (srv, 3389));
    s.handshake(&mut sc);
    s.client_sends(&mut sc, &rdp_connection_request("jsmith", 0x0000_000b));
    s.server_sends(&mut sc, &rdp_connection_confirm(0x0000_0002));
    s.client_sends(&mut sc, &tls_client_hello(None, &[]));
    for i in 0..20 {
        s.server_sends(&mut sc, &tls_app_data(900, i));
        s.client_sends(&mut sc, &tls_app_data(120, i));
        sc.advance_ms(200);
    }
    s.close(&mut sc);

    // 2. The laptop resolves an AnyDesk relay, then connects to it.
    let relay = "relay-4e5f6a7b.net.anydesk.com";
    sc.udp((ws, 53001), (dns, 53), &dns_query(0x1111, relay, 1));
    sc.udp(
        (dns, 53),
        (ws, 53001),
        &dns_response_a(0x1111, relay, &[[203, 0, 113, 50]]),
    );
    let mut s = sc.tcp_session((ws, 50512), (anydesk_relay, 443));
    s.handshake(&mut sc);
    s.client_sends(&mut sc, &tls_client_hello(None, &["anydesk/8.0.8"]));
    let cert = x509_cert(
        &[("CN", "AnyDesk Client")],
        &[("CN", "AnyDesk Client"), ("O", "philandro Software GmbH")],
    );
    s.server_sends(
        &mut sc,
        &tls_server_hello_cert(Some("anydesk/8.0.8"), Some(&cert)),
    );
    for i in 0..30 {
        s.server_sends(&mut sc, &tls_app_data(1200, i));
        sc.advance_ms(100);
    }
    s.close(&mut sc);

    // 3. VNC between two internal hosts.
    let mut s = sc.tcp_session((srv, 49822), (nas, 5900));
    s.handshake(&mut sc);
    s.server_sends(&mut sc, b"RFB 003.008\n");
    s.client_sends(&mut sc, b"RFB 003.008\n");
    s.server_sends(&mut sc, &[1, 2]);
    s.client_sends(&mut sc, &[2]);
    s.server_sends(&mut sc, &noise(16, 7));
    s.client_sends(&mut sc, &noise(16, 8));
    for i in 0..10 {
        s.server_sends(&mut sc, &noise(1000, 100 + i));
    }
    s.close(&mut sc);

    // 4. SSH from the laptop to an outside host.
    let mut s = sc.tcp_session((ws, 51022), (ssh_host, 22));
    s.handshake(&mut sc);
    s.server_sends(&mut sc, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    s.client_sends(&mut sc, b"SSH-2.0-OpenSSH_9.6\r\n");
    s.client_sends(
        &mut sc,
        &ssh_kexinit(
            "curve25519-sha256,ext-info-c",
            "ssh-ed25519",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "umac-64-etm@openssh.com,hmac-sha2-256",
        ),
    );
    s.server_sends(
        &mut sc,
        &ssh_kexinit(
            "curve25519-sha256,kex-strict-s-v00@openssh.com",
            "ssh-ed25519",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "umac-64-etm@openssh.com,hmac-sha2-256",
        ),
    );
    for i in 0..10 {
        s.client_sends(&mut sc, &noise(36, 200 + i));
        s.server_sends(&mut sc, &noise(36, 300 + i));
        sc.advance_ms(300);
    }
    s.close(&mut sc);

    // 5. TeamViewer's own framing on 5938.
    let mut s = sc.tcp_session((ws, 50600), (tv, 5938));
    s.handshake(&mut sc);
    s.client_sends(
        &mut sc,
        &[
            0x17, 0x24, 0x0a, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
    );
    s.server_sends(
        &mut sc,
        &[
            0x17, 0x24, 0x0b, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
    );
    s.close(&mut sc);

    // 6. A DNS tunnel: long random labels under one domain, TXT answers.
    for i in 0..40u64 {
        let name = format!(
            "{}.{}.t.tunnel-example.net",
            tunnel_label(52, i),
            tunnel_label(40, i + 1000)
        );
        sc.udp(
            (ws, 40000 + i as u16),
            (dns, 53),
            &dns_query(0x2000 + i as u16, &name, 16),
        );
        sc.udp(
            (dns, 53),
            (ws, 40000 + i as u16),
            &dns_response_txt(
                0x2000 + i as u16,
                &name,
                &noise(180, i)
                    .iter()
                    .map(|b| b'a' + b % 26)
                    .collect::<Vec<_>>(),
            ),
        );
        sc.advance_ms(250);
    }

    // 7. An upload to GitHub over HTTPS.
    let mut s = sc.tcp_session((ws, 50999), (github, 443));
    s.handshake(&mut sc);
    s.client_sends(
        &mut sc,
        &tls_client_hello(Some("github.com"), &["h2", "http/1.1"]),
    );
    s.server_sends(&mut sc, &tls_server_hello_cert(Some("h2"), None));
    for i in 0..60 {
        s.client_sends(&mut sc, &tls_app_data(1380, i));
    }
    s.close(&mut sc);

    // 8. Ordinary ping, then ping carrying data.
    for i in 0..4u16 {
        let payload: Vec<u8> = (0..56u8).collect();
        sc.ip_packet(ws, dns, 1, &icmp_echo(true, 0x77, i, &payload));
        sc.ip_packet(dns, ws, 1, &icmp_echo(false, 0x77, i, &payload));
        sc.advance_ms(1000);
    }
    for i in 0..20u16 {
        let payload = noise(1000, 5000 + i as u64);
        sc.ip_packet(ws, ssh_host, 1, &icmp_echo(true, 0x99, i, &payload));
        sc.ip_packet(
            ssh_host,
            ws,
            1,
            &icmp_echo(false, 0x99, i, &noise(1000, 6000 + i as u64)),
        );
        sc.advance_ms(50);
    }
    sc.pcap.into_bytes()
}
