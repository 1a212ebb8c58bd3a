//! The daily run's settings in a strategy config: `[run]`, `[safety]` and `[decisions]`.

use serde::Deserialize;
use systrade_core::vocab::Approval;

/// The venues a book can trade at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    /// The simulated account persisted under the home (`paper/<account>.sqlite`).
    #[default]
    Paper,
    /// Alpaca trading v2 (paper or live host: `APCA_API_BASE_URL`), credentials from
    /// `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`.
    Alpaca,
    /// Coinbase Advanced Trade (spot; always live): `COINBASE_API_KEY`,
    /// `COINBASE_API_SECRET`, `SYSTRADE_COINBASE_BASE_URL`, `SYSTRADE_COINBASE_PORTFOLIO`.
    Coinbase,
    /// Interactive Brokers through TWS / IB Gateway: `SYSTRADE_IB_HOST`, `SYSTRADE_IB_PORT`,
    /// `SYSTRADE_IB_CLIENT_ID`, `SYSTRADE_IB_ACCOUNT`.
    Ib,
}

impl BrokerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerKind::Paper => "paper",
            BrokerKind::Alpaca => "alpaca",
            BrokerKind::Coinbase => "coinbase",
            BrokerKind::Ib => "ib",
        }
    }
}

/// `[run]`: the account and the run's plumbing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// The strategy's name in the ledger, run folders and order ids (default: the config
    /// file's stem).
    pub name: Option<String>,
    /// The venue the book trades at (`--broker` overrides it).
    pub broker: BrokerKind,
    /// The broker account id (the paper account's file is `paper/<account>.sqlite`).
    pub account: String,
    /// Cash of a new paper account (default: `backtest.cash`).
    pub paper_cash: Option<f64>,
    /// Kill switch file, relative to `--home` (its presence blocks new entries and adds).
    pub kill_switch_file: String,
    /// Broker calls that fail with 429/5xx/timeouts are retried this many times…
    pub max_retries: u32,
    /// …after pauses of this many milliseconds, doubling each time.
    pub retry_base_ms: u64,
    /// A generic JSON webhook's URL is read from this environment variable (never from a
    /// file); unset or empty: no webhook.
    pub notify_webhook_env: String,
    /// A Slack incoming webhook's URL is read from this environment variable; unset or
    /// empty: no Slack alert.
    pub notify_slack_env: String,
    /// Seconds to wait for a webhook's answer…
    pub notify_timeout_secs: f64,
    /// …and how many more tries a 429, 5xx or timeout gets.
    pub notify_retries: u32,
    /// Mail the newsletter after the run when SYSTRADE_SMTP_HOST is set.
    pub newsletter: bool,
    /// Where a venue has no stop-market order (Coinbase spot), a protective stop is a
    /// stop-limit whose limit sits this fraction beyond the stop (0.02: 2% below a sell
    /// stop). Wider fills more surely in a fast fall; narrower gives up less.
    pub stop_limit_offset: f64,
    /// The daily cash check: a difference between the broker's cash and the ledger's (its
    /// anchor moved by every booked fill) above this many currency units is a mismatch that
    /// blocks new risk until `systrade reconcile --ack-cash`.
    pub cash_tolerance: f64,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            name: None,
            broker: BrokerKind::Paper,
            account: "paper".into(),
            paper_cash: None,
            kill_switch_file: "KILL".into(),
            max_retries: 3,
            retry_base_ms: 500,
            notify_webhook_env: "SYSTRADE_WEBHOOK_URL".into(),
            notify_slack_env: "SYSTRADE_SLACK_WEBHOOK_URL".into(),
            notify_timeout_secs: 10.0,
            notify_retries: 1,
            newsletter: true,
            stop_limit_offset: 0.02,
            cash_tolerance: 0.01,
        }
    }
}

/// `[decisions]`: whether the portfolio decisions are enforced or only recorded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionsSection {
    /// `enforced` (default): BLOCK stops an entry, and a missing, invalid or other-date
    /// decisions file blocks every entry. `shadow`: decisions are written and logged; only
    /// the hard gates (kill switch, live confirmation, enable date, data, reconciliation)
    /// block.
    pub mode: String,
    /// Read the decisions from this file instead of the run's own (`{date}` is replaced by
    /// the market day); relative to the config file.
    pub file: Option<String>,
}

impl Default for DecisionsSection {
    fn default() -> Self {
        DecisionsSection {
            mode: "enforced".into(),
            file: None,
        }
    }
}

impl DecisionsSection {
    pub fn enforced(&self) -> bool {
        self.mode == "enforced"
    }

    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.mode.as_str(), "enforced" | "shadow") {
            return Err(format!(
                "decisions.mode: expected \"enforced\" or \"shadow\", got {:?}",
                self.mode
            ));
        }
        Ok(())
    }
}

impl RunSection {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(n) = &self.name
            && (n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        {
            return Err(format!(
                "run.name: use letters, digits, '_' and '-' only (got {n:?})"
            ));
        }
        if self.account.is_empty()
            || !self
                .account
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "run.account: use letters, digits, '_' and '-' only (got {:?})",
                self.account
            ));
        }
        if let Some(c) = self.paper_cash
            && !(c.is_finite() && c > 0.0)
        {
            return Err(format!("run.paper_cash: must be positive (got {c})"));
        }
        if !(self.stop_limit_offset.is_finite()
            && self.stop_limit_offset > 0.0
            && self.stop_limit_offset < 0.5)
        {
            return Err(format!(
                "run.stop_limit_offset: a fraction above 0 and below 0.5 (got {})",
                self.stop_limit_offset
            ));
        }
        if !(self.cash_tolerance.is_finite() && self.cash_tolerance >= 0.0) {
            return Err(format!(
                "run.cash_tolerance: a non-negative amount of money (got {})",
                self.cash_tolerance
            ));
        }
        if self.max_retries > 10 {
            return Err(format!(
                "run.max_retries: at most 10 (got {})",
                self.max_retries
            ));
        }
        if !(self.notify_timeout_secs.is_finite()
            && self.notify_timeout_secs > 0.0
            && self.notify_timeout_secs <= 120.0)
        {
            return Err(format!(
                "run.notify_timeout_secs: between 0 and 120 seconds (got {})",
                self.notify_timeout_secs
            ));
        }
        if self.notify_retries > 5 {
            return Err(format!(
                "run.notify_retries: at most 5 (got {})",
                self.notify_retries
            ));
        }
        for (key, v) in [
            ("run.notify_webhook_env", &self.notify_webhook_env),
            ("run.notify_slack_env", &self.notify_slack_env),
        ] {
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "{key}: the name of an environment variable (letters, digits, '_'), not the URL itself (got {} characters)",
                    v.chars().count()
                ));
            }
        }
        Ok(())
    }
}

/// How orders reach the broker (spec/execution-and-buckets.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecLevel {
    /// Orders are written (`orders_YYYY-MM-DD.csv`) and recorded, never sent.
    Manual,
    /// Orders above `approve_above` wait in the ledger until `systrade approve`.
    SemiAuto,
    /// The daily run submits within its gates.
    Auto,
}

/// `[execution]`: the execution level and its approval threshold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionSection {
    /// `auto` (default for strategies), `semi-auto` or `manual`.
    pub level: String,
    /// An order whose notional (qty × the last close) is above this waits for `systrade
    /// approve`, at every level: semi-auto sends smaller ones at once (0, the default: every
    /// order waits); auto sends the rest (0: none waits). Protective stops never wait.
    pub approve_above: f64,
    /// Work each order of at least `twap_above` notional as this many limit slices across
    /// `twap_minutes` (0: off; sheet books only). Each slice is priced from the last
    /// one-minute bar of `twap_bars`, its unfilled rest canceled when the next is due.
    pub twap_slices: u32,
    /// The TWAP window's length in minutes.
    pub twap_minutes: u32,
    /// When the window starts, market-local `HH:MM` (default: the session's open).
    pub twap_start: Option<String>,
    /// Orders below this notional go out whole at the daily run (0: every order is worked).
    pub twap_above: f64,
    /// A folder of one-minute bar files (one per symbol): the slices' prices, and the tape
    /// the paper broker fills them on.
    pub twap_bars: Option<std::path::PathBuf>,
    /// The paper broker fills a slice at most this share of each one-minute bar's volume.
    pub twap_volume_share: f64,
    /// A slice is priced `twap_offset` (a fraction) through the last bar's close: above it
    /// for a buy, below for a sell (0: at the close).
    pub twap_offset: f64,
}

impl Default for ExecutionSection {
    fn default() -> Self {
        ExecutionSection {
            level: "auto".into(),
            approve_above: 0.0,
            twap_slices: 0,
            twap_minutes: 30,
            twap_start: None,
            twap_above: 0.0,
            twap_bars: None,
            twap_volume_share: 0.1,
            twap_offset: 0.0,
        }
    }
}

/// How a book works its large orders as TWAP slices (`[execution] twap_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct Twap {
    pub slices: u32,
    pub minutes: u32,
    /// Market-local start (`None`: the open).
    pub start: Option<chrono::NaiveTime>,
    pub above: f64,
    pub bars: std::path::PathBuf,
    pub volume_share: f64,
    pub offset: f64,
}

impl ExecutionSection {
    pub fn level(&self) -> ExecLevel {
        match self.level.as_str() {
            "manual" => ExecLevel::Manual,
            "semi-auto" => ExecLevel::SemiAuto,
            _ => ExecLevel::Auto,
        }
    }

    /// Why an order of this notional is held back (`None`: it goes to the broker now).
    pub fn hold(&self, notional: f64) -> Option<Approval> {
        match self.level() {
            ExecLevel::Manual => Some(Approval::Manual),
            ExecLevel::SemiAuto if notional > self.approve_above => Some(Approval::Pending),
            ExecLevel::Auto if self.approve_above > 0.0 && notional > self.approve_above => {
                Some(Approval::Pending)
            }
            _ => None,
        }
    }

    /// The TWAP settings when `twap_slices` is on; `twap_bars` resolved against the config
    /// file's folder.
    pub fn twap(&self, config_path: &std::path::Path) -> Option<Twap> {
        if self.twap_slices == 0 {
            return None;
        }
        Some(Twap {
            slices: self.twap_slices,
            minutes: self.twap_minutes,
            start: self
                .twap_start
                .as_deref()
                .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok()),
            above: self.twap_above,
            bars: super::resolve(config_path, self.twap_bars.as_deref()?),
            volume_share: self.twap_volume_share,
            offset: self.twap_offset,
        })
    }

    /// [`ExecutionSection::validate`] for a book that may work orders as TWAP slices.
    pub fn validate_with_twap(&self) -> Result<(), String> {
        self.validate_level()?;
        if self.twap_slices == 0 {
            return Ok(());
        }
        if !(2..=100).contains(&self.twap_slices) {
            return Err(format!(
                "execution.twap_slices: 2 to 100 slices, or 0 for no TWAP (got {})",
                self.twap_slices
            ));
        }
        if self.twap_minutes < self.twap_slices || self.twap_minutes > 390 {
            return Err(format!(
                "execution.twap_minutes: at least one minute per slice ({} slices) and at most a session (390); got {}",
                self.twap_slices, self.twap_minutes
            ));
        }
        if let Some(t) = &self.twap_start
            && chrono::NaiveTime::parse_from_str(t, "%H:%M").is_err()
        {
            return Err(format!(
                "execution.twap_start: expected a market-local time HH:MM like \"09:35\" (got {t:?})"
            ));
        }
        if self.twap_bars.is_none() {
            return Err("execution.twap_bars: TWAP slices are priced from one-minute bars: name the folder of one-minute bar files (one per symbol)".into());
        }
        if !(self.twap_above.is_finite() && self.twap_above >= 0.0) {
            return Err(format!(
                "execution.twap_above: must be a non-negative notional (got {})",
                self.twap_above
            ));
        }
        if !(self.twap_volume_share > 0.0 && self.twap_volume_share <= 1.0) {
            return Err(format!(
                "execution.twap_volume_share: a share of each minute's volume in (0, 1] (got {})",
                self.twap_volume_share
            ));
        }
        if !(self.twap_offset.is_finite() && (0.0..0.1).contains(&self.twap_offset)) {
            return Err(format!(
                "execution.twap_offset: a fraction in [0, 0.1) through the last close (got {})",
                self.twap_offset
            ));
        }
        Ok(())
    }

    /// Checks the level and the approval threshold; TWAP settings are refused (they are for
    /// sheet books, see [`ExecutionSection::validate_with_twap`]).
    pub fn validate(&self) -> Result<(), String> {
        self.validate_level()?;
        let d = ExecutionSection::default();
        if self.twap_slices != 0
            || self.twap_minutes != d.twap_minutes
            || self.twap_start.is_some()
            || self.twap_above != d.twap_above
            || self.twap_bars.is_some()
            || self.twap_volume_share != d.twap_volume_share
            || self.twap_offset != d.twap_offset
        {
            return Err("execution.twap_*: TWAP slices work a sheet book's orders (strategy = \"sheet\"); this strategy sends its orders whole".into());
        }
        Ok(())
    }

    fn validate_level(&self) -> Result<(), String> {
        if !matches!(self.level.as_str(), "manual" | "semi-auto" | "auto") {
            return Err(format!(
                "execution.level: expected \"manual\", \"semi-auto\" or \"auto\", got {:?}",
                self.level
            ));
        }
        if !(self.approve_above.is_finite() && self.approve_above >= 0.0) {
            return Err(format!(
                "execution.approve_above: must be a non-negative notional (got {})",
                self.approve_above
            ));
        }
        Ok(())
    }
}
