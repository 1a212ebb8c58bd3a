//! The command line (DESIGN §9).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// systrade — systematic trading for daily strategies: market data through signals, portfolio
/// construction and risk gates to trade-ready orders, with an auditable ledger and backtests
/// that run the very same code over history.
#[derive(Debug, Parser)]
#[command(name = "systrade", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  systrade demo      # built-in synthetic data -> ./systrade-demo\n  \
systrade data import --from ../shared/data --db market.db\n  \
systrade data inspect --db market.db\n\n\
Exit codes: 0 success, 1 error, 2 bad usage or bad input."
)]
pub struct Cli {
    /// Where the ledger, paper-broker state, done flags, locks and run folders live.
    #[arg(
        long,
        global = true,
        env = "SYSTRADE_HOME",
        default_value = "./systrade-home"
    )]
    pub home: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline on a built-in synthetic market, writing everything to --out.
    #[command(after_help = "Example:\n  systrade demo\n  systrade demo --out /tmp/demo")]
    Demo(DemoArgs),
    /// Import, inspect and generate market data.
    #[command(subcommand)]
    Data(DataCommand),
    /// Compute indicators of one symbol (TA-Lib conventions) as a CSV: date + one column each.
    ///
    /// Known: sma, ema, wilder, atr, donchian_high, donchian_low, stdev, rolling_vol, rsi,
    /// linreg_r2, pivot_high, pivot_low (each `name:window`), true_range, simple_return,
    /// log_return (no parameter) and avwap:YYYY-MM-DD (anchored at that date). Cells are empty
    /// during warm-up; numbers are the shortest text that reads back to the same double.
    #[command(
        after_help = "Examples:\n  systrade indicators --data ../shared/data/us_etf_daily_yahoo --symbol SPY --ind sma:20,ema:20,atr:14,rsi:14\n  \
systrade indicators --data market.db --symbol AAPL --ind donchian_high:20,linreg_r2:30 --adjust none --out aapl.csv"
    )]
    Indicators(IndicatorsArgs),
    /// Performance metrics of a return series or an equity curve, as JSON (empyrical
    /// conventions; key names as in the metrics fixtures, plus `_last1000` over the last 1000
    /// returns). Undefined ratios (no variance, no drawdown) are null.
    #[command(
        after_help = "Examples:\n  systrade metrics --returns strategy_returns.csv --column ret\n  \
systrade metrics --equity timeseries.csv --column equity --periods 365"
    )]
    Metrics(MetricsArgs),
    /// Backtest a strategy: the daily step applied date after date with a simulated broker.
    ///
    /// Decisions are made after each bar's close from bars up to that close; orders fill at the
    /// next bar's open (default) or the same close. Cash and positions are exact decimals.
    /// Writes timeseries.csv, trades.csv, orders.csv, fills.csv, decisions.jsonl and
    /// summary.json to --out; the same inputs give byte-identical files.
    #[command(
        after_help = "Examples:\n  systrade backtest --strategy sma-cross --symbol SPY --fast 10 --slow 30 --fees-bps 10 \\\n      --data ../shared/data/us_etf_daily_yahoo --out runs/spy\n  \
systrade backtest --strategy sma-cross --symbol AAPL --fast 20 --slow 100 --adjust none --fill close \\\n      --data market.db --out runs/aapl\n  \
systrade backtest --config configs/trend_crypto.toml --out runs/trend"
    )]
    Backtest(BacktestArgs),
    /// Backtest a parameter grid in parallel: sma-cross over one or more symbols, or any
    /// numeric key of a strategy config (trend, momentum, avwap) over its own universe.
    ///
    /// Writes sweep.csv (one row per backtest), sensitivity.csv (each point's --metric next
    /// to its grid neighbours'; a local maximum whose neighbours keep less than half of its
    /// lead over the median point is flagged sharp_peak — a result that will not survive),
    /// marginals.csv (per parameter value, the spread of --metric) and heatmap.svg (the first
    /// two grid keys; the best over any other key; sharp peaks outlined).
    #[command(
        after_help = "Examples:\n  systrade sweep --config configs/trend_crypto.toml --grid 'signal.donchian_window=20..60:10,sizing.target_vol=0.15..0.35:0.05' --out runs/sw\n  \
systrade sweep --config configs/momentum_br.toml --grid 'momentum.cohorts=1..6:1' --search random:4 --seed 7 --out runs/sw\n  \
systrade sweep --strategy sma-cross --symbols all --grid 'fast=5..50:5,slow=20..200:20' \\\n      --fees-bps 10 --adjust none --on-bad-row keep --data ../shared/data/sp500_daily_alphavantage/daily --out runs/w2  (W2 of ../shared/peers)"
    )]
    Sweep(SweepArgs),
    /// Puts the parts of a sharded sweep or walk-forward (`… --shard I/N`, one process or
    /// cluster task each) back together: the same files (sweep.csv, sensitivity.csv,
    /// marginals.csv and heatmap.svg; walkforward.csv, oos_timeseries.csv, walkforward.json
    /// and the tear sheet), byte for byte, as one process running the whole grid writes.
    /// Refuses parts of another run, a part given twice and missing parts, naming them.
    #[command(after_help = "Examples:
  for i in 0 1 2 3; do systrade sweep --config configs/trend_crypto.toml --grid 'signal.donchian_window=20..60:10' --shard $i/4 --out runs/parts; done
  systrade merge runs/parts --out runs/sweep
  for i in 0 1 2; do systrade walkforward --config configs/trend_crypto.toml --grid 'signal.donchian_window=20..60:20' --train 2y --test 1y --shard $i/3 --out runs/wf-parts; done
  systrade merge runs/wf-parts --out runs/wf")]
    Merge(MergeArgs),
    /// Walk-forward: optimise the grid on each train window by --metric, evaluate the winner
    /// on the next test window (rolling, or --anchored), stitch the out-of-sample returns and
    /// report in- vs out-of-sample degradation. Writes walkforward.csv, oos_timeseries.csv and
    /// walkforward.json. Works on sma-cross (one symbol) and on any strategy config's
    /// numeric keys (each window's test run starts from the config's cash, its indicators
    /// fed by the data before the window).
    #[command(
        after_help = "Examples:\n  systrade walkforward --config configs/trend_crypto.toml --grid 'signal.donchian_window=20..60:20' --train 2y --test 1y --out runs/wf\n  systrade walkforward --strategy sma-cross --symbol SPY --grid 'fast=5..30:5,slow=40..200:40' \\\n      --train 5y --test 1y --fees-bps 10 --data ../shared/data/us_etf_daily_yahoo --out runs/wf"
    )]
    Walkforward(WalkforwardArgs),
    /// Plan one session: the strategy's daily step on bars before --as-of, writing the
    /// targets (targets_D.csv), trade-ready orders with their protective stops
    /// (orders_D.csv), the per-ticker snapshot table (snapshot_D.csv), the desired-trades log
    /// (logs/desired_trades.jsonl) and plan_D.json. Nothing is sent anywhere.
    ///
    /// The targets equal those a backtest of the same config computes for that session, its
    /// [safety] limits applied (an order they hold back is named). A rotation config (bucket
    /// A) plans the month's rebalance when the session trades one (at the open after the
    /// deciding close, or provisional for a market-on-close fill) and says when the next one
    /// is otherwise. A portfolio plans every bucket with its capital and limits into
    /// OUT/<bucket>/, with portfolio_plan_D.json beside them: a momentum bucket the formation
    /// the session trades on its replayed book (else the next formation's date), an AVWAP
    /// bucket the scan's entries with their stops. A feed config
    /// (buckets C and D) plans the session's exits and the entries its alerts ask for, with
    /// their stops (alerts_D.csv: each alert's verdict).
    #[command(
        after_help = "Examples:\n  systrade plan --config configs/trend_crypto.toml --as-of 2022-06-01 --out runs/plan\n  \
systrade plan --config configs/trend_crypto.toml --as-of 2022-06-01 --positions book.csv --capital 125000 --out runs/plan\n  \
systrade plan --config configs/bucket_a.toml --as-of 2024-06-04 --out runs/plan_a\n  \
systrade plan --config configs/portfolio.toml --as-of 2024-06-04 --out runs/plan_portfolio"
    )]
    Plan(PlanArgs),
    /// The anchored-VWAP daily scan (spec/avwap.md §1–2) after the close of --as-of: every
    /// symbol of the config's universe checked for the trend (close > SMA50 > SMA200), the
    /// reclaim (today's close above the AVWAP from the anchor, yesterday's at or below it),
    /// liquidity and price. Writes candidates_D.csv (by score: the distance above the AVWAP
    /// in ATRs, smaller first; then symbol) and scan_D.csv (every symbol with the conditions
    /// it failed). Data whose latest session is older than the last New York session on or
    /// before --as-of is refused (stale_watchlist, exit 3).
    #[command(
        after_help = "Example:\n  systrade scan --config configs/avwap_us.toml --as-of 2021-04-20 --out runs/scan"
    )]
    Scan(ScanArgs),
    /// The daily run: one decision cycle of each config's strategy against a broker account,
    /// in the 14 steps of spec/daily-run.md §2 — connect and validate the account, decide on
    /// bars through T-1 (exactly the backtest's step), gate new entries (ALLOW/BLOCK with
    /// reason codes; exits and stops never blocked), build orders with stable client order
    /// ids, cancel stops before sells, submit, close dust, refresh positions, clean up and
    /// trail protective stops, reconcile broker vs ledger, write the day's artifacts and the
    /// done flag, then notify. Trend configs decide with the trend step and protect every
    /// position with a stop; momentum configs trade the cohort backtest's books after each
    /// month-end formation and its volatility-targeting scale on other sessions (long and
    /// short, on a margin paper account); rotation configs (bucket A) trade the month decided
    /// on the latest month-start close at the next open, and catch up when the account's
    /// names differ from it; feed configs (buckets C and D) sell what ends its holding
    /// window and enter the day's alerts with their stops. A portfolio config runs each
    /// bucket as its own book (named
    /// after the bucket, in the bucket's account, with its capital as the paper cash and its
    /// max_positions / drawdown limits as the book's gates); its AVWAP buckets trade in
    /// their cycles (--cycle), and the daily run says so.
    ///
    /// Safe to re-run after any crash: the day's book is kept in the ledger, orders are
    /// found again by their client order id, and nothing is submitted twice. Everything
    /// lives under --home: ledger.sqlite, paper/<account>.sqlite, locks/, runs/<strategy>/<day>/.
    /// Exit 0 also for a clean skip (`gate_skip` outside the schedule window, `already_ran`).
    #[command(
        after_help = "Examples:\n  systrade run --config configs/trend_crypto.toml --broker paper --as-of 2022-03-01\n  \
systrade run --config configs/momentum_br.toml --as-of 2025-07-01\n  \
systrade run --config configs/portfolio.toml --as-of 2021-04-05      # buckets A and B, each its own book\n  \
systrade run --config configs/trend_crypto.toml --run-at-utc-hour 0 --gate-minutes 5      # from cron, 00:00-00:05 UTC\n  \
systrade run --config configs/trend_demo.toml --run-at 16:10 --tz America/New_York --dry-run\n\n\
Kill switch: create <home>/KILL (run.kill_switch_file) or set SYSTRADE_KILL_SWITCH=1.\n\
Live brokers need --live and SYSTRADE_LIVE_CONFIRM=<account id>."
    )]
    Run(DailyRunArgs),
    /// Compare broker positions and open stops with the ledger, per symbol: match,
    /// qty_mismatch, missing_in_broker, missing_in_ledger, stop_missing. A mismatched symbol
    /// gets no new entries until `--ack SYMBOL` (the ledger then adopts the broker's quantity).
    #[command(
        after_help = "Examples:\n  systrade reconcile --config configs/trend_crypto.toml\n  \
systrade reconcile --config configs/trend_crypto.toml --json\n  \
systrade reconcile --config configs/trend_crypto.toml --ack ETHUSDT"
    )]
    Reconcile(ReconcileArgs),
    /// Run a faithful local venue on 127.0.0.1 (Alpaca trading v2 or Coinbase Advanced
    /// Trade): try the whole flow without an account, and what the tests run against.
    ///
    /// It speaks the venue's API — paths, JSON, statuses, errors, rate limit — over the
    /// paper engine and the price files you give it: at Alpaca a market order fills at the
    /// open of the next session the clock plays, at Coinbase at once at the session's open;
    /// stops trigger inside a bar, day orders expire. The clock starts at the session after
    /// the data's last bar (or --session) and moves only when told: `curl -X POST localhost:PORT/fake/clock -d
    /// '{"session":"2025-01-08"}'`. Requests must carry the APCA_API_KEY_ID and
    /// APCA_API_SECRET_KEY the venue was started with (any values); Coinbase requests a JWT
    /// signed with the COINBASE_API_SECRET (a P-256 PEM key) it was started with.
    #[command(
        name = "fake-venue",
        after_help = "Example (two terminals, the same environment):\n  \
export APCA_API_KEY_ID=local APCA_API_SECRET_KEY=local-secret APCA_API_BASE_URL=http://127.0.0.1:8788\n  \
systrade fake-venue alpaca --data ../shared/data/us_etf_daily_yahoo --port 8788 --session 2024-06-03\n  \
systrade run --config configs/trend_us_alpaca.toml --broker alpaca --as-of 2024-06-03\n\n\
Coinbase (every Coinbase account is live: the banner names the portfolio to confirm):\n  \
export COINBASE_API_KEY=organizations/local/apiKeys/1 COINBASE_API_SECRET=\"$(openssl ecparam -name prime256v1 -genkey -noout)\"\n  \
export SYSTRADE_COINBASE_BASE_URL=http://127.0.0.1:8789\n  \
systrade fake-venue coinbase --data ../shared/data/crypto_binance_spot/1d --port 8789 --session 2022-03-01\n  \
SYSTRADE_LIVE_CONFIRM=<portfolio> systrade run --config configs/trend_crypto_coinbase.toml --live --as-of 2022-03-01\n\n\
Interactive Brokers (the TWS socket on 4002, the clock on 8791):\n  \
systrade fake-venue ib --data ../shared/data/us_etf_daily_yahoo --port 4002 --admin-port 8791 --session 2024-06-03\n  \
SYSTRADE_IB_PORT=4002 systrade run --config configs/trend_us_alpaca.toml --broker ib --as-of 2024-06-03\n\n\
Market data (all five vendors on one port; the clock hides later bars):\n  \
systrade fake-venue data --data ../shared/data/crypto_binance_spot/1d --port 8790 --now 2022-06-05T12:00:00Z\n  \
SYSTRADE_BINANCE_BASE_URL=http://127.0.0.1:8790 systrade data fetch --provider binance --symbols BTCUSDT --db market.db"
    )]
    FakeVenue(FakeVenueArgs),
    /// The trade sheet from your own signals (the manual execution level): size the names
    /// with a positive signal on its last date by a method, then list the BUY/SELL lines
    /// (whole shares, limit = last close ± limit offset) that move your positions there.
    /// A held name trades only when it enters, leaves, or drifted more than --drift from its
    /// target; nothing spends more than --capital. Sales at a loss within 30 days of a buy of
    /// the same symbol, and buys within 30 days of such a sale, are flagged wash_sale_risk.
    ///
    /// signals.csv: `date,symbol,signal` (strength in [-1, 1]; the last date on or before
    /// --as-of is used; zero or negative means not held). positions.csv: `symbol,qty` and
    /// optionally `avg_price`, `last_buy`, `last_loss_sale` (YYYY-MM-DD) for the wash-sale
    /// check. Risk estimates use the last --lookback daily simple returns up to the signal
    /// date on dates all candidates share.
    #[command(
        after_help = "Examples:\n  systrade sheet --signals signals.csv --capital 10000 --method inverse-vol --data prices/\n  \
systrade sheet --signals signals.csv --capital 250000 --method min-variance --max-weight 0.25 \\\n      \
--positions current.csv --lookback 252 --data prices/ --out sheet.csv"
    )]
    Sheet(SheetArgs),
    /// Trades you manage by hand, kept in the ledger under --home beside the system's own:
    /// add, list, update, close (partly or fully) and import a broker's CSV export. Every
    /// call validates first and changes nothing when it refuses.
    #[command(subcommand)]
    Trades(TradesCommand),
    /// Release orders waiting for approval (the semi-auto execution level) to the broker.
    /// An order waits when its notional is above `execution.approve_above` of its config;
    /// it can be approved until its session passes (the next daily run, or the next staged
    /// sheet, expires it). A sell whose units a protective stop reserves first shrinks the
    /// stop to what stays held (or cancels it when nothing does). Fills the broker makes at
    /// once are booked in the ledger.
    #[command(after_help = "Examples:
  systrade orders list --config configs/trend_crypto.toml --status pending
  systrade approve --config configs/trend_crypto.toml --all
  systrade approve --config book.toml 0a1b2c3d4e5f6a7b 1c2d3e4f5a6b7c8d")]
    Approve(ApproveArgs),
    /// After the open: put the protective stop on every held position of a book that has
    /// none — the entries a venue filled at the open (Alpaca queues orders sent before the
    /// open), at the level the day's run decided — so they are protected in their own
    /// session, as the backtest protects them. Books the venue's fills first; sends nothing
    /// else. Run it from cron a few minutes after the open (e.g. 09:45 New York).
    #[command(after_help = "Example:
  systrade run --config configs/trend_us_alpaca.toml        # before the open (cron 08:00 New York)
  systrade protect --config configs/trend_us_alpaca.toml    # after the open (cron 09:45 New York)")]
    Protect(ProtectArgs),
    /// Orders in the ledger: list them, cancel them, stage a trade sheet's lines for
    /// approval, and the execution monitor's slippage report.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// One view of everything held: the daily-run strategies' books (source `system`), the
    /// trade-sheet books executed on paper (`paper`) and the manual trades (`manual`), marked
    /// at the last close on or before --as-of. Shows capital, cash, gross and net exposure
    /// (by source, bucket, sector and asset class), realised and unrealised PnL net of fees,
    /// the merged equity curve's drawdown and rolling volatility, each symbol's contribution,
    /// open stops, and the closed trades' R-multiples, MAE/MFE and holding days. Writes
    /// portfolio_snapshot_YYYY-MM-DD.json (deterministic) into --out.
    ///
    /// A manual trade tagged `bucket=NAME` counts in that bucket; a book is its own bucket.
    #[command(
        after_help = "Examples:\n  systrade portfolio --data prices/ --as-of 2024-06-28\n  \
systrade portfolio --data prices/ --data crypto.db --manual-cash 5000 --json"
    )]
    Portfolio(PortfolioArgs),
    /// The daily newsletter (HTML with a plain-text alternative) from the ledger and the
    /// daily runs' artifacts under --home: a section per book with buy / sell / watch (shares
    /// and money, why in words), what to avoid and why (blocked entries), open positions with
    /// stops and PnL, recent fills and data warnings; with --config, what to buy tomorrow:
    /// the orders each bucket plans for its next session. --preview writes it; --send mails it
    /// through SMTP configured by the environment: SYSTRADE_SMTP_HOST, SYSTRADE_SMTP_PORT
    /// (default 587; 465 = implicit TLS), SYSTRADE_SMTP_USER, SYSTRADE_SMTP_PASSWORD,
    /// SYSTRADE_SMTP_FROM, SYSTRADE_SMTP_TO (comma-separated). STARTTLS is used when the
    /// server offers it. The daily run sends it by itself after its last step when
    /// SYSTRADE_SMTP_HOST is set.
    #[command(after_help = "Examples:
  systrade --home systrade-demo/home newsletter --preview newsletter.html
  systrade newsletter --preview today.eml        # the whole MIME message
  systrade newsletter --config configs/portfolio.toml --date 2024-06-28 --preview tomorrow.html
  systrade newsletter --data prices/ --preview today.html   # manual trades marked with PnL
  SYSTRADE_SMTP_HOST=smtp.example.com SYSTRADE_SMTP_FROM=desk@example.com \
  SYSTRADE_SMTP_TO=me@example.com SYSTRADE_SMTP_USER=desk SYSTRADE_SMTP_PASSWORD=... \
      systrade newsletter --send --date 2024-06-28")]
    Newsletter(NewsletterArgs),
    /// The dashboard: the desk of --home on one page in a browser — the overview (equity,
    /// cash, exposure, today's and total PnL, drawdown, each book's equity curve), positions
    /// with their stops, orders, and each day's runs (planned, allowed, blocked and why,
    /// reconciliation, stale data, errors); pages follow a run as it writes. Server-rendered,
    /// no network beyond the page. Listens on loopback; another address needs
    /// SYSTRADE_DASHBOARD_TOKEN in the environment (then asked of every request: a bearer
    /// token, or ?token= once). Read-only unless --allow-actions (then the kill switch can be
    /// set from the page — never cleared — with a CSRF-checked POST).
    #[command(after_help = "Examples:
  systrade --home systrade-demo/home serve                       # http://127.0.0.1:8787
  systrade serve --bind 127.0.0.1:0 --allow-actions
  SYSTRADE_DASHBOARD_TOKEN=$(openssl rand -hex 24) systrade serve --bind 0.0.0.0:8787")]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: std::net::SocketAddr,
    /// Allow state-changing actions from the page: setting the kill switch, approving and
    /// canceling staged orders of the books named by --config.
    #[arg(long)]
    pub allow_actions: bool,
    /// A book's config (repeatable): its staged orders get Approve and Cancel buttons (with
    /// --allow-actions), under the rules of `systrade approve` and `systrade orders cancel`.
    #[arg(long)]
    pub config: Vec<PathBuf>,
    /// Price sources (market DBs or CSV folders, repeatable, searched in order): manual-trade
    /// and trade-sheet positions are marked at their last close (with PnL and distance to
    /// stop), and each book's equity curve is drawn against --benchmark.
    #[arg(long, value_name = "SRC")]
    pub data: Vec<PathBuf>,
    /// The symbol each book's equity curve is drawn against (with --data; `none`: no line).
    #[arg(long, default_value = "SPY")]
    pub benchmark: String,
    /// Folders of `systrade backtest --out` and `sweep --out` runs (repeatable): the backtests
    /// page lists each with its metrics and tear sheet, each sweep with its sensitivity table.
    #[arg(long, value_name = "DIR")]
    pub backtests: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct NewsletterArgs {
    /// Write the newsletter here: HTML, with the text part beside it (same name, .txt); a
    /// name ending in .eml gets the whole MIME message instead.
    #[arg(long, value_name = "FILE")]
    pub preview: Option<PathBuf>,
    /// Send it by SMTP (settings from the environment; see above).
    #[arg(long)]
    pub send: bool,
    /// The market day to report (default: the latest day a daily run completed). Each book
    /// shows its latest completed run on or before it.
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Only these books (repeatable; default: every book in the ledger, and manual trades).
    #[arg(long)]
    pub book: Vec<String>,
    /// What to buy tomorrow: plan this config's next session after --date (default: today)
    /// instead of reading the home's daily runs — a portfolio gets one section per bucket
    /// (each on its replayed book with its capital and limits), one config one section (a
    /// momentum config needs [backtest] capital). Manual trades of the home's ledger, if
    /// any, follow.
    #[arg(long, value_name = "FILE", conflicts_with = "book")]
    pub config: Option<PathBuf>,
    /// Price data (repeatable; first source that has a symbol wins) to mark manual trades
    /// and trade-sheet positions at their last close on or before the day, with PnL.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct PortfolioArgs {
    /// Price data (repeatable; a symbol's prices come from the first source that has it).
    #[arg(long, required = true)]
    pub data: Vec<PathBuf>,
    /// The day to value the portfolio at (default: today); later fills and trades are left out.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Print the snapshot as JSON.
    #[arg(long)]
    pub json: bool,
    /// Folder for portfolio_snapshot_YYYY-MM-DD.json (default: <home>/portfolio).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Cash in the account the manual trades are made in (paper accounts report their own).
    #[arg(long, default_value_t = 0.0)]
    pub manual_cash: f64,
    /// Daily returns in the rolling volatility.
    #[arg(long, default_value_t = 20)]
    pub vol_window: usize,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The strategy or sheet-book config whose orders to approve.
    #[arg(long)]
    pub config: PathBuf,
    /// Approve every order waiting for approval.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// Client order ids to approve (see `systrade orders list --status pending`).
    pub ids: Vec<String>,
    /// A market database or a folder of vendor files; overrides the config's data.source.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub venue: VenueArgs,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders (every book's, or one config's), newest session first.
    List(OrdersListArgs),
    /// Cancel orders: a staged one never reaches the broker; a working one is canceled at
    /// the broker (needs --config).
    Cancel(OrdersCancelArgs),
    /// Stage a trade sheet's lines (`systrade sheet --out`) as market orders of a sheet
    /// book (`strategy = "sheet"`) for the session after the sheet's date; they wait for
    /// `systrade approve` (or go out at once when below `execution.approve_above`).
    #[command(after_help = "Example:
  systrade sheet --signals signals.csv --capital 10000 --method inverse-vol --data prices/ --out sheet.csv
  systrade orders stage --config book.toml --sheet sheet.csv
  systrade approve --config book.toml --all")]
    Stage(OrdersStageArgs),
    /// The execution monitor: each fill's slippage against the price its order was decided
    /// at (the last close), in basis points (positive = worse), and a summary per day.
    Slippage(OrdersSlippageArgs),
}

#[derive(Debug, Args)]
pub struct OrdersListArgs {
    /// Only this config's book (default: every book in the ledger).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only orders in this status (`staged`, `submitted`, `accepted`, `partially_filled`,
    /// `filled`, `canceled`, `rejected`, `expired`), or `pending` for those waiting for
    /// approval, or `open` for those working at the broker.
    #[arg(long)]
    pub status: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProtectArgs {
    /// The book's config (its stops, account and venue).
    #[arg(long)]
    pub config: PathBuf,
    /// The session (default: the one the venue's clock is at).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// A market database or a folder of vendor files; overrides the config's data.source.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub venue: VenueArgs,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct OrdersCancelArgs {
    /// The config of the orders' book (needed for orders working at the broker).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Client order ids to cancel.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// A market database or a folder of vendor files; overrides the config's data.source.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub venue: VenueArgs,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct OrdersStageArgs {
    /// The sheet book's config (`strategy = "sheet"`).
    #[arg(long)]
    pub config: PathBuf,
    /// The trade sheet CSV (`action,symbol,shares` and `last_close`/`as_of` as `systrade
    /// sheet` writes them).
    #[arg(long)]
    pub sheet: PathBuf,
    /// The session the orders are for (default: the market's next trading day after the
    /// sheet's as_of).
    #[arg(long)]
    pub session: Option<NaiveDate>,
    /// A market database or a folder of vendor files; overrides the config's data.source.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub venue: VenueArgs,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct OrdersSlippageArgs {
    /// Only this config's book (default: every book).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Price sources (market DBs or folders, repeatable): each fill is also measured against
    /// its arrival price, the open of its session.
    #[arg(long, value_name = "SRC")]
    pub data: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TradesCommand {
    /// Record a trade: `--side buy` opens a long, `sell` a short. Prints its id.
    #[command(
        after_help = "Example:\n  systrade trades add --symbol AAPL --side buy --qty 100 --price 187.20 --date 2024-06-03 \\\n      --fees 1.00 --stop 178 --tags swing,earnings --notes \"breakout\""
    )]
    Add(TradeAddArgs),
    /// List trades (open ones by default) with realised PnL and R-multiples.
    List(TradeListArgs),
    /// Change fields of a trade (the quantity cannot go below what was closed).
    Update(TradeUpdateArgs),
    /// Close a trade, all of what is open or --qty of it.
    Close(TradeCloseArgs),
    /// Import executions from a CSV: `date,symbol,side,qty,price` and optionally
    /// `fees,stop,tags,notes` (side buy|sell; tags separated by `;`). In date order, a fill
    /// against open trades of the other side closes them first in, first out; the rest opens a
    /// new trade. One bad row (named by line and symbol) imports nothing.
    Import(TradeImportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TradeSideArg {
    Buy,
    Sell,
}

#[derive(Debug, Args)]
pub struct TradeAddArgs {
    #[arg(long)]
    pub symbol: String,
    #[arg(long, value_enum)]
    pub side: TradeSideArg,
    #[arg(long)]
    pub qty: rust_decimal::Decimal,
    #[arg(long)]
    pub price: rust_decimal::Decimal,
    /// Trade date (YYYY-MM-DD; not in the future).
    #[arg(long)]
    pub date: NaiveDate,
    #[arg(long, default_value = "0")]
    pub fees: rust_decimal::Decimal,
    /// The protective stop (R-multiples measure against it).
    #[arg(long)]
    pub stop: Option<rust_decimal::Decimal>,
    /// Comma-separated tags.
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
    #[arg(long, default_value = "")]
    pub notes: String,
}

#[derive(Debug, Args)]
pub struct TradeListArgs {
    /// Closed trades too.
    #[arg(long)]
    pub all: bool,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TradeUpdateArgs {
    /// The trade's id (from `trades list`).
    pub id: i64,
    #[arg(long)]
    pub qty: Option<rust_decimal::Decimal>,
    #[arg(long)]
    pub price: Option<rust_decimal::Decimal>,
    #[arg(long)]
    pub date: Option<NaiveDate>,
    #[arg(long)]
    pub fees: Option<rust_decimal::Decimal>,
    #[arg(long, conflicts_with = "no_stop")]
    pub stop: Option<rust_decimal::Decimal>,
    /// Remove the stop.
    #[arg(long)]
    pub no_stop: bool,
    #[arg(long, value_delimiter = ',')]
    pub tags: Option<Vec<String>>,
    #[arg(long)]
    pub notes: Option<String>,
}

#[derive(Debug, Args)]
pub struct TradeCloseArgs {
    pub id: i64,
    /// How much to close (default: all that is open).
    #[arg(long)]
    pub qty: Option<rust_decimal::Decimal>,
    #[arg(long)]
    pub price: rust_decimal::Decimal,
    #[arg(long)]
    pub date: NaiveDate,
    #[arg(long, default_value = "0")]
    pub fees: rust_decimal::Decimal,
}

#[derive(Debug, Args)]
pub struct TradeImportArgs {
    /// The CSV export.
    #[arg(long)]
    pub file: PathBuf,
}

/// Sizing methods of the sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Equal,
    Signal,
    InverseVol,
    RiskParity,
    MinVariance,
    Kelly,
}

#[derive(Debug, Args)]
pub struct SheetArgs {
    /// Signals CSV: `date,symbol,signal`.
    #[arg(long)]
    pub signals: PathBuf,
    /// Capital to allocate (the value of the whole book after the sheet).
    #[arg(long)]
    pub capital: f64,
    /// `equal` ($ per name), `signal` ($ ∝ strength), `inverse-vol` (∝ 1/σ), `risk-parity`
    /// (equal risk contribution), `min-variance` (long-only QP, bounds [0, max-weight]),
    /// `kelly` (kelly-fraction · μ/σ², capped).
    #[arg(long, value_enum)]
    pub method: MethodArg,
    /// Current holdings CSV (`symbol,qty[,avg_price][,last_buy][,last_loss_sale]`).
    #[arg(long)]
    pub positions: Option<PathBuf>,
    /// Hold at most this many names (the strongest signals; ties by symbol).
    #[arg(long)]
    pub max_positions: Option<usize>,
    /// Largest weight of one name; the excess goes to the others, or stays cash.
    #[arg(long, default_value_t = 1.0)]
    pub max_weight: f64,
    /// A held name trades only when |current − target| exceeds this fraction of its target.
    #[arg(long, default_value_t = 0.05)]
    pub drift: f64,
    /// Daily returns used by the risk-based methods.
    #[arg(long, default_value_t = 60)]
    pub lookback: usize,
    /// Use the signals of this date (default: the file's last date); prices up to it.
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Limit price = last close × (1 ± this).
    #[arg(long, default_value_t = 0.002)]
    pub limit_offset: f64,
    /// Fraction of the full Kelly bet (`kelly` only).
    #[arg(long, default_value_t = 0.25)]
    pub kelly_fraction: f64,
    /// Decimals of share quantities (0: whole shares; e.g. 6 for crypto).
    #[arg(long, default_value_t = 0)]
    pub qty_decimals: u32,
    /// Where to write the sheet as CSV (it is always printed as a table).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Tax-loss harvesting: propose selling each held name (of --positions, with its
    /// avg_price) whose last close is at least this fraction below its cost, with the name
    /// of --data most correlated with it (not held, not a target) bought for the same money.
    /// Proposals only: printed, and written with --harvest-out.
    #[arg(long, value_name = "LOSS")]
    pub harvest_loss: Option<f64>,
    /// The replacement's correlation of daily returns with the loser, at least.
    #[arg(long, default_value_t = 0.8, requires = "harvest_loss")]
    pub harvest_min_corr: f64,
    /// Write the harvest proposals as CSV here.
    #[arg(long, requires = "harvest_loss")]
    pub harvest_out: Option<PathBuf>,
    /// Price data: a file, a folder of files, or a SQLite database.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct WalkforwardArgs {
    /// A strategy config (trend, momentum, avwap): the grid names its keys. Excludes
    /// --strategy and --symbol.
    #[arg(long, conflicts_with_all = ["strategy", "symbol"])]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, required_unless_present = "config")]
    pub strategy: Option<StrategyArg>,
    #[arg(long, required_unless_present = "config")]
    pub symbol: Option<String>,
    /// Parameter grid, as for `sweep`.
    #[arg(long)]
    pub grid: String,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Train window length: `3y`, `18m` or `90d`.
    #[arg(long)]
    pub train: String,
    /// Test window length (also the step between windows).
    #[arg(long)]
    pub test: String,
    /// Train windows all start at the first date (growing) instead of rolling.
    #[arg(long)]
    pub anchored: bool,
    /// Metric to optimise: cagr, sharpe, sortino, max_dd, calmar.
    #[arg(long, default_value = "sharpe")]
    pub metric: String,
    /// Run only part I of N (0 <= I < N: a Slurm array task id, a Kubernetes completion
    /// index) — the train backtests k = window × points + point with k mod N = I, and the
    /// test of the part's best point of each window — and write it as OUT/part-I-of-N.json
    /// for `systrade merge`. With --config. A failed part re-runs alone.
    #[arg(long, requires = "config")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// How the grid's points are chosen.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// `grid` (every point) or `random:N` (N distinct points of the grid drawn with --seed).
    #[arg(long, default_value = "grid")]
    pub search: String,
    /// The random search's seed: the same seed draws the same points.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Fill, costs, cash, data and output: the flags every many-backtest command shares.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// sma-cross only (a config's fills are its own) [default: open].
    #[arg(long, value_enum)]
    pub fill: Option<FillArg>,
    /// Fee in basis points of traded notional; sma-cross only (a config has its own) [default: 0].
    #[arg(long)]
    pub fees_bps: Option<f64>,
    /// Starting cash; sma-cross only (a config has backtest.cash) [default: 100000].
    #[arg(long)]
    pub cash: Option<f64>,
    /// A market database, a folder of vendor files, or one file (with --config: overrides
    /// its data.source).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A strategy config (trend, momentum, avwap): the grid names its numeric keys
    /// (`signal.donchian_window`, `momentum.cohorts`, …). Excludes --strategy and --symbols.
    #[arg(long, conflicts_with_all = ["strategy", "symbols"])]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, required_unless_present = "config")]
    pub strategy: Option<StrategyArg>,
    /// Comma-separated symbols, or `all` for every daily series in --data.
    #[arg(long, required_unless_present = "config")]
    pub symbols: Option<String>,
    /// Parameter grid: `fast=5..50:5,slow=20..200:20` (inclusive, with step) or `fast=5|10|20`;
    /// with --config, dotted keys: `signal.donchian_window=20..60:10,sizing.target_vol=0.15..0.35:0.05`.
    #[arg(long)]
    pub grid: String,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Metric the sensitivity table summarises: final_equity, cagr, sharpe, sortino, max_dd, calmar.
    #[arg(long, default_value = "sharpe")]
    pub metric: String,
    /// Run only part I of N (0 <= I < N: a Slurm array task id, a Kubernetes completion
    /// index) — the grid's backtests k with k mod N = I — and write it as
    /// OUT/part-I-of-N.json for `systrade merge`. A failed part re-runs alone.
    #[arg(long)]
    pub shard: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Part files (part-I-of-N.json) or folders holding them.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Where the merged sweep's files go.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// The reference SMA crossover (spec/indicators-and-metrics.md).
    SmaCross,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RemainderArg {
    /// Try the rest again at the next bar.
    Carry,
    /// Drop the rest.
    Cancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FillArg {
    /// The next bar's open.
    Open,
    /// The deciding bar's close.
    Close,
    /// The next bar's VWAP (for daily bars: its typical price (high + low + close)/3).
    Vwap,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// A strategy config file (TOML, e.g. configs/trend_crypto.toml): the strategy, its
    /// universe, every parameter and the data source. Excludes --strategy.
    #[arg(long, conflicts_with_all = ["strategy", "symbol"])]
    pub config: Option<PathBuf>,
    /// A built-in single-symbol strategy (with --symbol and --data).
    #[arg(long, value_enum, required_unless_present = "config")]
    pub strategy: Option<StrategyArg>,
    /// The symbol to trade.
    #[arg(long, required_unless_present = "config")]
    pub symbol: Option<String>,
    /// Fast SMA window.
    #[arg(long, default_value_t = 10)]
    pub fast: usize,
    /// Slow SMA window.
    #[arg(long, default_value_t = 30)]
    pub slow: usize,
    #[arg(long, value_enum, default_value_t = FillArg::Open)]
    pub fill: FillArg,
    /// `all` (all cash, fractional, fees paid from the same cash) or a fixed quantity.
    #[arg(long, default_value = "all")]
    pub size: String,
    /// Fee in basis points of traded notional.
    #[arg(long, default_value_t = 0.0)]
    pub fees_bps: f64,
    /// Trade in multiples of this many units (rounded toward zero).
    #[arg(long)]
    pub lot_size: Option<f64>,
    /// Skip orders below this notional (closing a position always trades).
    #[arg(long, default_value_t = 0.0)]
    pub min_notional: f64,
    /// Skip orders below this fraction of equity (closing always trades).
    #[arg(long, default_value_t = 0.0)]
    pub trade_threshold: f64,
    /// Fee per unit traded.
    #[arg(long, default_value_t = 0.0)]
    pub per_share: f64,
    /// Minimum fee per fill.
    #[arg(long, default_value_t = 0.0)]
    pub min_fee: f64,
    /// Half-spread slippage in basis points.
    #[arg(long, default_value_t = 0.0)]
    pub slippage_bps: f64,
    /// Market impact coefficient k: a further k·σ_daily·sqrt(qty/ADV) against each fill.
    #[arg(long, default_value_t = 0.0)]
    pub impact_k: f64,
    /// Borrow cost of shorts, basis points a year.
    #[arg(long, default_value_t = 0.0)]
    pub borrow_bps: f64,
    /// Largest share of a bar's volume one fill may take (e.g. 0.1).
    #[arg(long)]
    pub max_participation: Option<f64>,
    /// What happens to the part a capped order could not fill.
    #[arg(long, value_enum, default_value_t = RemainderArg::Carry)]
    pub remainder: RemainderArg,
    /// Interest on cash: a CSV of date + annual percent rate (forward-filled onto the bars).
    #[arg(long)]
    pub cash_rate: Option<PathBuf>,
    /// Fee levels (bps) of cost_grid.csv: the run repeated at each, in parallel; `none` skips it.
    #[arg(long, default_value = "0,5,10,20,30,50")]
    pub cost_grid: String,
    /// A trend config's per-ticker, per-session tables: the desired-trades log
    /// (logs/desired_trades.jsonl: every gate's verdict for every ticker every day — 200 MB for
    /// 100 names × 10 years) and snapshots.csv (the per-ticker table at three stages of every
    /// session — 53 MB more): `full` writes them; `lean` (the default) writes what a person reads
    /// (timeseries, targets, fills, trades, decisions, the tear sheet).
    #[arg(long, value_enum, default_value = "lean")]
    pub logs: LogsArg,
    /// Metrics per date range, e.g. 'train=..2012-12-31,validation=2013-01-01..2016-12-31,holdout=2017-01-01..'
    /// (written to splits.csv).
    #[arg(long)]
    pub split: Option<String>,
    /// Metrics inside market crises, e.g. '2008-09,2020-03,2022-crypto' or
    /// '2015-06-01..2015-09-30' (written to stress.csv). Named windows: 2000-dotcom,
    /// 2008-09, 2011-08, 2018-crypto, 2018-q4, 2020-03, 2022-crypto, 2022-rates (dates in
    /// the README).
    #[arg(long)]
    pub stress: Option<String>,
    /// Starting cash [default: 100000, or the config's backtest.cash].
    #[arg(long)]
    pub cash: Option<f64>,
    /// First date traded (YYYY-MM-DD); earlier bars still feed the indicators. Overrides the
    /// config's backtest.start.
    #[arg(long)]
    pub start: Option<NaiveDate>,
    /// Last date traded (YYYY-MM-DD). Overrides the config's backtest.end.
    #[arg(long)]
    pub end: Option<NaiveDate>,
    /// A market database, a folder of vendor files, or one file (with --config: overrides
    /// the config's data.source).
    #[arg(long, required_unless_present_any = ["config"], conflicts_with = "db")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub momentum: MomentumArgs,
    /// Also write the tear sheet's charts as SVG and PNG files into --out/charts: equity vs
    /// benchmark (buy & hold of the data, or the CDI), drawdown, rolling 12-month Sharpe,
    /// gross/net exposure, monthly turnover (momentum: also gross and beta). Every backtest
    /// writes --out/report.html, one self-contained tear sheet, with or without this flag.
    #[arg(long)]
    pub plots: bool,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Overrides of a momentum config (spec/momentum-cohorts.md).
#[derive(Debug, Clone, Default, Args)]
pub struct MomentumArgs {
    /// A SQLite database with `prices` (and `sectors`) tables; overrides data.source.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// The CDI series (CSV or .xlsx); overrides data.cdi.
    #[arg(long)]
    pub cdi: Option<PathBuf>,
    /// Number of staggered cohorts; overrides momentum.cohorts.
    #[arg(long)]
    pub cohorts: Option<usize>,
    /// Hold the composite beta overlay (momentum.beta_overlay = true).
    #[arg(long)]
    pub beta_overlay: bool,
    /// Long/short (`ls`) or long-only top decile (`d10`); overrides momentum.book.
    #[arg(long, value_enum)]
    pub book: Option<BookArg>,
}

impl MomentumArgs {
    /// True when any momentum-only flag was given.
    pub fn any(&self) -> bool {
        self.db.is_some()
            || self.cdi.is_some()
            || self.cohorts.is_some()
            || self.beta_overlay
            || self.book.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BookArg {
    Ls,
    D10,
}

#[derive(Debug, Args)]
pub struct DailyRunArgs {
    /// Strategy config files (TOML); each strategy runs in turn. Repeatable.
    #[arg(long, required = true)]
    pub config: Vec<PathBuf>,
    /// The broker, overriding each config's `[run] broker` (default `paper`: a simulated
    /// account persisted under --home).
    #[arg(long, value_enum)]
    pub broker: Option<BrokerArg>,
    /// The market day to run (YYYY-MM-DD); default: today in the market's time zone (UTC
    /// for crypto, New York for US equities, São Paulo for B3).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// Run every step, but send orders to the broker's preview and change no state: only
    /// the logs and the summary are written (under runs/<strategy>/<day>/dry-run/).
    #[arg(long)]
    pub dry_run: bool,
    /// An AVWAP config's execution cycle (spec/avwap.md): `open` (before or at the open:
    /// the previous session's candidates sized, gated and sent as marketable orders; no
    /// stop before 09:45 New York), `intraday` (during the session: stops raised to
    /// confirmed five-minute higher lows and put at the broker, one per position), `close`
    /// (after the close: the AVWAP and time exits sent for the next open, the daily
    /// swing-low fallback, the next session's scan, trades.csv), or `auto` (the cycle due
    /// now: for a scheduler calling every few minutes — the close after 16:00, else the open
    /// until it ran today, else an intraday cycle). The session and the time are --now's
    /// (or the clock's) in New York. A sheet book with `[execution] twap_slices` has one
    /// cycle, `intraday` (or `auto`), called every few minutes after its daily run: it
    /// works the day's large orders as limit slices across the TWAP window — the slice due
    /// now priced from the last one-minute bar, the unfilled rest of the one before
    /// canceled, and after the window every leftover canceled and reported. A portfolio's
    /// cycle runs each of its AVWAP buckets as its own book (the bucket's name, account,
    /// capital and limits); its daily run, without --cycle, runs the other buckets.
    #[arg(long, value_enum)]
    pub cycle: Option<CycleArg>,
    /// Run even outside the schedule window or when the day already ran.
    #[arg(long)]
    pub force_run: bool,
    /// Allow orders on a live broker (also needs SYSTRADE_LIVE_CONFIRM=<account id>).
    #[arg(long)]
    pub live: bool,
    /// Schedule gate: run only during this UTC hour…
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..24), conflicts_with_all = ["run_at", "tz"])]
    pub run_at_utc_hour: Option<u32>,
    /// …within this many minutes after the hour (or after --run-at).
    #[arg(long, default_value_t = 5)]
    pub gate_minutes: u32,
    /// Schedule gate in market-local time: HH:MM with --tz.
    #[arg(long, requires = "tz")]
    pub run_at: Option<String>,
    /// The time zone of --run-at (IANA name, e.g. America/New_York).
    #[arg(long, requires = "run_at")]
    pub tz: Option<String>,
    /// A market database or a folder of vendor files; overrides each config's data.source.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The clock (RFC 3339), for tests and replays; default: the system clock.
    #[arg(long, env = "SYSTRADE_NOW", hide = true)]
    pub now: Option<String>,
    /// Decide on the data as it is: skip the config's `[data] refresh` fetch.
    #[arg(long)]
    pub no_refresh: bool,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// Brokers `run` can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrokerArg {
    /// The simulated account under --home.
    Paper,
    /// Alpaca trading v2: APCA_API_KEY_ID, APCA_API_SECRET_KEY, APCA_API_BASE_URL (default
    /// the paper host).
    Alpaca,
    /// Coinbase Advanced Trade (always live): COINBASE_API_KEY, COINBASE_API_SECRET,
    /// SYSTRADE_COINBASE_BASE_URL, SYSTRADE_COINBASE_PORTFOLIO.
    Coinbase,
    /// Interactive Brokers through TWS or IB Gateway (logged in, API enabled):
    /// SYSTRADE_IB_HOST (127.0.0.1), SYSTRADE_IB_PORT (7497 TWS paper; 7496 live, 4002 / 4001
    /// Gateway), SYSTRADE_IB_CLIENT_ID (1), SYSTRADE_IB_ACCOUNT (when it manages several).
    Ib,
}

/// Where orders go: the config's venue unless `--broker` says otherwise; a live account
/// needs `--live` and SYSTRADE_LIVE_CONFIRM=<account id>.
#[derive(Debug, Args)]
pub struct VenueArgs {
    /// The broker, overriding the config's `[run] broker`.
    #[arg(long, value_enum)]
    pub broker: Option<BrokerArg>,
    /// Allow orders on a live account (also needs SYSTRADE_LIVE_CONFIRM=<account id>).
    #[arg(long)]
    pub live: bool,
}

/// Venues `fake-venue` can imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FakeVenueKind {
    /// Alpaca trading v2 (equities before the open; orders fill at the next open).
    Alpaca,
    /// Coinbase Advanced Trade (crypto around the clock; market orders fill at once).
    Coinbase,
    /// IB Gateway's TWS API socket (protobuf, server version 226) on --port, its clock and
    /// faults over HTTP on --admin-port; US stocks and ETFs, orders fill at the next open.
    Ib,
    /// Market-data vendors on one port: Alpaca bars, Coinbase candles, Binance klines,
    /// Yahoo charts and Alpha Vantage, served from the --data files as they are.
    Data,
}

#[derive(Debug, Args)]
pub struct FakeVenueArgs {
    /// The venue to imitate.
    #[arg(value_enum)]
    pub venue: FakeVenueKind,
    /// Price files the venue fills from (a folder of daily CSVs or a market database).
    #[arg(long)]
    pub data: PathBuf,
    /// Port on 127.0.0.1 (0: any free one; the banner says which).
    #[arg(long, default_value_t = 8788)]
    pub port: u16,
    /// The account's state file (kept across restarts; default: a fresh one under the
    /// system's temp folder).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The session the clock starts before the open of (default: the session after the
    /// data's last bar, or where a --state file left it).
    #[arg(long)]
    pub session: Option<NaiveDate>,
    /// Cash of a new account.
    #[arg(long, default_value_t = 100_000.0)]
    pub cash: f64,
    /// Answer as a live account (its number does not start with PA): runs then need --live
    /// and SYSTRADE_LIVE_CONFIRM.
    #[arg(long)]
    pub live: bool,
    /// Requests in the venue's window before it answers 429 (Alpaca: a minute, default
    /// 200; Coinbase: a second, default 30).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Price adjustment of the files (as `data import --adjust`; default split for
    /// Alpaca, none for Coinbase).
    #[arg(long, value_enum)]
    pub adjust: Option<AdjustArg>,
    /// Coinbase: the quote currency of every product (BTCUSDT trades as BTC-USDT).
    #[arg(long, default_value = "USDT")]
    pub quote: String,
    /// Data: the vendor's clock (RFC 3339; default this machine's): later bars are hidden.
    #[arg(long)]
    pub now: Option<String>,
    /// Data: articles in Alpha Vantage's NEWS_SENTIMENT shape (a JSON file with a feed).
    #[arg(long)]
    pub news: Option<PathBuf>,
    /// Data: the most bars one page holds (default: each vendor's maximum).
    #[arg(long)]
    pub page_limit: Option<usize>,
    /// IB: the HTTP port of the clock and faults (`/fake/clock`, `/fake/faults`; 0: any free
    /// one). --port is then the API socket (4002 is IB Gateway paper's).
    #[arg(long, default_value_t = 0)]
    pub admin_port: u16,
}

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The strategy config (its ledger name and account).
    #[arg(long)]
    pub config: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Acknowledge a symbol's mismatch (repeatable): the ledger adopts the broker's quantity
    /// and the symbol may get new entries again.
    #[arg(long)]
    pub ack: Vec<String>,
    /// Acknowledge the book's cash difference (a dividend, interest, a fee, a transfer the
    /// ledger's fills do not explain): the ledger takes the broker's cash as the book's and
    /// new risk is allowed again.
    #[arg(long, conflicts_with = "ack")]
    pub ack_cash: bool,
    /// A market database or a folder of vendor files; overrides the config's data.source.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The market day (default: the last day the strategy ran).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// The broker, overriding the config's `[run] broker` (reconciling sends nothing).
    #[arg(long, value_enum)]
    pub broker: Option<BrokerArg>,
    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The strategy config file (TOML), as for `backtest --config`.
    #[arg(long)]
    pub config: PathBuf,
    /// The session the plan is for (YYYY-MM-DD): decisions see only bars dated before it.
    #[arg(long)]
    pub as_of: NaiveDate,
    /// Trend and rotation: current holdings, a CSV `symbol,qty` with optional `stop` (the
    /// stop in force), `cooldown_left` (the counter after the last decision) and
    /// `stopped_out` (the date of the last stop-out). Without it the book is the simulated
    /// one: the config's backtest replayed up to the plan's date (a portfolio: each bucket's,
    /// with its capital and limits).
    #[arg(long, requires = "capital")]
    pub positions: Option<PathBuf>,
    /// Trend and rotation: account equity (cash + positions at the last close); with
    /// --positions.
    #[arg(long)]
    pub capital: Option<f64>,
    /// A market database or a folder of vendor files; overrides the config's data.source.
    #[arg(long, conflicts_with = "db")]
    pub data: Option<PathBuf>,
    /// Plan on the data as it is: skip the config's `[data] refresh` fetch (through the
    /// session before --as-of).
    #[arg(long)]
    pub no_refresh: bool,
    #[command(flatten)]
    pub momentum: MomentumArgs,
    /// Momentum: the account's capital; writes orders_YYYY-MM.csv (shares per ticker).
    #[arg(long)]
    pub live_capital: Option<f64>,
    /// Momentum: current holdings, CSV `ticker,shares` (negative for shorts); without it
    /// the previous month's targets are taken as held.
    #[arg(long, requires = "live_capital")]
    pub holdings: Option<PathBuf>,
    /// Momentum: lot sizes, CSV `ticker,lot` (others: orders.default_lot).
    #[arg(long, requires = "live_capital")]
    pub lots: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// How much a trend backtest logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogsArg {
    Lean,
    Full,
}

/// An AVWAP execution cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CycleArg {
    Open,
    Intraday,
    Close,
    Auto,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// An AVWAP config (strategy = "avwap"), e.g. configs/avwap_us.toml.
    #[arg(long)]
    pub config: PathBuf,
    /// The session whose close is scanned (YYYY-MM-DD); default: the last New York session
    /// that has closed (by SYSTRADE_NOW or the clock).
    #[arg(long)]
    pub as_of: Option<NaiveDate>,
    /// A market database or a folder of vendor files; overrides the config's data.source.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct IndicatorsArgs {
    /// A market database, a folder of vendor files, or one file.
    #[arg(long)]
    pub data: PathBuf,
    /// The symbol (for files: the file name without extension and interval suffix).
    #[arg(long)]
    pub symbol: String,
    /// Comma-separated indicators, e.g. `sma:20,ema:20,atr:14,donchian_high:20`.
    #[arg(long)]
    pub ind: String,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Write the CSV here (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["returns", "equity"])))]
pub struct MetricsArgs {
    /// CSV of date + per-period simple returns.
    #[arg(long)]
    pub returns: Option<PathBuf>,
    /// CSV of date + NAV (equity curve); returns are NAVₜ/NAVₜ₋₁ − 1.
    #[arg(long)]
    pub equity: Option<PathBuf>,
    /// The value column (default: the only one, or one named ret/return/returns or
    /// nav/equity).
    #[arg(long)]
    pub column: Option<String>,
    /// Periods per year: 252 (exchanges) or 365 (crypto). Default: 365 when the dates include
    /// weekends, else 252.
    #[arg(long)]
    pub periods: Option<u32>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder (created; files in it are replaced atomically).
    #[arg(long, default_value = "./systrade-demo")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Import vendor files (a file or a folder tree) into a SQLite market database.
    ///
    /// The header decides each file's layout: Yahoo, Yahoo B3 (close first), AlphaVantage
    /// daily adjusted, Binance klines, generic date/timestamp OHLCV (daily or intraday), rate
    /// series (CDI, SELIC, IPCA), sector maps, B3 dividends and index weights, and .xlsx sheets.
    /// Structural problems (unknown header, duplicate or unsorted dates, unparseable numbers,
    /// NaN, empty file) stop the import with exit code 2 and nothing written. Value problems
    /// (inconsistent OHLC, non-positive prices, zero-volume placeholders, the still-open last
    /// Binance candle) follow --on-bad-row. All files are written in one transaction; a file
    /// imported again unchanged is a no-op, a changed one replaces its dataset and is reported.
    #[command(
        after_help = "Examples:\n  systrade data import --from ../shared/data/us_etf_daily_yahoo --db market.db\n  \
systrade data import --from AAPL.csv --db market.db --adjust total --on-bad-row fail"
    )]
    Import(ImportArgs),
    /// Show what a database or a CSV folder holds: spans, rows, flagged rows, splits and gaps
    /// against each market's calendar.
    #[command(after_help = "Examples:\n  systrade data inspect --db market.db\n  \
systrade data inspect --data ../shared/data/sp500_daily_alphavantage --adjust none\n  \
systrade data inspect --db market.db --symbol RENT3 --json")]
    Inspect(InspectArgs),
    /// Generate a deterministic synthetic market (a CSV folder plus sectors.csv).
    ///
    /// A market factor and sector factors with regime-switching drifts, per-name trend regimes,
    /// GARCH volatility clustering, Student-t tails, overnight gaps and volume tied to |return|.
    /// The same arguments always give byte-identical files.
    #[command(
        after_help = "Example:\n  systrade data synth --symbols 30 --days 2500 --seed 7 --out synth/"
    )]
    Synth(SynthArgs),
    /// Download bars (and Alpha Vantage news) from a vendor, incrementally, into a market
    /// database or a folder of vendor files.
    ///
    /// Only what the store lacks is fetched, plus --overlap bars already stored: a bar the
    /// vendor changed since is reported as a revision and applied (its whole history is
    /// fetched again). Requests are paginated and kept under each vendor's published rate
    /// limit; a 429 or Binance's 418 waits the Retry-After it names, Alpha Vantage's
    /// throttle note backs off. Every series passes the same validation, flags, calendars and
    /// adjustment as `data import`, and is stored whole at once: a fetch killed at any instant
    /// keeps every series as it was or as it is now, and the next fetch continues.
    ///
    /// Base URLs come from APCA_API_DATA_URL, SYSTRADE_COINBASE_BASE_URL,
    /// SYSTRADE_BINANCE_BASE_URL, SYSTRADE_YAHOO_BASE_URL and SYSTRADE_ALPHAVANTAGE_BASE_URL
    /// (each vendor's host by default); keys from APCA_API_KEY_ID/APCA_API_SECRET_KEY (Alpaca
    /// stocks) and ALPHAVANTAGE_API_KEY.
    #[command(
        after_help = "Examples:\n  systrade data fetch --provider alpaca --symbols SPY,XLK,XLE --start 2015-01-01 --db market.db\n  \
systrade data fetch --provider binance --symbols BTCUSDT,ETHUSDT --interval 1h --out crypto_1h/\n  \
systrade data fetch --provider alphavantage --config configs/trend_us_alpaca.toml --news --db market.db"
    )]
    Fetch(FetchArgs),
}

/// A market-data provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// Alpaca market data v2: US stocks (keys needed) and crypto pairs (BTC/USD).
    Alpaca,
    /// Coinbase Advanced Trade public candles (BTC-USD).
    Coinbase,
    /// Binance spot klines (BTCUSDT).
    Binance,
    /// Yahoo Finance's chart API (AAPL, PETR4.SA), the fallback.
    Yahoo,
    /// Alpha Vantage daily adjusted (US stocks) and news sentiment.
    Alphavantage,
}

/// A bar length to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IntervalArg {
    #[value(name = "1d")]
    Day,
    #[value(name = "1h")]
    Hour,
    #[value(name = "5m")]
    FiveMinutes,
    #[value(name = "1m")]
    Minute,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[arg(long, value_enum)]
    pub provider: ProviderArg,
    /// Comma-separated symbols as the vendor or the store names them (AAPL, BTCUSDT,
    /// BTC-USD, PETR4.SA).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub symbols: Vec<String>,
    /// A strategy config: its tickers, market and data.adjust (the store is still --db or --out).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// First date wanted (default: ten years back for daily bars, sixty days for intraday);
    /// earlier than what is stored fetches the history again.
    #[arg(long)]
    pub start: Option<NaiveDate>,
    /// Last date wanted (default: the vendor's today).
    #[arg(long)]
    pub end: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t = IntervalArg::Day)]
    pub interval: IntervalArg,
    /// The market database to write (created when missing).
    #[arg(long, required_unless_present = "out", conflicts_with = "out")]
    pub db: Option<PathBuf>,
    /// A folder of vendor files to write (one per series; a still-open candle is left out).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Price adjustment, as `data import --adjust` (Alpaca is asked for it: adjustment=raw|split|all).
    /// Default split (with --config: its data.adjust).
    #[arg(long, value_enum)]
    pub adjust: Option<AdjustArg>,
    /// What to do with a row that has a value problem (as `data import`).
    #[arg(long, value_enum, default_value_t = PolicyArg::Flag)]
    pub on_bad_row: PolicyArg,
    /// Stored bars fetched again to catch the vendor's revisions.
    #[arg(long, default_value_t = 3)]
    pub overlap: usize,
    /// Also fetch news sentiment (Alpha Vantage NEWS_SENTIMENT) per symbol.
    #[arg(long)]
    pub news: bool,
    /// Requests a minute instead of the vendor's published limit (e.g. a premium key).
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Attempts per request (429s, 5xx, throttle notes, dropped connections) before the
    /// fetch stops — what it stored stays, and the next fetch continues. Default 6.
    #[arg(long)]
    pub max_retries: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How files are read: shared by every command that reads vendor files.
#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// Price layout; `auto` decides from each file's header.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Market of price files; `auto`: Binance → crypto, Yahoo B3 → b3, else by which
    /// calendar the dates fit (weekend trading → crypto).
    #[arg(long, value_enum, default_value_t = MarketArg::Auto)]
    pub market: MarketArg,
    /// Price adjustment: `none` keeps the file's prices, `split` back-adjusts splits (from
    /// AlphaVantage split_coefficient; Yahoo OHLC already is), `total` also dividends (from the
    /// adjusted-close ratio). Vendor-adjusted sources (Yahoo B3) are kept as they are.
    /// Default `split` (with --config: the config's `data.adjust`).
    #[arg(long, value_enum)]
    pub adjust: Option<AdjustArg>,
    /// What to do with a row that has a value problem: `fail` stops, `skip` drops it, `flag`
    /// keeps it out of trading decisions and records it (shown by `data inspect`), `keep`
    /// leaves it in the bars as the file has it and records it.
    #[arg(long, value_enum, default_value_t = PolicyArg::Flag)]
    pub on_bad_row: PolicyArg,
    /// Treat the last Binance candle as complete (by default it is the still-open candle of
    /// the download and is flagged `partial_candle`).
    #[arg(long)]
    pub trust_last_candle: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file or a folder (searched recursively for .csv and .xlsx/.xls/.ods files).
    #[arg(long)]
    pub from: PathBuf,
    /// The SQLite database to write (created with its schema when missing).
    #[arg(long)]
    pub db: PathBuf,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Symbol (price file) or series name (rate file) instead of the file name; one file only.
    #[arg(long)]
    pub name: Option<String>,
    /// Unit of a `date,value` rate file whose header does not say.
    #[arg(long, value_enum)]
    pub rate_unit: Option<RateUnitArg>,
    /// Print the import report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["db", "data"])))]
pub struct InspectArgs {
    /// A market database written by `data import`.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// A folder (or file) of vendor CSVs, read directly.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Only this symbol (all its intervals), with every flagged row listed.
    #[arg(long)]
    pub symbol: Option<String>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Flagged rows listed per symbol in the text output.
    #[arg(long, default_value_t = 5)]
    pub show_flags: usize,
    /// Print the full report as JSON (sorted keys).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of symbols.
    #[arg(long, default_value_t = 20)]
    pub symbols: usize,
    /// Trading sessions per symbol.
    #[arg(long, default_value_t = 1000)]
    pub days: usize,
    /// Random seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First session (YYYY-MM-DD; moved to the next trading day if needed).
    #[arg(long, default_value = "2015-01-02")]
    pub start: NaiveDate,
    /// Whose calendar the sessions follow.
    #[arg(long, value_enum, default_value_t = MarketChoice::Us)]
    pub market: MarketChoice,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Auto,
    Yahoo,
    YahooB3,
    Alphavantage,
    Binance,
    Generic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarketArg {
    Auto,
    Us,
    B3,
    Crypto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarketChoice {
    Us,
    B3,
    Crypto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdjustArg {
    None,
    Split,
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    Fail,
    Skip,
    Flag,
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[allow(clippy::enum_variant_names)] // the names are the stored unit names
pub enum RateUnitArg {
    PctPerDay,
    PctPerYear,
    PctPerMonth,
}
