-- Execution levels (spec/execution-and-buckets.md §2): what each order was decided at, whether
-- it waits for `systrade approve`, and the books (strategies or trade-sheet books) the ledger
-- keeps with their broker account.
ALTER TABLE orders ADD COLUMN decision_price TEXT;
-- NULL: no approval needed; 'pending': staged until approved; 'approved'; 'manual': the
-- manual level (traded by hand, never sent).
ALTER TABLE orders ADD COLUMN approval TEXT;

CREATE TABLE books (
    strategy TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('system', 'sheet')),
    account TEXT NOT NULL
);
INSERT OR IGNORE INTO books (strategy, kind, account)
    SELECT strategy, 'system', account FROM runs GROUP BY strategy;
