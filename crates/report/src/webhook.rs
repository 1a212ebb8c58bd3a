//! Alerts to Slack (incoming-webhook JSON) and to a generic JSON webhook: the run summary,
//! blocked entries, reconciliation mismatches and errors. URLs are secrets: they come from
//! the environment, and no error or log line ever carries them.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    RunSummary,
    BlockedEntries,
    ReconciliationMismatch,
    /// Symbols decided without their decision bar (no new risk there).
    StaleData,
    Error,
}

impl AlertKind {
    fn emoji(self) -> &'static str {
        match self {
            AlertKind::RunSummary => ":white_check_mark:",
            AlertKind::BlockedEntries => ":no_entry:",
            AlertKind::ReconciliationMismatch => ":warning:",
            AlertKind::StaleData => ":hourglass:",
            AlertKind::Error => ":rotating_light:",
        }
    }
}

/// One alert: a title and its lines for people, `data` for machines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub strategy: String,
    /// The market day (YYYY-MM-DD).
    pub day: String,
    pub title: String,
    pub lines: Vec<String>,
    pub data: Value,
}

/// Slack's incoming-webhook body: a `text` fallback (notifications) and Block Kit blocks.
pub fn slack_payload(alerts: &[Alert]) -> Value {
    let text = alerts
        .iter()
        .map(|a| a.title.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let mut blocks = Vec::new();
    for a in alerts {
        let mut body = format!("{} *{}*", a.kind.emoji(), escape_slack(&a.title));
        for l in &a.lines {
            body.push_str("\n• ");
            body.push_str(&escape_slack(l));
        }
        // Slack refuses a section text over 3000 characters.
        if body.chars().count() > 2900 {
            body = body.chars().take(2900).collect::<String>() + "\n…";
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": body}}));
    }
    json!({"text": text, "blocks": blocks})
}

/// Slack's control characters in mrkdwn text.
fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The generic webhook's body: every alert with its machine-readable data.
pub fn json_payload(alerts: &[Alert]) -> Value {
    json!({"source": "systrade", "version": 1, "alerts": alerts})
}

/// Why a post failed; never names the URL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PostError {
    #[error("the server answered HTTP {code}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Status { code: u16, body: String },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the URL is not a valid http(s) URL")]
    BadUrl,
    #[error("could not reach the server: {0}")]
    Transport(String),
}

impl PostError {
    /// Worth another try: rate limits, server errors and timeouts.
    pub fn transient(&self) -> bool {
        match self {
            PostError::Status { code, .. } => *code == 429 || *code >= 500,
            PostError::Timeout(_) | PostError::Transport(_) => true,
            PostError::BadUrl => false,
        }
    }
}

/// How to post: a timeout per attempt, and retries of transient failures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Poster {
    pub timeout: Duration,
    pub retries: u32,
    pub pause: Duration,
}

impl Default for Poster {
    fn default() -> Self {
        Poster {
            timeout: Duration::from_secs(10),
            retries: 1,
            pause: Duration::from_millis(500),
        }
    }
}

impl Poster {
    /// Posts `body` as JSON; returns the number of attempts made.
    pub fn post(&self, url: &str, body: &Value) -> Result<u32, PostError> {
        let url = url.trim();
        // A server that echoes the URL (its path is the webhook's token) is masked.
        systrade_core::redact::register_url(url);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PostError::BadUrl);
        }
        let bytes = systrade_core::json::to_canonical_string(body)
            .map_err(|e| PostError::Transport(e.to_string()))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(url, bytes.as_bytes()) {
                Ok(()) => return Ok(attempt),
                Err(e) if e.transient() && attempt <= self.retries => {
                    std::thread::sleep(self.pause * attempt)
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn once(&self, url: &str, body: &[u8]) -> Result<(), PostError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let resp = agent
            .post(url)
            .header("content-type", "application/json")
            .send(body);
        match resp {
            Ok(mut r) => {
                let code = r.status().as_u16();
                if (200..300).contains(&code) {
                    return Ok(());
                }
                let text = r
                    .body_mut()
                    .with_config()
                    .limit(4096)
                    .read_to_string()
                    .unwrap_or_default();
                let body: String = systrade_core::redact::redact(text.trim())
                    .chars()
                    .take(200)
                    .collect();
                Err(PostError::Status { code, body })
            }
            Err(ureq::Error::Timeout(_)) => Err(PostError::Timeout(self.timeout)),
            Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                Err(PostError::Timeout(self.timeout))
            }
            Err(ureq::Error::BadUri(_)) | Err(ureq::Error::Http(_)) => Err(PostError::BadUrl),
            Err(ureq::Error::HostNotFound) => Err(PostError::Transport("host not found".into())),
            Err(ureq::Error::Io(e)) => Err(PostError::Transport(e.kind().to_string())),
            Err(ureq::Error::ConnectionFailed) => {
                Err(PostError::Transport("connection failed".into()))
            }
            Err(ureq::Error::Tls(m)) => Err(PostError::Transport(format!("TLS: {m}"))),
            // Other errors name their cause without the URL (ureq keeps URLs in BadUri).
            Err(e) => Err(PostError::Transport(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: AlertKind, title: &str) -> Alert {
        Alert {
            kind,
            strategy: "trend".into(),
            day: "2020-12-15".into(),
            title: title.into(),
            lines: vec!["a <b> & c".into()],
            data: json!({"n": 1}),
        }
    }

    #[test]
    fn test_slack_payload_has_a_fallback_text_and_escaped_sections() {
        let p = slack_payload(&[
            alert(AlertKind::RunSummary, "trend 2020-12-15: equity 100,610.65"),
            alert(AlertKind::Error, "trend failed"),
        ]);
        assert_eq!(
            p["text"],
            "trend 2020-12-15: equity 100,610.65 | trend failed"
        );
        let t = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(t.contains("a &lt;b&gt; &amp; c"), "{t}");
        assert!(
            p["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .starts_with(":rotating_light:")
        );
        let j = json_payload(&[alert(AlertKind::ReconciliationMismatch, "x")]);
        assert_eq!(j["alerts"][0]["kind"], "reconciliation_mismatch");
        assert_eq!(j["alerts"][0]["data"]["n"], 1);
    }

    #[test]
    fn test_a_bad_url_is_refused_without_echoing_it() {
        let e = Poster::default()
            .post("ftp://secret-token@hooks", &json!({}))
            .unwrap_err();
        assert_eq!(e, PostError::BadUrl);
        assert!(!e.to_string().contains("secret"));
    }
}
