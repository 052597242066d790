//! [`Few`]: a list that is nearly always one item long.

/// A list that nearly always holds one item (an alert's flows, a flow's alerts): no heap
/// allocation until a second one comes (in an alert flood each was one more allocation to
/// make and free per alert).
#[derive(Debug, Default)]
pub(super) enum Few<T> {
    #[default]
    None,
    One(T),
    Many(Vec<T>),
}

impl<T: PartialEq> Few<T> {
    pub(super) fn push(&mut self, x: T) {
        *self = match std::mem::take(self) {
            Few::None => Few::One(x),
            Few::One(a) => Few::Many(vec![a, x]),
            Few::Many(mut v) => {
                v.push(x);
                Few::Many(v)
            }
        };
    }
    pub(super) fn as_slice(&self) -> &[T] {
        match self {
            Few::None => &[],
            Few::One(a) => std::slice::from_ref(a),
            Few::Many(v) => v,
        }
    }
    pub(super) fn contains(&self, x: &T) -> bool {
        self.as_slice().contains(x)
    }
    pub(super) fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self {
            Few::None => {}
            Few::One(a) => {
                if !keep(a) {
                    *self = Few::None;
                }
            }
            Few::Many(v) => v.retain(keep),
        }
    }
}
