//! SSH: both banners and both KEXINITs (HASSH); a KEXINIT only a server sends, coming from
//! the side taken for the client, means the roles were guessed the wrong way round.

use crate::model::meta::{Hassh, SshSide};
use crate::proto::registry::AppProto;
use crate::proto::session::{Opening, Outcome, C1, C2, S1, S2};
use crate::proto::{self, Parsed, Probe};

pub fn probe(cs: &[u8], sc: &[u8], _ports: [u16; 2]) -> Option<AppProto> {
    (proto::ssh::probe(cs) == Probe::Match || proto::ssh::probe(sc) == Probe::Match)
        .then_some(AppProto::Ssh)
}

pub fn read(o: &mut Opening) -> Outcome {
    *o.tool = Some("ssh");
    let mut sides = [None, None];
    for (side, buf) in sides.iter_mut().zip(o.buf.iter()) {
        if let Parsed::Done { value, consumed } = proto::ssh::parse_banner(buf) {
            *side = Some((value, consumed));
        }
    }
    for (dir, bit, kbit) in [(0usize, C1, C2), (1, S1, S2)] {
        let Some((banner, consumed)) = &sides[dir] else {
            continue;
        };
        if *o.got & bit == 0 {
            *o.got |= bit;
            let s = o.meta().ssh.get_or_insert_with(Default::default);
            *s.side_mut(dir) = Some(SshSide {
                proto_version: banner.proto_version.clone(),
                software_version: banner.software.clone(),
                ..Default::default()
            });
        }
        if *o.got & kbit == 0 {
            if let Parsed::Done { value: kex, .. } =
                proto::ssh::parse_kexinit(o.buf[dir].get(*consumed..).unwrap_or(&[]))
            {
                *o.got |= kbit;
                // A KEXINIT that announces server-only extensions came from the server:
                // the roles were guessed wrong (capture started late, or one direction only).
                let server_like = kex.kex_algorithms.contains("ext-info-s")
                    || kex.kex_algorithms.contains("kex-strict-s");
                let client_like = kex.kex_algorithms.contains("ext-info-c")
                    || kex.kex_algorithms.contains("kex-strict-c");
                let as_server = server_like || (dir == 1 && !client_like);
                let (h, hm) = if as_server {
                    kex.hassh_server()
                } else {
                    kex.hassh()
                };
                if let Some(s) = &mut o.meta().ssh {
                    if let Some(x) = s.side_mut(dir) {
                        let v = Some(Hassh {
                            hash: hm,
                            string: h,
                        });
                        if as_server {
                            x.hassh_server = v;
                        } else {
                            x.hassh = v;
                        }
                    }
                }
                if (dir == 0 && server_like) || (dir == 1 && client_like) {
                    return Outcome::SwapRoles;
                }
            }
        }
    }
    o.done_if(C1 | S1 | C2 | S2);
    Outcome::Continue
}
