-- The paper broker's own state: one account per file.
CREATE TABLE account (
    id TEXT PRIMARY KEY,
    currency TEXT NOT NULL,
    cash TEXT NOT NULL,
    -- Last fully formed bar date processed (stops checked, day orders expired).
    synced_through TEXT,
    -- The latest session any caller asked about: the clock never goes back.
    session TEXT
);

CREATE TABLE orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty TEXT NOT NULL,
    stop_price TEXT,
    session TEXT NOT NULL,
    status TEXT NOT NULL,
    filled_qty TEXT NOT NULL DEFAULT '0',
    avg_price TEXT,
    reason TEXT,
    -- A partial-fill fault to apply at the fill (fraction), when injected.
    partial TEXT,
    -- The bar whose open a market order was tried at (it gets one try, then expires).
    tried_on TEXT
);
CREATE INDEX orders_open ON orders(status, symbol);

CREATE TABLE fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    fee TEXT NOT NULL,
    date TEXT NOT NULL
);

CREATE TABLE positions (
    symbol TEXT PRIMARY KEY,
    qty TEXT NOT NULL,
    cost TEXT NOT NULL
);
