-- What `systrade data fetch` downloaded for a price dataset: the vendor's rows rendered as a
-- CSV in the vendor's layout (so the next fetch continues from them and re-adjusts the whole
-- series), the provider, whether the last row was a still-open candle, and since when.
CREATE TABLE fetched (
    dataset    TEXT PRIMARY KEY,
    provider   TEXT NOT NULL,
    csv        TEXT NOT NULL,
    open_last  INTEGER NOT NULL,
    -- The earliest date a fetch asked for (an earlier --start backfills; a later one does not).
    since      TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);

-- News sentiment per ticker and article (Alpha Vantage NEWS_SENTIMENT): the day it was
-- published, the sentiment about this ticker, and the article itself.
CREATE TABLE news (
    ticker    TEXT NOT NULL,
    published TEXT NOT NULL,
    url       TEXT NOT NULL,
    date      TEXT NOT NULL,
    score     REAL NOT NULL,
    label     TEXT NOT NULL,
    relevance REAL NOT NULL,
    headline  TEXT NOT NULL,
    source    TEXT NOT NULL,
    PRIMARY KEY (ticker, published, url)
) WITHOUT ROWID;
