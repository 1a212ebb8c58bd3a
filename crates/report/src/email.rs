//! Sending the newsletter by SMTP (lettre). Settings come from the environment only:
//! `SYSTRADE_SMTP_HOST`, `SYSTRADE_SMTP_PORT` (default 587; 465 means implicit TLS),
//! `SYSTRADE_SMTP_USER`, `SYSTRADE_SMTP_PASSWORD`, `SYSTRADE_SMTP_FROM`, `SYSTRADE_SMTP_TO`
//! (comma-separated). STARTTLS is used whenever the server offers it.

use std::time::{Duration, SystemTime};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::ReportError;
use crate::newsletter::Rendered;

/// Where and as whom to send. `password` is never printed (`Debug` hides it).
#[derive(Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl SmtpSettings {
    /// Reads the settings through `var` (the environment in production). `Ok(None)` when no
    /// host is set: email is simply not configured.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<SmtpSettings>, ReportError> {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(host) = get("SYSTRADE_SMTP_HOST") else {
            return Ok(None);
        };
        let port = match get("SYSTRADE_SMTP_PORT") {
            None => 587,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                ReportError::Email(format!(
                    "SYSTRADE_SMTP_PORT must be a port number, got {p:?}"
                ))
            })?,
        };
        let from = get("SYSTRADE_SMTP_FROM").ok_or_else(|| {
            ReportError::Email("SYSTRADE_SMTP_HOST is set but SYSTRADE_SMTP_FROM is not".into())
        })?;
        let to: Vec<String> = get("SYSTRADE_SMTP_TO")
            .map(|t| {
                t.split(',')
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if to.is_empty() {
            return Err(ReportError::Email(
                "SYSTRADE_SMTP_HOST is set but SYSTRADE_SMTP_TO names no recipient".into(),
            ));
        }
        let s = SmtpSettings {
            host,
            port,
            user: get("SYSTRADE_SMTP_USER"),
            password: var("SYSTRADE_SMTP_PASSWORD").filter(|p| !p.is_empty()),
            from,
            to,
            timeout: Duration::from_secs(30),
        };
        // Whatever the server echoes of the login is masked wherever it is printed or stored.
        if let Some(p) = &s.password {
            systrade_core::redact::register_login(s.user.as_deref().unwrap_or(""), p);
        }
        // Addresses are checked now, so a typo fails before any connection.
        s.mailbox(&s.from, "SYSTRADE_SMTP_FROM")?;
        for t in &s.to {
            s.mailbox(t, "SYSTRADE_SMTP_TO")?;
        }
        Ok(Some(s))
    }

    /// The settings of the process's environment.
    pub fn from_env() -> Result<Option<SmtpSettings>, ReportError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    fn mailbox(&self, addr: &str, key: &str) -> Result<Mailbox, ReportError> {
        addr.parse::<Mailbox>()
            .map_err(|e| ReportError::Email(format!("{key}: {addr:?} is not an address ({e})")))
    }
}

/// The MIME message: multipart/alternative with the text part first, so clients that show
/// HTML pick the last part they understand.
pub fn message(s: &SmtpSettings, n: &Rendered, date: SystemTime) -> Result<Message, ReportError> {
    let mut b = Message::builder()
        .from(s.mailbox(&s.from, "SYSTRADE_SMTP_FROM")?)
        .subject(n.subject.clone())
        .date(date);
    for t in &s.to {
        b = b.to(s.mailbox(t, "SYSTRADE_SMTP_TO")?);
    }
    b.multipart(MultiPart::alternative_plain_html(
        n.text.clone(),
        n.html.clone(),
    ))
    .map_err(|e| ReportError::Email(format!("building the message: {e}")))
}

/// The message as the bytes a server receives (for `--preview x.eml`).
pub fn formatted(s: &SmtpSettings, n: &Rendered, date: SystemTime) -> Result<Vec<u8>, ReportError> {
    Ok(message(s, n, date)?.formatted())
}

/// Sends the newsletter; the error says what failed, never the password.
pub fn send(s: &SmtpSettings, n: &Rendered, date: SystemTime) -> Result<(), ReportError> {
    let msg = message(s, n, date)?;
    let tls = TlsParameters::new(s.host.clone())
        .map_err(|e| ReportError::Email(format!("TLS settings for {}: {e}", s.host)))?;
    let mut t = SmtpTransport::builder_dangerous(&s.host)
        .port(s.port)
        .timeout(Some(s.timeout))
        .tls(if s.port == 465 {
            Tls::Wrapper(tls)
        } else {
            Tls::Opportunistic(tls)
        });
    if let (Some(u), Some(p)) = (&s.user, &s.password) {
        t = t.credentials(Credentials::new(u.clone(), p.clone()));
    }
    t.build().send(&msg).map(|_| ()).map_err(|e| {
        ReportError::Email(systrade_core::redact::redact(&format!(
            "sending through {}:{} failed: {e}",
            s.host, s.port
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn test_settings_come_from_the_environment_and_fail_clearly() {
        assert_eq!(SmtpSettings::from_vars(vars(&[])).unwrap(), None);
        let s = SmtpSettings::from_vars(vars(&[
            ("SYSTRADE_SMTP_HOST", "mail.example.com"),
            ("SYSTRADE_SMTP_FROM", "desk@example.com"),
            ("SYSTRADE_SMTP_TO", "a@example.com, b@example.com"),
            ("SYSTRADE_SMTP_PASSWORD", "hunter2"),
            ("SYSTRADE_SMTP_USER", "desk"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!((s.port, s.to.len()), (587, 2));
        assert!(
            !format!("{s:?}").contains("hunter2"),
            "the password is never printed"
        );
        for (bad, says) in [
            (
                vec![("SYSTRADE_SMTP_HOST", "h"), ("SYSTRADE_SMTP_TO", "a@b.c")],
                "SYSTRADE_SMTP_FROM",
            ),
            (
                vec![("SYSTRADE_SMTP_HOST", "h"), ("SYSTRADE_SMTP_FROM", "a@b.c")],
                "SYSTRADE_SMTP_TO",
            ),
            (
                vec![
                    ("SYSTRADE_SMTP_HOST", "h"),
                    ("SYSTRADE_SMTP_FROM", "a@b.c"),
                    ("SYSTRADE_SMTP_TO", "a@b.c"),
                    ("SYSTRADE_SMTP_PORT", "smtp"),
                ],
                "SYSTRADE_SMTP_PORT",
            ),
            (
                vec![
                    ("SYSTRADE_SMTP_HOST", "h"),
                    ("SYSTRADE_SMTP_FROM", "not an address"),
                    ("SYSTRADE_SMTP_TO", "a@b.c"),
                ],
                "SYSTRADE_SMTP_FROM",
            ),
        ] {
            let e = SmtpSettings::from_vars(vars(&bad)).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }
}
