//! A `systrade serve` child process and plain HTTP against it (the dashboard's tests).

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// A dashboard child process; killed when dropped.
pub struct Dash {
    pub child: Child,
    pub url: String,
}

impl Drop for Dash {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(home: &Path, extra: &[&str], env: &[(&str, &str)]) -> Dash {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    c.env_remove("SYSTRADE_DASHBOARD_TOKEN")
        .env_remove("SYSTRADE_KILL_SWITCH")
        .arg("--home")
        .arg(home)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        c.env(k, v);
    }
    let (child, url, _) = super::spawn_server(c);
    Dash { child, url }
}

pub fn get(url: &str) -> (u16, String, Vec<(String, String)>) {
    let mut r = agent().get(url).call().unwrap();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap(),
        headers,
    )
}

/// The page's CSRF token (from its first form).
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|x| x.split('"').next())
        .unwrap()
        .to_string()
}
