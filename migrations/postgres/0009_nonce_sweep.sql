-- Old nonces are forgotten by a periodic sweep across all terminals, oldest first
-- (`Authorizer::forget_old_nonces`), no longer by each request for its own terminal:
-- the index that served the per-terminal DELETE gives way to one on the time alone.
DROP INDEX terminal_nonces_seen;
CREATE INDEX terminal_nonces_seen ON terminal_nonces (seen_us);
