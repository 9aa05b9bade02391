-- Fraud rules, the per-card feature snapshot the rules read, and the review queue.
-- Conventions as in 0001: times are unix microseconds (`*_us`) unless named `_s`.

-- Per-org overrides of the default rule set; an org without rows runs `fraud::default_rules()`.
-- `config` is one `fraud::RuleConfig` as JSON.
CREATE TABLE fraud_rules (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    rule_id    TEXT NOT NULL,
    config     TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, rule_id)
);

-- What the rules know about a card, rewritten in the transaction of each authorization so
-- that the hot path reads one row instead of scanning history. JSON lists hold unix seconds.
CREATE TABLE card_features (
    card_id             TEXT PRIMARY KEY REFERENCES cards(id),
    org_id              TEXT NOT NULL REFERENCES orgs(id),
    recent_fills        TEXT NOT NULL,
    last_fill_s         INTEGER,
    last_station_lat_e6 INTEGER,
    last_station_lon_e6 INTEGER,
    usual_hours         TEXT NOT NULL,
    amount_sum          INTEGER NOT NULL,
    amount_count        INTEGER NOT NULL,
    failure_times       TEXT NOT NULL,
    decline_times       TEXT NOT NULL
);

-- One acting rule hit on one authorization. `observed` is the hit's values (JSON).
CREATE TABLE alerts (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    authorization_id TEXT NOT NULL REFERENCES authorizations(id),
    card_id          TEXT NOT NULL REFERENCES cards(id),
    rule_id          TEXT NOT NULL,
    risk             INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'taken', 'confirmed_fraud', 'false_positive')),
    assignee_id      TEXT REFERENCES users(id),
    created_us       INTEGER NOT NULL,
    resolved_us      INTEGER,
    reason           TEXT NOT NULL,
    observed         TEXT NOT NULL
);
CREATE INDEX alerts_queue ON alerts (status, risk, created_us);
CREATE INDEX alerts_rule ON alerts (org_id, rule_id, created_us);

CREATE TABLE alert_comments (
    id        TEXT PRIMARY KEY,
    alert_id  TEXT NOT NULL REFERENCES alerts(id),
    org_id    TEXT NOT NULL REFERENCES orgs(id),
    author_id TEXT NOT NULL REFERENCES users(id),
    body      TEXT NOT NULL,
    at_us     INTEGER NOT NULL
);
CREATE INDEX alert_comments_alert ON alert_comments (alert_id, at_us);

