-- Trades the user manages by hand (spec/execution-and-buckets.md §6): each opens a long
-- (side buy) or short (side sell) position; closes take it down, partly or fully.
CREATE TABLE manual_trades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    date TEXT NOT NULL,
    fees TEXT NOT NULL,
    stop TEXT,
    tags TEXT NOT NULL,
    notes TEXT NOT NULL
);
CREATE TABLE manual_closes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trade_id INTEGER NOT NULL REFERENCES manual_trades (id),
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    date TEXT NOT NULL,
    fees TEXT NOT NULL
);
