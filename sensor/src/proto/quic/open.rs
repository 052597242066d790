//! The QUIC probe of the registry.

use crate::proto::registry::AppProto;
use crate::proto::session::Opening;

pub fn probe(_o: &mut Opening, b: &[u8], _dir: usize) -> Option<AppProto> {
    super::is_initial_like(b).then_some(AppProto::Quic)
}
