//! Bounded retries with exponential backoff for transport failures (429, 5xx, timeouts).

use std::time::Duration;

use crate::BrokerError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Pause before the first retry; doubled for each further one.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // alpaca-py retries 429/504 three times; a daily job can afford a few seconds.
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
        }
    }
}

/// Runs `op` until it succeeds, fails with an error that is not worth retrying, or has been
/// retried `max_retries` times. `on_retry(attempt, error)` hears about each retry (for the
/// log).
pub fn with_retries<T>(
    policy: RetryPolicy,
    mut op: impl FnMut() -> Result<T, BrokerError>,
    mut on_retry: impl FnMut(u32, &BrokerError),
) -> Result<T, BrokerError> {
    let mut attempt = 0u32;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if e.retryable() && attempt < policy.max_retries => {
                attempt += 1;
                on_retry(attempt, &e);
                let factor = 1u32 << (attempt - 1).min(16);
                std::thread::sleep(policy.base_delay.saturating_mul(factor));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_retries_are_bounded_and_stop_on_success_or_a_final_error() {
        let p = RetryPolicy {
            max_retries: 2,
            base_delay: Duration::ZERO,
        };
        let mut calls = 0;
        let r: Result<(), _> = with_retries(
            p,
            || {
                calls += 1;
                Err(BrokerError::RateLimited)
            },
            |_, _| {},
        );
        assert!(matches!(r, Err(BrokerError::RateLimited)));
        assert_eq!(calls, 3, "one attempt + two retries");

        let mut calls = 0;
        let r = with_retries(
            p,
            || {
                calls += 1;
                if calls < 2 {
                    Err(BrokerError::Server {
                        status: 503,
                        message: "busy".into(),
                    })
                } else {
                    Ok(7)
                }
            },
            |_, _| {},
        );
        assert_eq!(r.unwrap(), 7);

        let mut calls = 0;
        let r: Result<(), _> = with_retries(
            p,
            || {
                calls += 1;
                Err(BrokerError::Invalid("bad".into()))
            },
            |_, _| {},
        );
        assert!(r.is_err());
        assert_eq!(calls, 1, "a 4xx-like error is not retried");
    }
}
