//! The blocking HTTP client every provider shares: one agent, a token bucket under the
//! provider's published limit, and the rules for "slow down":
//! - 429 (and Binance's 418 ban) waits the `Retry-After` the vendor names (seconds or an
//!   HTTP date), else backs off exponentially — never hammering — and gives up loudly when
//!   the vendor asks for longer than a fetch waits;
//! - a 5xx, a timeout or a dropped connection is retried with backoff;
//! - any other status is the vendor's refusal, with its (redacted) message.
//!
//! The server's `Date` header is kept: it is the vendor's "now", which decides whether the
//! last candle is still open. No URL or key ever appears in an error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use systrade_core::rate::TokenBucket;

use crate::error::FetchError;

/// How a provider is called.
#[derive(Debug, Clone)]
pub struct Rules {
    pub provider: &'static str,
    /// Requests allowed per `window` (the provider's published limit).
    pub per_window: u32,
    pub window: Duration,
    /// The longest `Retry-After` a fetch waits before it stops (resumable) and says so.
    pub max_wait: Duration,
    /// The first backoff when the vendor names no wait (doubled each time).
    pub backoff: Duration,
    /// Attempts per request before giving up.
    pub attempts: u32,
}

impl Rules {
    pub fn new(provider: &'static str, per_window: u32, window: Duration) -> Rules {
        Rules {
            provider,
            per_window,
            window,
            max_wait: Duration::from_secs(300),
            backoff: Duration::from_secs(1),
            attempts: 6,
        }
    }
}

/// What a 200 body may still mean (Alpha Vantage answers its throttle with a 200).
pub enum Verdict {
    Ok,
    /// Treat as a rate limit: back off and try again.
    Throttled(String),
}

/// The client.
pub struct DataClient {
    base: String,
    rules: Rules,
    agent: ureq::Agent,
    bucket: TokenBucket,
    requests: u64,
    waited: Duration,
    server_now: Option<DateTime<Utc>>,
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

impl DataClient {
    /// A client of `base` (scheme, host and any path prefix; no trailing `/`).
    pub fn new(base: &str, rules: Rules) -> DataClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        DataClient {
            base: base.trim_end_matches('/').to_string(),
            bucket: TokenBucket::new(rules.per_window, rules.window),
            rules,
            agent,
            requests: 0,
            waited: Duration::ZERO,
            server_now: None,
        }
    }

    pub fn provider(&self) -> &'static str {
        self.rules.provider
    }

    /// Requests sent so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Time spent waiting on the vendor's rate limits.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// The vendor's clock (its last `Date` header), else this machine's.
    pub fn now(&self) -> DateTime<Utc> {
        self.server_now.unwrap_or_else(Utc::now)
    }

    fn pause(&mut self, d: Duration) {
        self.waited += d;
        std::thread::sleep(d);
    }

    /// `GET base+path?query` with `headers`; the body of a 2xx answer `check` accepts.
    pub fn get(
        &mut self,
        path: &str,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        check: &dyn Fn(&str) -> Verdict,
    ) -> Result<String, FetchError> {
        let provider = self.rules.provider;
        let mut backoff = self.rules.backoff;
        let mut last = String::new();
        // The wait before the next attempt (none after the last one).
        let mut pending: Option<Duration> = None;
        for _ in 0..self.rules.attempts.max(1) {
            if let Some(p) = pending.take() {
                self.pause(p);
            }
            self.bucket.take();
            self.requests += 1;
            let url = format!("{}{}", self.base, path);
            let mut req = self.agent.get(&url);
            for (k, v) in query {
                req = req.query(*k, v);
            }
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let mut resp = match req.call() {
                Ok(r) => r,
                Err(e) => {
                    last = transport(&e);
                    pending = Some(backoff);
                    backoff *= 2;
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            if let Some(d) = header("date")
                .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
                .map(|d| d.with_timezone(&Utc))
            {
                self.server_now = Some(d);
            }
            let wait = header("retry-after").and_then(|v| retry_after(&v, self.now()));
            let body = resp
                .body_mut()
                .with_config()
                .limit(256 * 1024 * 1024)
                .read_to_string();
            let text = match body {
                Ok(t) => t,
                Err(e) => {
                    last = transport(&e);
                    pending = Some(backoff);
                    backoff *= 2;
                    continue;
                }
            };
            match status {
                200..=299 => match check(&text) {
                    Verdict::Ok => return Ok(text),
                    Verdict::Throttled(note) => {
                        last = format!("throttled: {}", clip(&note));
                        pending = Some(backoff);
                        backoff *= 2;
                    }
                },
                429 | 418 => {
                    let what = if status == 418 {
                        "HTTP 418 (IP banned for hammering)"
                    } else {
                        "HTTP 429"
                    };
                    match wait {
                        Some(w) if w > self.rules.max_wait => {
                            return Err(FetchError::RateLimited {
                                provider,
                                message: format!(
                                    "{what}: Retry-After {} s is longer than a fetch waits ({} s); run it again later — what is stored stays",
                                    w.as_secs(),
                                    self.rules.max_wait.as_secs()
                                ),
                            });
                        }
                        Some(w) => pending = Some(w),
                        None => {
                            pending = Some(backoff);
                            backoff *= 2;
                        }
                    }
                    last = what.to_string();
                }
                500..=599 => {
                    last = format!("HTTP {status}: {}", clip(&text));
                    pending = Some(backoff);
                    backoff *= 2;
                }
                _ => {
                    return Err(FetchError::Refused {
                        provider,
                        status,
                        message: clip(&text),
                    });
                }
            }
        }
        let message = format!(
            "gave up after {} attempts: {last}",
            self.rules.attempts.max(1)
        );
        if last.starts_with("HTTP 429")
            || last.starts_with("HTTP 418")
            || last.starts_with("throttled")
        {
            Err(FetchError::RateLimited { provider, message })
        } else {
            Err(FetchError::Unavailable { provider, message })
        }
    }
}

/// A body for a message: redacted, one line, at most 300 characters.
fn clip(text: &str) -> String {
    let one: String = systrade_core::redact::redact(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match one.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one[..i]),
        None => one,
    }
}

/// A failure below HTTP, without the URL (ureq keeps URLs in some errors).
fn transport(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::Io(e) => format!("connection: {}", e.kind()),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => "the base URL is not usable".into(),
        ureq::Error::Tls(m) => format!("TLS: {m}"),
        other => systrade_core::redact::redact(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 31 Dec 2023 00:00:30 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn test_a_long_body_is_clipped_to_one_line() {
        let c = clip(&format!("a\nb {}", "x".repeat(400)));
        assert!(c.starts_with("a b "));
        assert!(c.chars().count() <= 301);
    }
}
