//! Secrets never appear in a file, a log, stdout or stderr — including error text a server
//! echoes back (an SMTP 535 quoting the AUTH line, an HTTP 500 quoting the URL).
//!
//! Secrets are registered once (from the environment: [`register_from_env`]; or by the code
//! that reads one: [`register`], [`register_url`]); [`redact`] replaces every registered
//! secret, and the encodings a protocol puts it in, by `[redacted]` in any text before it is
//! stored or printed.

use std::sync::{OnceLock, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const MASK: &str = "[redacted]";

/// Shorter values are not treated as secrets (they would mask ordinary words).
const MIN_LEN: usize = 4;

fn registry() -> &'static RwLock<Vec<String>> {
    static R: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    R.get_or_init(|| RwLock::new(Vec::new()))
}

fn add(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_LEN {
        return;
    }
    if let Ok(mut r) = registry().write()
        && !r.iter().any(|s| s == secret)
    {
        r.push(secret.to_string());
        // Longest first, so a secret inside another is masked as part of the longer one.
        r.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers a secret value and its base64 form (as SMTP AUTH LOGIN sends it).
pub fn register(secret: &str) {
    add(secret);
    add(&STANDARD.encode(secret.trim()));
}

/// Registers a login: the password, and the SMTP AUTH PLAIN and LOGIN encodings of it.
pub fn register_login(user: &str, password: &str) {
    register(password);
    add(&STANDARD.encode(format!("\0{user}\0{password}")));
    add(&STANDARD.encode(format!("{user}\0{user}\0{password}")));
}

/// Registers a secret URL: the whole URL, and its path and query (the part that carries the
/// token in a webhook URL).
pub fn register_url(url: &str) {
    let url = url.trim();
    add(url);
    if let Some(rest) = url.split_once("://").map(|(_, r)| r)
        && let Some(i) = rest.find(['/', '?'])
    {
        let tail = &rest[i..];
        if tail.len() > 1 {
            add(tail);
            if let Some((path, query)) = tail.split_once('?') {
                add(path);
                add(query);
            }
        }
    }
}

/// True for environment variable names that hold secrets.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "PRIVATE_KEY",
        "WEBHOOK_URL",
    ]
    .iter()
    .any(|w| n.contains(w))
        || n == "APCA_API_KEY_ID"
}

/// Registers every secret the environment holds (by [`is_secret_name`]); URLs as URLs, and
/// the SMTP login with its AUTH encodings.
pub fn register_from_env() {
    for (k, v) in std::env::vars() {
        if !is_secret_name(&k) || v.trim().is_empty() {
            continue;
        }
        if v.contains("://") {
            register_url(&v);
        } else {
            register(&v);
        }
    }
    if let (Ok(u), Ok(p)) = (
        std::env::var("SYSTRADE_SMTP_USER"),
        std::env::var("SYSTRADE_SMTP_PASSWORD"),
    ) {
        register_login(&u, &p);
    }
}

/// `text` with every registered secret masked.
pub fn redact(text: &str) -> String {
    let Ok(r) = registry().read() else {
        return text.to_string();
    };
    let mut out = text.to_string();
    for s in r.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_registered_secrets_and_their_encodings_are_masked() {
        register_login("desk@example.org", "hunter2-pw");
        let plain = STANDARD.encode("\0desk@example.org\0hunter2-pw");
        let echoed = format!("535 5.7.8 Authentication failed: AUTH PLAIN {plain}");
        assert_eq!(
            redact(&echoed),
            "535 5.7.8 Authentication failed: AUTH PLAIN [redacted]"
        );
        let login = STANDARD.encode("hunter2-pw");
        assert!(!redact(&format!("got {login}")).contains(&login));
        assert_eq!(redact("password hunter2-pw!"), "password [redacted]!");

        register_url("https://hooks.example.org/services/T000/B000/XXXXSECRET?token=abc123");
        let r = redact("HTTP 500: no route for /services/T000/B000/XXXXSECRET?token=abc123");
        assert!(!r.contains("XXXXSECRET") && !r.contains("abc123"), "{r}");
        let r = redact("POST /services/T000/B000/XXXXSECRET failed");
        assert!(!r.contains("XXXXSECRET"), "{r}");
        // Ordinary text and short values stay.
        register("ab");
        assert_eq!(redact("about a cab"), "about a cab");
        assert!(is_secret_name("SYSTRADE_SMTP_PASSWORD"));
        assert!(is_secret_name("SYSTRADE_SLACK_WEBHOOK_URL"));
        assert!(!is_secret_name("SYSTRADE_HOME"));
    }
}
