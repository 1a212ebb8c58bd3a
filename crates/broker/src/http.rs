//! The blocking HTTP transport every venue adapter shares: one agent, a token bucket under
//! the venue's published limit, a 429's reset header honoured once, what an answer that is
//! not 2xx means left to the venue ([`Refusal`]), and no URL or credential in any error.
//! The venue brings its own authentication headers per request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use systrade_core::contracts::ClientOrderId;

use crate::BrokerError;
use crate::rate::TokenBucket;
use crate::venue::Refusal;

/// The longest a 429's reset is waited for before the call gives up.
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

/// An HTTP method adapters use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// A request: `method base+path?query` with a JSON body, about an order (for errors).
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: &'a [(&'a str, String)],
    pub body: Option<&'a serde_json::Value>,
    pub order: Option<&'a ClientOrderId>,
}

/// The headers that authenticate one request (`method`, full path), e.g. a fresh JWT.
pub type Authenticate<'a> =
    dyn Fn(Method, &str) -> Result<Vec<(&'static str, String)>, BrokerError> + 'a;

/// A venue's rules for the transport.
pub struct VenueRules {
    /// For messages: `alpaca`, `coinbase`.
    pub name: &'static str,
    /// The variable the base URL comes from (named when it is unusable).
    pub base_var: &'static str,
    /// The header with the UNIX second the rate limit resets at.
    pub reset_header: &'static str,
    /// The meaning of a status that is not 2xx, with the (redacted) body.
    pub refusal: fn(u16, &str, Option<&ClientOrderId>) -> Refusal,
}

/// The blocking client.
pub struct Client {
    base: String,
    rules: VenueRules,
    agent: ureq::Agent,
    bucket: TokenBucket,
    calls: u64,
}

impl Client {
    /// A client of `base` (scheme and host, no trailing `/`) allowed `per_window` requests
    /// in each `window`.
    pub fn new(base: &str, rules: VenueRules, per_window: u32, window: Duration) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_string(),
            rules,
            agent,
            bucket: TokenBucket::new(per_window, window),
            calls: 0,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `host[:port]` of the base URL.
    pub fn authority(&self) -> &str {
        let rest = self
            .base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    /// Requests sent so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Sends `r` with the headers `auth` gives for it; the body of a 2xx answer, else the
    /// venue's refusal. A 429 waits for the reset header (at most a minute; a second without
    /// one) and tries once more.
    pub fn call(&mut self, r: &Request<'_>, auth: &Authenticate<'_>) -> Result<String, Refusal> {
        let mut waited = false;
        loop {
            let headers = auth(r.method, r.path).map_err(Refusal::Error)?;
            let (status, text, reset) = self.send(r, &headers)?;
            if (200..300).contains(&status) {
                return Ok(text);
            }
            // A 429 waits for the venue's reset (a second when it names none: the
            // budget of another process just spent) and tries once more.
            if status == 429
                && !waited
                && let Some(pause) = reset
                    .or(Some(Duration::from_secs(1)))
                    .filter(|p| *p <= MAX_RESET_WAIT)
            {
                waited = true;
                std::thread::sleep(pause);
                continue;
            }
            let clean = systrade_core::redact::redact(&text);
            return Err((self.rules.refusal)(status, &clean, r.order));
        }
    }

    fn send(
        &mut self,
        r: &Request<'_>,
        headers: &[(&'static str, String)],
    ) -> Result<(u16, String, Option<Duration>), Refusal> {
        self.bucket.take();
        self.calls += 1;
        let url = format!("{}{}", self.base, r.path);
        let result = match r.method {
            Method::Get | Method::Delete => {
                let mut q = match r.method {
                    Method::Get => self.agent.get(&url),
                    _ => self.agent.delete(&url),
                };
                for (k, v) in r.query {
                    q = q.query(*k, v);
                }
                for (k, v) in headers {
                    q = q.header(*k, v);
                }
                q.call()
            }
            Method::Post | Method::Patch => {
                let mut q = match r.method {
                    Method::Post => self.agent.post(&url),
                    _ => self.agent.patch(&url),
                };
                for (k, v) in r.query {
                    q = q.query(*k, v);
                }
                for (k, v) in headers {
                    q = q.header(*k, v);
                }
                let payload = r.body.map(|b| b.to_string()).unwrap_or_default();
                q.header("content-type", "application/json")
                    .send(payload.as_bytes())
            }
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let reset = resp
                    .headers()
                    .get(self.rules.reset_header)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(until_epoch);
                let text = resp
                    .body_mut()
                    .with_config()
                    .limit(32 * 1024 * 1024)
                    .read_to_string()
                    .map_err(|e| Refusal::Error(self.transport(e)))?;
                Ok((status, text, reset))
            }
            Err(e) => Err(Refusal::Error(self.transport(e))),
        }
    }

    /// A failure below HTTP, without the URL (ureq keeps URLs in some errors).
    fn transport(&self, e: ureq::Error) -> BrokerError {
        let venue = self.rules.name;
        match e {
            ureq::Error::Timeout(_) => BrokerError::Timeout,
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => BrokerError::Timeout,
            ureq::Error::Io(e) => BrokerError::Unreachable(format!("{venue}: {}", e.kind())),
            ureq::Error::HostNotFound => {
                BrokerError::Unreachable(format!("{venue}: host not found"))
            }
            ureq::Error::ConnectionFailed => {
                BrokerError::Unreachable(format!("{venue}: connection failed"))
            }
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                BrokerError::Invalid(format!("{} is not a usable URL", self.rules.base_var))
            }
            ureq::Error::Tls(m) => BrokerError::Unreachable(format!("{venue}: TLS: {m}")),
            other => BrokerError::Unreachable(format!(
                "{venue}: {}",
                systrade_core::redact::redact(&other.to_string())
            )),
        }
    }
}

/// How long until the UNIX second `epoch` (zero when it has passed).
fn until_epoch(epoch: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_secs(epoch).saturating_sub(now)
}

/// The UNIX second now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_reset_in_the_past_waits_nothing_and_the_authority_is_host_and_port() {
        assert_eq!(until_epoch(1), Duration::ZERO);
        assert!(until_epoch(unix_now() + 5) <= Duration::from_secs(5));
        let rules = VenueRules {
            name: "x",
            base_var: "X_URL",
            reset_header: "x-ratelimit-reset",
            refusal: |_, _, _| Refusal::Rejected(String::new()),
        };
        let c = Client::new("http://127.0.0.1:8080/", rules, 1, Duration::from_secs(1));
        assert_eq!(c.authority(), "127.0.0.1:8080");
        assert_eq!(c.base(), "http://127.0.0.1:8080");
    }
}
