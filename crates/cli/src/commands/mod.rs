//! Wiring of each command to the library crates.

mod avwap;
mod backtest;
mod daily;
mod data;
mod demo;
mod feed;
mod fetch;
mod indicators;
mod metrics;
mod momentum;
mod newsletter;
mod orders;
mod plan;
mod portfolio;
mod rotation;
mod sheet;
mod sweep;
mod trades;
mod trend;
mod venue;
mod walkforward;

use std::io::IsTerminal;

use systrade_core::Market;
use systrade_data::layout::RateUnit;
use systrade_data::{Adjust, BadRowPolicy, ParseOptions, PriceFormat};

use crate::args::{
    AdjustArg, Cli, Command, DataCommand, FormatArg, MarketArg, MarketChoice, PolicyArg,
    RateUnitArg, ReadArgs,
};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(&a),
        Command::Data(DataCommand::Import(a)) => data::import(&a),
        Command::Data(DataCommand::Inspect(a)) => data::inspect(&a),
        Command::Data(DataCommand::Synth(a)) => data::synth(&a),
        Command::Data(DataCommand::Fetch(a)) => fetch::run(&a),
        Command::Indicators(a) => indicators::run(&a),
        Command::Metrics(a) => metrics::run(&a),
        Command::Backtest(a) => backtest::run(&a),
        Command::Sweep(a) => sweep::run(&a),
        Command::Merge(a) => sweep::merge(&a),
        Command::Walkforward(a) => walkforward::run(&a),
        Command::Plan(a) => plan::run(&a),
        Command::Scan(a) => avwap::scan(&a),
        Command::Run(a) => daily::run(&cli.home, &a),
        Command::Reconcile(a) => daily::reconcile(&cli.home, &a),
        Command::Sheet(a) => sheet::run(&a),
        Command::Trades(c) => trades::run(&cli.home, &c),
        Command::Approve(a) => orders::approve(&cli.home, &a),
        Command::Protect(a) => orders::protect(&cli.home, &a),
        Command::Orders(c) => orders::orders(&cli.home, &c),
        Command::Portfolio(a) => portfolio::run(&cli.home, &a),
        Command::Newsletter(a) => newsletter::run(&cli.home, &a),
        Command::FakeVenue(a) => venue::run(&a),
        Command::Serve(a) => serve(&cli.home, &a),
    }
}

/// `systrade serve`: the dashboard of the home until Ctrl-C.
fn serve(home: &std::path::Path, a: &crate::args::ServeArgs) -> anyhow::Result<()> {
    let token = std::env::var("SYSTRADE_DASHBOARD_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let opts = systrade_dashboard::Options {
        home: home.to_path_buf(),
        bind: a.bind,
        allow_actions: a.allow_actions,
        token,
        configs: a.config.clone(),
        prices: systrade_dashboard::marks::Prices {
            data: a.data.clone(),
            benchmark: match a.benchmark.trim() {
                "" | "none" => None,
                b => Some(
                    systrade_core::Symbol::new(b)
                        .map_err(|e| crate::exit::BadInput(format!("--benchmark {b}: {e}")))?,
                ),
            },
            parse: a.read.parse_options(),
        },
        backtests: a.backtests.clone(),
    };
    let actions = a.allow_actions;
    systrade_dashboard::serve_blocking(opts, |addr| {
        use std::io::Write;
        println!(
            "serving {} on http://{addr} ({}); Ctrl-C stops it",
            home.display(),
            if actions {
                "actions allowed"
            } else {
                "read-only"
            }
        );
        let _ = std::io::stdout().flush();
    })
    .map_err(|e| match e {
        systrade_dashboard::DashboardError::Refused(m) => crate::exit::BadInput(m).into(),
        other => anyhow::Error::from(other),
    })
}

impl ReadArgs {
    /// The read options for the libraries: these flags, and whether `--adjust` was given.
    pub fn options(&self) -> systrade_config::ReadOptions {
        systrade_config::ReadOptions {
            parse: self.parse_options(),
            adjust_given: self.adjust.is_some(),
        }
    }

    /// The library's parse options for these flags.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            format: match self.format {
                FormatArg::Auto => None,
                FormatArg::Yahoo => Some(PriceFormat::Yahoo),
                FormatArg::YahooB3 => Some(PriceFormat::YahooB3),
                FormatArg::Alphavantage => Some(PriceFormat::Alphavantage),
                FormatArg::Binance => Some(PriceFormat::Binance),
                FormatArg::Generic => Some(PriceFormat::Generic),
            },
            market: match self.market {
                MarketArg::Auto => None,
                MarketArg::Us => Some(Market::Us),
                MarketArg::B3 => Some(Market::B3),
                MarketArg::Crypto => Some(Market::Crypto),
            },
            adjust: match self.adjust {
                Some(AdjustArg::None) => Adjust::None,
                Some(AdjustArg::Split) | None => Adjust::Split,
                Some(AdjustArg::Total) => Adjust::Total,
            },
            on_bad_row: match self.on_bad_row {
                PolicyArg::Fail => BadRowPolicy::Fail,
                PolicyArg::Skip => BadRowPolicy::Skip,
                PolicyArg::Flag => BadRowPolicy::Flag,
                PolicyArg::Keep => BadRowPolicy::Keep,
            },
            trust_last_candle: self.trust_last_candle,
            last_candle_open: false,
            name: None,
            rate_unit: None,
        }
    }
}

impl crate::args::MomentumArgs {
    /// The momentum flags as the library's overrides.
    pub fn overrides(&self) -> systrade_systems::momentum::MomentumOverrides {
        systrade_systems::momentum::MomentumOverrides {
            db: self.db.clone(),
            cdi: self.cdi.clone(),
            cohorts: self.cohorts,
            beta_overlay: self.beta_overlay,
            book: self.book.map(|b| match b {
                crate::args::BookArg::Ls => systrade_pipeline::momentum::BookKind::Ls,
                crate::args::BookArg::D10 => systrade_pipeline::momentum::BookKind::D10,
            }),
        }
    }
}

impl crate::args::FillArg {
    /// The engine's fill timing for this flag.
    pub fn fill_at(self) -> systrade_backtest::FillAt {
        match self {
            crate::args::FillArg::Open => systrade_backtest::FillAt::NextOpen,
            crate::args::FillArg::Close => systrade_backtest::FillAt::SameClose,
            crate::args::FillArg::Vwap => systrade_backtest::FillAt::NextVwap,
        }
    }
}

impl crate::args::RunArgs {
    /// The engine config these flags describe, for a market with `periods_per_year`.
    pub fn config(&self, periods_per_year: f64) -> systrade_backtest::BacktestConfig {
        systrade_backtest::BacktestConfig {
            cash: self.cash.unwrap_or(100_000.0),
            fill: self.fill.unwrap_or(crate::args::FillArg::Open).fill_at(),
            costs: systrade_backtest::CostModel {
                fee_bps: self.fees_bps.unwrap_or(0.0),
                ..systrade_backtest::CostModel::default()
            },
            periods_per_year,
            ..systrade_backtest::BacktestConfig::default()
        }
    }

    /// `--data`, which the built-in strategies need.
    pub fn data(&self) -> anyhow::Result<&std::path::Path> {
        self.data
            .as_deref()
            .ok_or_else(|| crate::exit::BadInput("--data is needed without --config".into()).into())
    }

    /// A config's fills, fees and cash are its own: these flags are refused with one.
    pub fn refuse_engine_flags(&self) -> anyhow::Result<()> {
        for (given, flag, key) in [
            (self.fill.is_some(), "--fill", "its strategy's fill rule"),
            (
                self.fees_bps.is_some(),
                "--fees-bps",
                "its fee keys (or a grid over them)",
            ),
            (self.cash.is_some(), "--cash", "backtest.cash"),
        ] {
            if given {
                return Err(crate::exit::BadInput(format!(
                    "{flag} does not apply with --config: the config sets {key}"
                ))
                .into());
            }
        }
        Ok(())
    }
}

impl MarketChoice {
    pub fn market(self) -> Market {
        match self {
            MarketChoice::Us => Market::Us,
            MarketChoice::B3 => Market::B3,
            MarketChoice::Crypto => Market::Crypto,
        }
    }
}

impl RateUnitArg {
    pub fn unit(self) -> RateUnit {
        match self {
            RateUnitArg::PctPerDay => RateUnit::PctPerDay,
            RateUnitArg::PctPerYear => RateUnit::PctPerYear,
            RateUnitArg::PctPerMonth => RateUnit::PctPerMonth,
        }
    }
}

/// A progress bar on stderr when it is a terminal; hidden when piped.
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    let style =
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    pb.set_style(style);
    pb.set_message(what.to_string());
    pb
}
