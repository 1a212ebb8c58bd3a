//! The venue a book trades at: the one place that turns `[run] broker` (or `--broker`) into
//! a connected [`Broker`]. Everything else in the daily run, approvals and reconciliation
//! talks to the trait only.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use systrade_broker::{Broker, BrokerError, Faults};
use systrade_config::run::BrokerKind;

use systrade_alpaca::{AlpacaBroker, ConnectError};
use systrade_core::Market;

use crate::bad;
use crate::desk::Desk;

/// Where a book's account lives and how to reach it.
#[derive(Debug, Clone)]
pub struct Venue {
    pub kind: BrokerKind,
    /// The paper account's file (`<home>/paper/<account>.sqlite`).
    paper_file: PathBuf,
}

impl Venue {
    /// The venue of a book trading `account` from `home`.
    pub fn new(kind: BrokerKind, home: &Path, account: &str) -> Venue {
        Venue {
            kind,
            paper_file: home.join(format!("paper/{account}.sqlite")),
        }
    }

    /// The same venue on a copy of its state inside `dir` (a dry run changes nothing real;
    /// a real venue is left as it is — the dry run only previews there).
    pub fn scratch_copy(&self, dir: &Path) -> anyhow::Result<Venue> {
        match self.kind {
            BrokerKind::Alpaca | BrokerKind::Coinbase | BrokerKind::Ib => Ok(self.clone()),
            BrokerKind::Paper => {
                let copy = dir.join("paper.sqlite");
                if self.paper_file.exists() {
                    systrade_broker::paper::snapshot(&self.paper_file, &copy)?;
                }
                Ok(Venue {
                    kind: self.kind,
                    paper_file: copy,
                })
            }
        }
    }

    /// True when the account already exists (a paper account's file; a real venue's
    /// account always does — connecting says whether it may trade).
    pub fn exists(&self) -> bool {
        match self.kind {
            BrokerKind::Paper => self.paper_file.exists(),
            BrokerKind::Alpaca | BrokerKind::Coinbase | BrokerKind::Ib => true,
        }
    }

    /// The session the account's clock is at (`None`: no such account yet). A paper account
    /// keeps its own clock; it never goes back.
    pub fn current_session(&self) -> anyhow::Result<Option<NaiveDate>> {
        match self.kind {
            BrokerKind::Paper => {
                Ok(systrade_broker::paper::stored(&self.paper_file)?.map(|(d, _)| d))
            }
            BrokerKind::Alpaca => {
                let session = AlpacaBroker::session_at(alpaca_endpoint()?).map_err(venue_error)?;
                Ok(Some(session))
            }
            // Crypto trades around the clock: the session is the UTC date.
            BrokerKind::Coinbase => Ok(Some(chrono::Utc::now().date_naive())),
            BrokerKind::Ib => Ok(Some(
                systrade_ib::IbBroker::session_at(ib_connect(chrono::Utc::now().date_naive())?)
                    .map_err(venue_error)?,
            )),
        }
    }

    /// Where the account lives, for messages.
    pub fn location(&self) -> String {
        match self.kind {
            BrokerKind::Paper => self.paper_file.display().to_string(),
            BrokerKind::Alpaca => match alpaca_endpoint() {
                Ok(e) => format!("alpaca at {}", e.base_url),
                Err(_) => "alpaca".into(),
            },
            BrokerKind::Coinbase => "coinbase".into(),
            BrokerKind::Ib => match ib_connect(chrono::Utc::now().date_naive()) {
                Ok(c) => format!("ib at {}:{}", c.host, c.port),
                Err(_) => "ib".into(),
            },
        }
    }

    /// Connects to the book's account with its clock at `session`.
    pub fn connect<'d>(
        &self,
        desk: &'d Desk,
        session: NaiveDate,
        faults: Faults,
    ) -> anyhow::Result<Box<dyn Broker + 'd>> {
        match self.kind {
            BrokerKind::Paper => Ok(systrade_broker::paper::connect_at(
                &self.paper_file,
                desk.paper_config(),
                desk.bars(),
                session,
                faults,
                desk.tape(),
            )?),
            BrokerKind::Alpaca => {
                let c = systrade_alpaca::Connect {
                    endpoint: alpaca_endpoint()?,
                    session,
                    crypto: desk.market() == Market::Crypto,
                    stop_limit_offset: systrade_backtest::dec(desk.run_cfg().stop_limit_offset),
                };
                match AlpacaBroker::connect(c) {
                    Ok(b) => Ok(Box::new(b)),
                    Err(ConnectError::Broker(e)) => Err(venue_error(e)),
                    Err(e @ ConnectError::OtherSession { .. }) => Err(bad(e.to_string())),
                }
            }
            BrokerKind::Coinbase => {
                let endpoint =
                    systrade_coinbase::Endpoint::from_env().map_err(|e| bad(e.to_string()))?;
                let c = systrade_coinbase::Connect {
                    endpoint,
                    session,
                    quote: quote_of(desk)?,
                    portfolio: systrade_broker::venue::env_value("SYSTRADE_COINBASE_PORTFOLIO"),
                    stop_limit_offset: systrade_backtest::dec(desk.run_cfg().stop_limit_offset),
                };
                Ok(Box::new(
                    systrade_coinbase::CoinbaseBroker::connect(c).map_err(venue_error)?,
                ))
            }
            BrokerKind::Ib => {
                if desk.market() != Market::Us {
                    return Err(bad(
                        "ib: systrade trades US stocks and ETFs at Interactive Brokers; this book is not a US book",
                    ));
                }
                Ok(Box::new(
                    systrade_ib::IbBroker::connect(ib_connect(session)?).map_err(ib_refusal)?,
                ))
            }
        }
    }

    /// Connects for orders of `session`; a paper clock already past it means the session is
    /// over and its orders can no longer go out (exit 2, saying what to do). A live account
    /// takes orders only with `live` (`--live`) and SYSTRADE_LIVE_CONFIRM naming it.
    pub fn connect_for_orders<'d>(
        &self,
        desk: &'d Desk,
        session: NaiveDate,
        live: bool,
    ) -> anyhow::Result<Box<dyn Broker + 'd>> {
        let mut broker = match self.connect(desk, session, faults_from_env()?) {
            Ok(b) => b,
            Err(e) => {
                return match e.downcast_ref::<BrokerError>() {
                    Some(BrokerError::Invalid(m)) if m.contains("cannot go back") => {
                        Err(bad(format!(
                            "the orders are for session {session}, which is over ({m}); cancel them, or stage them again for a later session"
                        )))
                    }
                    _ => Err(e),
                };
            }
        };
        if broker.is_live() {
            let id = broker.account()?.id;
            confirm_live(live, &id, broker.kind())?;
        }
        Ok(broker)
    }
}

/// A live account takes orders only with `--live` and SYSTRADE_LIVE_CONFIRM naming it
/// (exit 2 otherwise: nothing was sent).
pub fn confirm_live(live: bool, id: &str, venue: &str) -> anyhow::Result<()> {
    if live && std::env::var("SYSTRADE_LIVE_CONFIRM").is_ok_and(|v| !v.is_empty() && v == id) {
        return Ok(());
    }
    Err(bad(format!(
        "account {id} at {venue} is a live account: orders there need --live and SYSTRADE_LIVE_CONFIRM={id}; nothing was sent"
    )))
}

/// How the daily run reaches a book's broker: the one seam between the engine and the
/// venues. [`Venues`] is the real one (the paper adapter today); a test or a program
/// embedding the engine may bring its own venue behind the same [`Broker`] trait.
pub trait Connector {
    /// The book's account at `venue` with its clock at `session`.
    fn connect<'d>(
        &self,
        venue: &Venue,
        desk: &'d Desk,
        session: NaiveDate,
    ) -> anyhow::Result<Box<dyn Broker + 'd>>;
}

/// The venues systrade ships: `[run] broker` / `--broker`, with the test faults of
/// `SYSTRADE_PAPER_FAULTS`.
pub struct Venues;

impl Connector for Venues {
    fn connect<'d>(
        &self,
        venue: &Venue,
        desk: &'d Desk,
        session: NaiveDate,
    ) -> anyhow::Result<Box<dyn Broker + 'd>> {
        venue.connect(desk, session, faults_from_env()?)
    }
}

/// The quote currency every symbol of the book trades against (`BTCUSDT` → `USDT`).
fn quote_of(desk: &Desk) -> anyhow::Result<String> {
    const QUOTES: [&str; 6] = ["USDT", "USDC", "USD", "EUR", "GBP", "BTC"];
    let symbols: Vec<&systrade_core::Symbol> = desk.bars().keys().collect();
    QUOTES
        .iter()
        .find(|q| {
            !symbols.is_empty()
                && symbols
                    .iter()
                    .all(|s| s.as_str().len() > q.len() && s.as_str().ends_with(*q))
        })
        .map(|q| q.to_string())
        .ok_or_else(|| {
            bad("coinbase: the book's symbols do not share one quote currency (USD, USDT, USDC, EUR, GBP or BTC): give each quote its own book")
        })
}

/// Alpaca's endpoint from the environment; a missing variable is bad input (exit 2, named).
fn alpaca_endpoint() -> anyhow::Result<systrade_alpaca::Endpoint> {
    systrade_alpaca::Endpoint::from_env().map_err(|e| bad(e.to_string()))
}

/// TWS's address and client id from the environment; a malformed variable is bad input.
fn ib_connect(session: NaiveDate) -> anyhow::Result<systrade_ib::Connect> {
    systrade_ib::Connect::from_env(session).map_err(|e| bad(e.to_string()))
}

/// IB's refusals before any order (another session, an unknown account) are bad input.
fn ib_refusal(e: BrokerError) -> anyhow::Error {
    match e {
        BrokerError::Invalid(m) => bad(format!("ib: {m}")),
        e => venue_error(e),
    }
}

/// A venue's refusal of the credentials is bad input (exit 2, naming the variables); the
/// rest stays a broker error.
fn venue_error(e: BrokerError) -> anyhow::Error {
    match e {
        BrokerError::Credentials(m) => bad(m),
        e => e.into(),
    }
}

/// Broker faults to inject (`SYSTRADE_PAPER_FAULTS`, tests only).
pub fn faults_from_env() -> anyhow::Result<Faults> {
    Ok(match std::env::var("SYSTRADE_PAPER_FAULTS") {
        Ok(t) if !t.trim().is_empty() => t
            .parse()
            .map_err(|e: String| bad(format!("SYSTRADE_PAPER_FAULTS: {e}")))?,
        _ => Faults::none(),
    })
}
