-- A limit order's price (a sheet's limit_price): the broker gets a limit order, not a market one.
ALTER TABLE orders ADD COLUMN limit_price TEXT;
