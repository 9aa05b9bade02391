-- The authorizer: stations and their terminals, fleet accounts with a double-entry ledger,
-- authorizations with their holds, per-card period usage. Conventions as in 0001.

-- Stations belong to the acceptance network, not to a fleet: no org_id.
CREATE TABLE stations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    lat_e6      BIGINT NOT NULL,
    lon_e6      BIGINT NOT NULL,
    time_zone   TEXT NOT NULL,
    products    TEXT NOT NULL,
    created_us  BIGINT NOT NULL
);

CREATE TABLE terminals (
    id             TEXT PRIMARY KEY,
    station_id     TEXT NOT NULL REFERENCES stations(id),
    label          TEXT NOT NULL,
    -- The request-signing secret, wrapped by the HSM: only the HSM can use it.
    secret_wrapped BYTEA NOT NULL,
    status         TEXT NOT NULL,
    created_us     BIGINT NOT NULL,
    version        BIGINT NOT NULL
);

-- Nonces of signed terminal requests, kept for the freshness window, so a replayed
-- request is refused.
CREATE TABLE terminal_nonces (
    terminal_id TEXT NOT NULL REFERENCES terminals(id),
    nonce       TEXT NOT NULL,
    seen_us     BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, nonce)
);

-- One account per fleet. The four balances are kept by postings; the invariant
-- available + held + spent = credited holds after every commit.
CREATE TABLE accounts (
    org_id        TEXT PRIMARY KEY REFERENCES orgs(id),
    currency      TEXT NOT NULL,
    credit_limit  BIGINT NOT NULL,
    credited      BIGINT NOT NULL,
    available     BIGINT NOT NULL,
    held          BIGINT NOT NULL,
    spent         BIGINT NOT NULL,
    version       BIGINT NOT NULL,
    -- The ledger's invariants, asserted by the database on every write.
    CHECK (available + held + spent = credited),
    CHECK (held >= 0 AND spent >= 0 AND credit_limit >= 0),
    CHECK (available + credit_limit >= 0)
);

-- Every movement of money, as a balanced pair: amount leaves `from_bucket` and enters
-- `to_bucket` (funding, available, held, spent).
CREATE TABLE postings (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    authorization_id TEXT,
    kind             TEXT NOT NULL,
    from_bucket      TEXT NOT NULL,
    to_bucket        TEXT NOT NULL,
    amount           BIGINT NOT NULL CHECK (amount > 0),
    at_us            BIGINT NOT NULL
);
CREATE INDEX postings_org ON postings (org_id, at_us);

CREATE TABLE authorizations (
    id                 TEXT PRIMARY KEY,
    -- NULL only for a decline whose payment data named no known token.
    org_id             TEXT REFERENCES orgs(id),
    card_id            TEXT REFERENCES cards(id),
    token_id           TEXT,
    terminal_id        TEXT NOT NULL REFERENCES terminals(id),
    station_id         TEXT NOT NULL REFERENCES stations(id),
    stan               TEXT NOT NULL,
    transmitted_at     TEXT NOT NULL,
    request_hash       TEXT NOT NULL,
    entry_mode         TEXT NOT NULL,
    status             TEXT NOT NULL,
    response_code      TEXT NOT NULL,
    reason             TEXT,
    requested_amount   BIGINT NOT NULL,
    approved_amount    BIGINT NOT NULL,
    approved_volume_ml BIGINT NOT NULL,
    held_amount        BIGINT NOT NULL,
    final_amount       BIGINT,
    final_volume_ml    BIGINT,
    product            TEXT,
    period_day         TEXT NOT NULL,
    period_week        TEXT NOT NULL,
    period_month       TEXT NOT NULL,
    hold_expires_us    BIGINT NOT NULL,
    created_us         BIGINT NOT NULL,
    settled_us         BIGINT,
    response           TEXT NOT NULL,
    trace              TEXT NOT NULL,
    version            BIGINT NOT NULL,
    UNIQUE (terminal_id, stan, transmitted_at)
);
CREATE INDEX authorizations_org_card ON authorizations (org_id, card_id, created_us);
CREATE INDEX authorizations_hold_expiry ON authorizations (status, hold_expires_us);

-- Per card and period (day, ISO week, month in the org's time zone): amounts, volumes and
-- fills, holds included until released.
CREATE TABLE card_usage (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    card_id    TEXT NOT NULL REFERENCES cards(id),
    period     TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    volume_ml  BIGINT NOT NULL,
    fills      BIGINT NOT NULL,
    PRIMARY KEY (card_id, period)
);

-- A reversal that arrived before its original: remembered, so the late original is refused.
CREATE TABLE early_reversals (
    terminal_id    TEXT NOT NULL REFERENCES terminals(id),
    stan           TEXT NOT NULL,
    transmitted_at TEXT NOT NULL,
    received_us    BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, stan, transmitted_at)
);
