//! Application protocols spanwatch names on the wire: the bounded value set of the EVE
//! `app_proto` field and of the `app_proto` metric label.

macro_rules! app_protos {
    ($($v:ident => $s:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[repr(u8)]
        pub enum AppProto {
            #[default]
            Unknown,
            $($v),*
        }
        impl AppProto {
            pub const ALL: &'static [AppProto] = &[AppProto::Unknown, $(AppProto::$v),*];
            pub fn as_str(self) -> &'static str {
                match self {
                    AppProto::Unknown => "unknown",
                    $(AppProto::$v => $s),*
                }
            }
            pub fn from_name(s: &str) -> Option<AppProto> {
                AppProto::ALL.iter().copied().find(|a| a.as_str() == s)
            }
        }
    };
}

app_protos! {
    Tls => "tls",
    Dns => "dns",
    Http => "http",
    Ssh => "ssh",
    Rdp => "rdp",
    Vnc => "vnc",
    TeamViewer => "teamviewer",
    AnyDesk => "anydesk",
    RustDesk => "rustdesk",
    Radmin => "radmin",
    NoMachine => "nomachine",
    CitrixIca => "citrix-ica",
    CitrixCgp => "citrix-cgp",
    Pcoip => "pcoip",
    OpenVpn => "openvpn",
    WireGuard => "wireguard",
    Ike => "ike",
    Esp => "esp",
    L2tp => "l2tp",
    Pptp => "pptp",
    Gre => "gre",
    Socks => "socks",
    HttpConnect => "http-connect",
    Tor => "tor",
    Stun => "stun",
    Rtp => "rtp",
    Rtcp => "rtcp",
    Dtls => "dtls",
    Quic => "quic",
    Smb => "smb",
    Nfs => "nfs",
    Xdmcp => "xdmcp",
}

impl AppProto {
    pub const COUNT: usize = AppProto::ALL.len();
    pub fn index(self) -> usize {
        self as usize
    }
}
