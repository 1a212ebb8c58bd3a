//! A token bucket under a venue's or vendor's published request limit (Alpaca: 200 per minute per key;
//! Coinbase private REST: 30 per second): a request takes a token; without one it waits for
//! the next. The clock is passed in, so the rule is tested without sleeping.

use std::time::{Duration, Instant};

/// At most `capacity` requests in any window of `per`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: u32,
    per: Duration,
    /// When each of the last `capacity` requests went out, oldest first.
    sent: std::collections::VecDeque<Instant>,
}

impl TokenBucket {
    /// `capacity` requests per `per` (a capacity of 0 is taken as 1).
    pub fn new(capacity: u32, per: Duration) -> TokenBucket {
        TokenBucket {
            capacity: capacity.max(1),
            per,
            sent: std::collections::VecDeque::new(),
        }
    }

    /// How long a request at `now` must wait before it may go out (zero: now).
    pub fn wait(&self, now: Instant) -> Duration {
        if self.sent.len() < self.capacity as usize {
            return Duration::ZERO;
        }
        match self.sent.front() {
            Some(oldest) => (*oldest + self.per).saturating_duration_since(now),
            None => Duration::ZERO,
        }
    }

    /// Records a request that went out at `at` (after waiting what [`TokenBucket::wait`]
    /// said).
    pub fn record(&mut self, at: Instant) {
        self.sent.push_back(at);
        while self.sent.len() > self.capacity as usize {
            self.sent.pop_front();
        }
    }

    /// Waits (sleeping) until a request may go out, and records it.
    pub fn take(&mut self) {
        let pause = self.wait(Instant::now());
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        self.record(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// However requests arrive, the ones sent never exceed the limit in any window.
        #[test]
        fn prop_no_window_holds_more_than_the_limit(
            capacity in 1u32..12,
            per_ms in 10u64..2_000,
            gaps in proptest::collection::vec(0u64..500, 1..120),
        ) {
            let per = Duration::from_millis(per_ms);
            let mut b = TokenBucket::new(capacity, per);
            let start = Instant::now();
            let mut now = start;
            let mut sent = Vec::new();
            for g in gaps {
                now += Duration::from_millis(g);
                let at = now + b.wait(now);
                b.record(at);
                sent.push(at);
                now = at;
            }
            for (i, t) in sent.iter().enumerate() {
                let in_window = sent[i..].iter().filter(|u| **u < *t + per).count();
                prop_assert!(in_window <= capacity as usize, "{in_window} in one window");
            }
        }
    }

    #[test]
    fn test_the_limit_plus_one_waits_for_the_oldest_to_leave_the_window() {
        let per = Duration::from_secs(60);
        let mut b = TokenBucket::new(200, per);
        let t0 = Instant::now();
        for k in 0..200u64 {
            let at = t0 + Duration::from_millis(k);
            assert_eq!(b.wait(at), Duration::ZERO);
            b.record(at);
        }
        // The 201st at t0 + 1 s waits until the first has been out for a minute.
        let now = t0 + Duration::from_secs(1);
        assert_eq!(b.wait(now), Duration::from_secs(59));
    }
}
