-- The ledger: what systrade decided and did, per strategy. Money and quantities are exact
-- decimals stored as text.

CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    market_day TEXT NOT NULL,
    broker TEXT NOT NULL,
    account TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    status TEXT NOT NULL,           -- running | completed | failed
    last_step INTEGER NOT NULL DEFAULT 0,
    started_utc TEXT NOT NULL,
    finished_utc TEXT,
    error TEXT
);
CREATE INDEX runs_day ON runs(strategy, market_day);

CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    done_utc TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);

-- The book a market day's decision was made on, kept so a re-run decides the same.
CREATE TABLE day_books (
    strategy TEXT NOT NULL,
    market_day TEXT NOT NULL,
    book TEXT NOT NULL,             -- canonical JSON
    PRIMARY KEY (strategy, market_day)
);

CREATE TABLE decisions (
    strategy TEXT NOT NULL,
    market_day TEXT NOT NULL,
    symbol TEXT NOT NULL,
    action TEXT NOT NULL,           -- allow | block
    reasons TEXT NOT NULL,          -- JSON array of reason codes
    enforced INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (strategy, market_day, symbol)
);

CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    market_day TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,             -- market | stop
    qty TEXT NOT NULL,
    stop_price TEXT,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    broker_order_id TEXT,
    filled_qty TEXT NOT NULL DEFAULT '0',
    avg_price TEXT,
    note TEXT,
    run_id TEXT NOT NULL
);
CREATE INDEX orders_day ON orders(strategy, market_day);

CREATE TABLE order_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    run_id TEXT NOT NULL
);

CREATE TABLE fills (
    fill_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    fee TEXT NOT NULL,
    date TEXT NOT NULL,
    purpose TEXT NOT NULL
);

CREATE TABLE positions (
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    qty TEXT NOT NULL,
    PRIMARY KEY (strategy, symbol)
);

-- The protective stop in force per held symbol (as placed at the broker).
CREATE TABLE stops (
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    level TEXT NOT NULL,
    qty TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    market_day TEXT NOT NULL,
    PRIMARY KEY (strategy, symbol)
);

-- What the strategy carries from one day to the next (stop level, cooldown).
CREATE TABLE strategy_state (
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    stop TEXT,
    cooldown_left INTEGER NOT NULL,
    PRIMARY KEY (strategy, symbol)
);
CREATE TABLE strategy_meta (
    strategy TEXT PRIMARY KEY,
    last_decided TEXT
);

CREATE TABLE equity (
    strategy TEXT NOT NULL,
    market_day TEXT NOT NULL,
    equity TEXT NOT NULL,
    PRIMARY KEY (strategy, market_day)
);

CREATE TABLE reconciliation (
    strategy TEXT NOT NULL,
    market_day TEXT NOT NULL,
    symbol TEXT NOT NULL,
    status TEXT NOT NULL,
    broker_qty TEXT NOT NULL,
    ledger_qty TEXT NOT NULL,
    stops INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (strategy, market_day, symbol)
);

CREATE TABLE acks (
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    market_day TEXT NOT NULL,       -- the reconciliation acknowledged
    acked_utc TEXT NOT NULL,
    PRIMARY KEY (strategy, symbol, market_day)
);

CREATE TABLE done (
    strategy TEXT NOT NULL,
    market_day TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (strategy, market_day)
);
