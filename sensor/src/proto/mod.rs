//! Application protocols, one folder each (after Suricata's `rust/src/<proto>/`): the
//! parser — pure functions over the bytes of one direction that say how many more bytes
//! they need instead of guessing on a split segment — its unit tests (`tests.rs`), and
//! `open.rs`, the probe and the reader of a flow's opening that [`registry`], the one table
//! of protocols, runs through a [`session::Opening`].
//!
//! Nothing here keeps per-flow state of its own or allocates on the probe path; parsers
//! return owned metadata only once a message is complete. No function here panics on any
//! input.

pub use crate::model::net::Direction;

/// Answer of a probe: does this direction's opening look like the protocol?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Match,
    NoMatch,
    /// Too few bytes to say yet.
    NeedMore,
}

/// Answer of a parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A complete message, and how many bytes of the input it used.
    Done { value: T, consumed: usize },
    /// The message is not complete: at least `needed` more bytes are wanted.
    NeedMore { needed: usize },
    /// The bytes are not this protocol (or are damaged); the reason is for logs and tests.
    Malformed(&'static str),
}

impl<T> Parsed<T> {
    pub fn done(self) -> Option<T> {
        match self {
            Parsed::Done { value, .. } => Some(value),
            _ => None,
        }
    }
}

pub mod ber;
pub mod calls;
pub mod cleartext;
pub mod dcerpc;
pub mod dhcp;
pub mod dns;
pub mod encrypted;
pub mod http;
pub mod krb5;
pub mod ldap;
pub mod mdns;
pub mod netbios;
pub mod ntlmssp;
pub mod proxy;
pub mod quic;
pub mod rdp;
pub mod registry;
pub mod rfb;
pub mod rmm;
pub mod session;
pub mod smb;
pub mod ssdp;
pub mod ssh;
pub mod tls;
pub mod vdi;
pub mod vpn;
pub mod websocket;
pub mod xdmcp;
