-- Limit and stop-limit orders, and how long an order works.
ALTER TABLE orders ADD COLUMN limit_price TEXT;
ALTER TABLE orders ADD COLUMN tif TEXT NOT NULL DEFAULT 'day' CHECK (tif IN ('day', 'gtc', 'ioc'));
-- A stop-limit whose stop was traded through: it now works as a limit order.
ALTER TABLE orders ADD COLUMN triggered INTEGER NOT NULL DEFAULT 0;
-- Stops were always good until canceled.
UPDATE orders SET tif = 'gtc' WHERE stop_price IS NOT NULL;
