//! Application protocols spanwatch names on the wire: the registry's `AppProto`
//! (`proto::registry`, one line per protocol).

pub use crate::proto::registry::AppProto;
