//! `systrade fake-venue`: a local venue on 127.0.0.1 until Ctrl-C.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use rust_decimal::Decimal;
use systrade_venues::{alpaca, coinbase, ib};

use crate::args::{AdjustArg, FakeVenueArgs, FakeVenueKind};
use crate::exit::BadInput;

fn adjust(a: Option<AdjustArg>, default: systrade_data::Adjust) -> systrade_data::Adjust {
    match a {
        None => default,
        Some(AdjustArg::None) => systrade_data::Adjust::None,
        Some(AdjustArg::Split) => systrade_data::Adjust::Split,
        Some(AdjustArg::Total) => systrade_data::Adjust::Total,
    }
}

pub fn run(a: &FakeVenueArgs) -> anyhow::Result<()> {
    let var = |n: &str| std::env::var(n).unwrap_or_default();
    let scratch;
    let state: PathBuf = match &a.state {
        Some(p) => p.clone(),
        None => {
            scratch = tempfile::tempdir().context("creating the venue's state folder")?;
            scratch.path().join("venue.sqlite")
        }
    };
    let cash = Decimal::try_from(a.cash)
        .ok()
        .filter(|c| *c >= Decimal::ZERO)
        .ok_or_else(|| BadInput(format!("--cash {}: not a non-negative amount", a.cash)))?;
    let bad = |e: systrade_venues::VenueError| BadInput(e.to_string());
    let (app, banner) = match a.venue {
        FakeVenueKind::Data => {
            let mut o = systrade_venues::market::Options::new(a.data.clone());
            o.now = match &a.now {
                None => None,
                Some(t) => Some(
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map_err(|e| BadInput(format!("--now {t:?}: {e} (expected RFC 3339)")))?
                        .with_timezone(&chrono::Utc),
                ),
            };
            o.news = a.news.clone();
            o.page_limit = a.page_limit;
            if let Some(r) = a.rate_limit {
                o.rate = r;
            }
            let what = systrade_venues::market::summary(&o).map_err(bad)?;
            (
                systrade_venues::market::app(&o).map_err(bad)?,
                format!("market-data vendors listening on http://{{addr}} ({what})"),
            )
        }
        FakeVenueKind::Alpaca => {
            let mut o = alpaca::Options::new(
                a.data.clone(),
                state,
                &var("APCA_API_KEY_ID"),
                &var("APCA_API_SECRET_KEY"),
            );
            o.live = a.live;
            o.engine.session = a.session;
            o.engine.cash = cash;
            o.engine.rate = a.rate_limit.unwrap_or(o.engine.rate);
            o.engine.adjust = adjust(a.adjust, o.engine.adjust);
            let session = alpaca::starting_session(&o).map_err(bad)?;
            let kind = if a.live { "live" } else { "paper" };
            (
                alpaca::app(&o).map_err(bad)?,
                format!(
                    "alpaca venue listening on http://{{addr}} (clock before the open of {session}; {kind} account)"
                ),
            )
        }
        FakeVenueKind::Ib => return ib_gateway(a, state, cash),
        FakeVenueKind::Coinbase => {
            let mut o = coinbase::Options::new(
                a.data.clone(),
                state,
                &var("COINBASE_API_KEY"),
                &var("COINBASE_API_SECRET"),
                &a.quote,
            );
            o.engine.session = a.session;
            o.engine.cash = cash;
            o.engine.rate = a.rate_limit.unwrap_or(o.engine.rate);
            o.engine.adjust = adjust(a.adjust, o.engine.adjust);
            let (session, portfolio) = coinbase::starting(&o).map_err(bad)?;
            (
                coinbase::app(&o).map_err(bad)?,
                format!(
                    "coinbase venue listening on http://{{addr}} (session {session}; portfolio {portfolio})"
                ),
            )
        }
    };
    systrade_venues::serve_blocking(app, a.port, |addr| {
        println!("{}", banner.replace("{addr}", &addr.to_string()));
        let _ = std::io::stdout().flush();
    })
    .map_err(bad)?;
    Ok(())
}

/// The local IB Gateway: the API socket on --port, the clock and faults on --admin-port.
fn ib_gateway(a: &FakeVenueArgs, state: PathBuf, cash: Decimal) -> anyhow::Result<()> {
    let bad = |e: systrade_venues::VenueError| BadInput(e.to_string());
    let mut o = ib::Options::new(a.data.clone(), state);
    if a.live {
        o.account = "U7654321".into();
    }
    o.engine.session = a.session;
    o.engine.cash = cash;
    o.engine.adjust = adjust(a.adjust, o.engine.adjust);
    let bound = ib::bind(&o, a.port).map_err(bad)?;
    let (api, session, kind) = (
        bound.api,
        bound.session,
        if bound.paper { "paper" } else { "live" },
    );
    let admin = bound.admin();
    bound.spawn();
    systrade_venues::serve_blocking(admin, a.admin_port, |addr| {
        println!(
            "ib gateway API on {api} admin http://{addr} (clock before the open of {session}; {kind} account {})",
            o.account
        );
        let _ = std::io::stdout().flush();
    })
    .map_err(bad)?;
    Ok(())
}
