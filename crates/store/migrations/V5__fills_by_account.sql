-- Fills are keyed by the account that made them: brokers number fills per account, so two
-- accounts in one home may both have a fill "paper-fill-1" and neither may be dropped.
CREATE TABLE fills_by_account (
    account TEXT NOT NULL,
    fill_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    fee TEXT NOT NULL,
    date TEXT NOT NULL,
    purpose TEXT NOT NULL,
    PRIMARY KEY (account, fill_id)
);
INSERT INTO fills_by_account (account, fill_id, client_order_id, strategy, symbol, side, qty,
                              price, fee, date, purpose)
    SELECT COALESCE((SELECT b.account FROM books b WHERE b.strategy = f.strategy), 'paper'),
           f.fill_id, f.client_order_id, f.strategy, f.symbol, f.side, f.qty, f.price, f.fee,
           f.date, f.purpose
    FROM fills f ORDER BY f.rowid;
DROP TABLE fills;
ALTER TABLE fills_by_account RENAME TO fills;
CREATE INDEX fills_strategy ON fills(strategy, date);
