//! A fixed-capacity ring buffer of the last `n` values.

#[derive(Debug, Clone)]
pub(crate) struct Ring<T: Clone + Default> {
    buf: Vec<T>,
    head: usize,
    len: usize,
}

impl<T: Clone + Default> Ring<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Ring {
            buf: vec![T::default(); cap.max(1)],
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The oldest value (the one the next push evicts when full).
    pub(crate) fn oldest(&self) -> Option<T> {
        if self.len == 0 {
            None
        } else if self.is_full() {
            Some(self.buf[self.head].clone())
        } else {
            Some(self.buf[0].clone())
        }
    }

    /// Appends a value; returns the evicted one when full.
    pub(crate) fn push(&mut self, x: T) -> Option<T> {
        if self.is_full() {
            let old = std::mem::replace(&mut self.buf[self.head], x);
            self.head = (self.head + 1) % self.buf.len();
            Some(old)
        } else {
            self.buf[self.len] = x;
            self.len += 1;
            None
        }
    }

    /// Values oldest first, by reference.
    pub(crate) fn iter_ref(&self) -> impl Iterator<Item = &T> + '_ {
        let (a, b) = if self.is_full() {
            self.buf.split_at(self.head)
        } else {
            (&self.buf[..0], &self.buf[..self.len])
        };
        b.iter().chain(a.iter())
    }

    /// Values oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.iter_ref().cloned()
    }

    /// The value `k` places from the newest (0 = newest).
    pub(crate) fn back(&self, k: usize) -> T {
        let idx = if self.is_full() {
            (self.head + self.buf.len() - 1 - k) % self.buf.len()
        } else {
            self.len - 1 - k
        };
        self.buf[idx].clone()
    }

    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_ring_order_and_eviction() {
        let mut r = Ring::new(3);
        assert_eq!(r.push(1), None);
        assert_eq!(r.push(2), None);
        assert_eq!(r.oldest(), Some(1));
        assert_eq!(r.push(3), None);
        assert_eq!(r.push(4), Some(1));
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!((r.back(0), r.back(2)), (4, 2));
        assert_eq!(r.oldest(), Some(2));
    }
}
