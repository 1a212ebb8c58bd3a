-- The cohort books of each monthly formation a strategy traded (momentum): the ledger's
-- record to compare a later recomputation against.
CREATE TABLE formations (
    strategy TEXT NOT NULL,
    month TEXT NOT NULL,
    formation_date TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (strategy, month)
);
