-- The cash the ledger expects each book's account to hold: anchored at the broker's cash the
-- first time the book is reconciled, then moved by every fill the ledger books for it
-- (exactly once, in the fill's own transaction).
CREATE TABLE book_cash (
    strategy TEXT PRIMARY KEY,
    cash TEXT NOT NULL,
    anchored_day TEXT NOT NULL,
    -- The last daily check: its day, and the broker's cash minus the ledger's when they
    -- disagreed (NULL: they agreed, or someone acknowledged the difference).
    checked_day TEXT,
    mismatch TEXT
);
