-- An account whose clock is inside a session replays that session's one-minute bars (the
-- tape): an order placed then works from the instant it was placed…
ALTER TABLE orders ADD COLUMN active_from TEXT;
-- …and the tape is replayed once: through this instant so far.
ALTER TABLE account ADD COLUMN tape_through TEXT;
