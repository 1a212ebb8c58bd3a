//! The dashboard's rules: loopback unless a token is set; the token asked of every request
//! (a bearer header, a cookie, or `?token=` once, which sets the cookie); CSRF tokens on
//! every POST; comparisons in constant time; the token never rendered or echoed.

use axum::http::HeaderMap;
use base64::Engine;

use crate::{DashboardError, Options};

/// Off loopback the dashboard needs a token; with one it may listen anywhere.
pub fn check_bind(opts: &Options) -> Result<(), DashboardError> {
    if opts.bind.ip().is_loopback() {
        return Ok(());
    }
    match &opts.token {
        Some(t) if t.len() >= 16 => Ok(()),
        Some(_) => Err(DashboardError::Refused(
            "SYSTRADE_DASHBOARD_TOKEN is shorter than 16 characters: use a long random token to listen off loopback".into(),
        )),
        None => Err(DashboardError::Refused(format!(
            "refusing to listen on {}: an address other than loopback needs SYSTRADE_DASHBOARD_TOKEN in the environment (it is then asked of every request)",
            opts.bind
        ))),
    }
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> Result<String, DashboardError> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| DashboardError::Setup("no randomness for the CSRF token".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Equal, in time that does not depend on where they differ (only on the length).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries: `Authorization: Bearer …`, the `systrade_token` cookie, or
/// `token=` in the query.
pub fn presented(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(v.trim().to_string());
    }
    for c in headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for part in c.split(';') {
            if let Some(v) = part.trim().strip_prefix("systrade_token=") {
                return Some(v.to_string());
            }
        }
    }
    query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(bind: &str, token: Option<&str>) -> Options {
        Options {
            home: "h".into(),
            bind: bind.parse().unwrap(),
            allow_actions: false,
            token: token.map(str::to_string),
            configs: Vec::new(),
            prices: Default::default(),
            backtests: Vec::new(),
        }
    }

    #[test]
    fn test_off_loopback_needs_a_long_token() {
        assert!(check_bind(&opts("127.0.0.1:8787", None)).is_ok());
        assert!(check_bind(&opts("[::1]:8787", None)).is_ok());
        let e = check_bind(&opts("0.0.0.0:8787", None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SYSTRADE_DASHBOARD_TOKEN"), "{e}");
        assert!(check_bind(&opts("0.0.0.0:8787", Some("short"))).is_err());
        assert!(check_bind(&opts("0.0.0.0:8787", Some("0123456789abcdefXYZ"))).is_ok());
    }

    #[test]
    fn test_the_token_is_read_from_a_header_a_cookie_or_the_query() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h, Some("a=1&token=q")), Some("q".into()));
        h.insert("cookie", "x=1; systrade_token=c".parse().unwrap());
        assert_eq!(presented(&h, None), Some("c".into()));
        h.insert("authorization", "Bearer b".parse().unwrap());
        assert_eq!(presented(&h, None), Some("b".into()));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
