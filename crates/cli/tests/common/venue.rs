//! A local venue (`systrade fake-venue …`) in its own process for a test, killed when
//! dropped, and plain HTTP to it with the venue's own authentication.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// How a request to the venue authenticates: the headers for `method path`.
pub type Auth = Box<dyn Fn(&str, &str) -> Vec<(String, String)>>;

pub struct Venue {
    child: Child,
    pub url: String,
    /// The venue's banner line.
    pub banner: String,
    auth: Auth,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

impl Venue {
    /// `systrade fake-venue <kind> --port 0 --state STATE --session SESSION extra…` with
    /// `env`; returns once it listens.
    pub fn start(
        kind: &str,
        data: &Path,
        state: &Path,
        session: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        auth: Auth,
    ) -> Venue {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
        c.args(["fake-venue", kind, "--port", "0", "--data"])
            .arg(data)
            .arg("--state")
            .arg(state)
            .args(["--session", session])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            c.env(k, v);
        }
        Venue::spawn(c, auth)
    }

    /// Spawns `c` (a `fake-venue` command) and waits for its banner.
    fn spawn(c: Command, auth: Auth) -> Venue {
        let (child, url, banner) = super::spawn_server(c);
        Venue {
            child,
            url,
            banner,
            auth,
        }
    }

    /// `host:port` of the venue.
    pub fn authority(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn get(&self, path: &str) -> Value {
        let bare = path.split('?').next().unwrap_or(path);
        let mut r = agent().get(format!("{}{path}", self.url));
        for (k, v) in (self.auth)("GET", bare) {
            r = r.header(k, v);
        }
        let mut resp = r.call().unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut r = agent()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json");
        for (k, v) in (self.auth)("POST", path) {
            r = r.header(k, v);
        }
        let mut resp = r.send(body.to_string().as_bytes()).unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Moves the venue's clock to `session`.
    pub fn clock(&self, session: &str) {
        let (code, body) = self.post("/fake/clock", &json!({"session": session}));
        assert_eq!(code, 200, "{body}");
    }

    /// Moves the venue's clock past `session`'s open (queued market orders fill at it).
    pub fn clock_open(&self, session: &str) {
        let (code, body) = self.post("/fake/clock", &json!({"session": session, "phase": "open"}));
        assert_eq!(code, 200, "{body}");
    }

    /// Queues failures for the next calls (`op:status|lost|quirk`).
    pub fn faults(&self, list: &[&str]) {
        let (code, body) = self.post("/fake/faults", &json!({"faults": list}));
        assert_eq!(code, 200, "{body}");
    }

    /// Drops the failures still queued.
    pub fn clear_faults(&self) {
        let (code, body) = self.post("/fake/faults", &json!({"faults": [], "clear": true}));
        assert_eq!(code, 200, "{body}");
    }

    /// Requests the venue served.
    pub fn calls(&self) -> u64 {
        self.get("/fake/stats")["calls"].as_u64().unwrap()
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deterministic generator for kill instants (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Every file under `dir`.
pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The backtest's targets rows of `day`, cut to the decision (symbol, sleeve, signal,
/// weight).
pub fn decisions(history: &str, day: &str) -> Vec<String> {
    history
        .lines()
        .skip(1)
        .filter(|l| l.starts_with(&format!("{day},")))
        .map(|l| l.split(',').skip(1).take(4).collect::<Vec<_>>().join(","))
        .collect()
}

/// The run's targets of `day`, cut to the decision.
pub fn day_decisions(targets_csv: &str) -> Vec<String> {
    targets_csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
        .collect()
}

/// The local market-data vendors (`systrade fake-venue data`) on `data` with `extra` flags.
pub fn data_vendor(data: &Path, extra: &[&str]) -> Venue {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("systrade"));
    c.args(["fake-venue", "data", "--port", "0", "--data"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    Venue::spawn(c, Box::new(|_, _| Vec::new()))
}
