-- Indexes the load benchmark showed missing (docs/BENCHMARKS.md).

-- Every terminal request forgets the terminal's old nonces; without this index the DELETE
-- scanned all of the terminal's nonces, so requests got slower as the window filled.
CREATE INDEX terminal_nonces_seen ON terminal_nonces (terminal_id, seen_us);

-- Org-wide listings of fills, newest first (GET /v1/authorizations without a card, the
-- console's dashboard).
CREATE INDEX authorizations_org_created ON authorizations (org_id, created_us);
