-- Daily bars, one row per ticker and market date (the contract of DESIGN §5).
CREATE TABLE prices (
    ticker TEXT NOT NULL,
    date   TEXT NOT NULL,
    open   REAL NOT NULL,
    high   REAL NOT NULL,
    low    REAL NOT NULL,
    close  REAL NOT NULL,
    volume REAL NOT NULL,
    PRIMARY KEY (ticker, date)
) WITHOUT ROWID;

-- Intraday bars keyed by their UTC open time (RFC 3339) and bar length in seconds.
CREATE TABLE prices_intraday (
    ticker     TEXT NOT NULL,
    interval_s INTEGER NOT NULL,
    ts         TEXT NOT NULL,
    open       REAL NOT NULL,
    high       REAL NOT NULL,
    low        REAL NOT NULL,
    close      REAL NOT NULL,
    volume     REAL NOT NULL,
    PRIMARY KEY (ticker, interval_s, ts)
) WITHOUT ROWID;

-- What each price series is: its market, vendor layout, source basis and adjustment applied.
-- interval_s is 86400 for daily series.
CREATE TABLE instruments (
    ticker       TEXT NOT NULL,
    interval_s   INTEGER NOT NULL,
    market       TEXT NOT NULL,
    format       TEXT NOT NULL,
    source_basis TEXT NOT NULL,
    adjust       TEXT NOT NULL,
    PRIMARY KEY (ticker, interval_s)
);

CREATE TABLE sectors (
    ticker    TEXT PRIMARY KEY,
    sector    TEXT NOT NULL,
    subsector TEXT,
    name      TEXT,
    source    TEXT NOT NULL
);

CREATE TABLE rate_series (
    series TEXT PRIMARY KEY,
    unit   TEXT NOT NULL
);

CREATE TABLE rates (
    series TEXT NOT NULL,
    date   TEXT NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (series, date)
) WITHOUT ROWID;

-- Splits and cash events; `source` is the dataset key of the import that wrote them.
CREATE TABLE corporate_actions (
    ticker     TEXT NOT NULL,
    date       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    value      REAL NOT NULL,
    per_shares REAL,
    source     TEXT NOT NULL
);
CREATE INDEX corporate_actions_ticker ON corporate_actions (ticker, date);

CREATE TABLE index_weights (
    index_name      TEXT NOT NULL,
    ticker          TEXT NOT NULL,
    name            TEXT,
    kind            TEXT,
    theoretical_qty REAL,
    weight_pct      REAL NOT NULL,
    PRIMARY KEY (index_name, ticker)
);

-- Provenance: one row per import of a dataset (a price series, a rate series, a sector file…).
CREATE TABLE imports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset      TEXT NOT NULL,
    source_file  TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    options      TEXT NOT NULL,
    rows_read    INTEGER NOT NULL,
    rows_stored  INTEGER NOT NULL,
    rows_flagged INTEGER NOT NULL,
    rows_skipped INTEGER NOT NULL,
    notes        TEXT NOT NULL,
    imported_at  TEXT NOT NULL
);
CREATE INDEX imports_dataset ON imports (dataset, id);

-- Rows kept out of trading decisions under --on-bad-row flag, with the file's own values.
CREATE TABLE flagged_rows (
    ticker     TEXT NOT NULL,
    interval_s INTEGER NOT NULL,
    ts         TEXT NOT NULL,
    line       INTEGER NOT NULL,
    flag       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    open       REAL NOT NULL,
    high       REAL NOT NULL,
    low        REAL NOT NULL,
    close      REAL NOT NULL,
    volume     REAL NOT NULL,
    import_id  INTEGER NOT NULL,
    PRIMARY KEY (ticker, interval_s, ts)
);
