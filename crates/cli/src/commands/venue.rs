//! `systrade fake-venue`: a local venue on 127.0.0.1 until Ctrl-C.

use std::io::Write;

use anyhow::Context;
use systrade_venues::alpaca;

use crate::args::{AdjustArg, FakeVenueArgs, FakeVenueKind};
use crate::exit::BadInput;

pub fn run(a: &FakeVenueArgs) -> anyhow::Result<()> {
    let FakeVenueKind::Alpaca = a.venue;
    let var = |n: &str| std::env::var(n).unwrap_or_default();
    let scratch;
    let state = match &a.state {
        Some(p) => p.clone(),
        None => {
            scratch = tempfile::tempdir().context("creating the venue's state folder")?;
            scratch.path().join("alpaca.sqlite")
        }
    };
    let cash = rust_decimal::Decimal::try_from(a.cash)
        .ok()
        .filter(|c| *c >= rust_decimal::Decimal::ZERO)
        .ok_or_else(|| BadInput(format!("--cash {}: not a non-negative amount", a.cash)))?;
    let mut opts = alpaca::Options::new(
        a.data.clone(),
        state,
        &var("APCA_API_KEY_ID"),
        &var("APCA_API_SECRET_KEY"),
    );
    opts.live = a.live;
    opts.engine.session = a.session;
    opts.engine.cash = cash;
    opts.engine.rate = a.rate_limit;
    opts.engine.adjust = match a.adjust {
        AdjustArg::None => systrade_data::Adjust::None,
        AdjustArg::Split => systrade_data::Adjust::Split,
        AdjustArg::Total => systrade_data::Adjust::Total,
    };
    let session = alpaca::starting_session(&opts).map_err(|e| BadInput(e.to_string()))?;
    let app = alpaca::app(&opts).map_err(|e| BadInput(e.to_string()))?;
    systrade_venues::serve_blocking(app, a.port, |addr| {
        println!("alpaca venue listening on http://{addr} (clock before the open of {session}; {} account)",
            if a.live { "live" } else { "paper" });
        let _ = std::io::stdout().flush();
    })
    .map_err(|e| BadInput(e.to_string()))?;
    Ok(())
}
