-- Issuing: fleets, their people and vehicles, cards, controls, audit, sessions.
-- Conventions (shared with migrations/sqlite): ids are UUID text; times are INTEGER unix
-- microseconds (`*_us`); money and volume are INTEGER minor units / millilitres; JSON documents
-- are TEXT; flags are status TEXT, never booleans. Every fleet table carries org_id.
-- `version` is the optimistic-concurrency counter: every UPDATE checks and bumps it.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    version     INTEGER NOT NULL
);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    parent_id   TEXT REFERENCES groups(id),
    -- Materialised path '/<root id>/.../<own id>/': a subtree is `path LIKE '<path>%'`.
    path        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    version     INTEGER NOT NULL
);
CREATE INDEX groups_org_path ON groups (org_id, path);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    -- NULL only for platform staff (operator, fraud_analyst).
    org_id            TEXT REFERENCES orgs(id),
    email             TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL,
    group_id          TEXT REFERENCES groups(id),
    status            TEXT NOT NULL,
    password_hash     TEXT,
    invite_hash       TEXT UNIQUE,
    invite_expires_us INTEGER,
    created_us        INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    CHECK ((org_id IS NULL) = (role IN ('operator', 'fraud_analyst')))
);
CREATE INDEX users_org ON users (org_id, role);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    org_id      TEXT REFERENCES orgs(id),
    created_us  INTEGER NOT NULL,
    expires_us  INTEGER NOT NULL,
    revoked_us  INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens are stored as SHA-256 hashes; a used one is kept so that its reuse can be
-- detected (and the whole session revoked).
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    issued_us   INTEGER NOT NULL,
    expires_us  INTEGER NOT NULL,
    used_us     INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE vehicles (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    group_id         TEXT REFERENCES groups(id),
    plate            TEXT NOT NULL,
    products         TEXT NOT NULL,
    tank_capacity_ml INTEGER NOT NULL,
    status           TEXT NOT NULL,
    created_us       INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    UNIQUE (org_id, plate)
);

CREATE TABLE cards (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    group_id        TEXT REFERENCES groups(id),
    -- The PAN exists here only as HSM ciphertext, a keyed fingerprint and its last four.
    pan_ciphertext  BLOB NOT NULL,
    pan_fingerprint BLOB NOT NULL UNIQUE,
    pan_last4       TEXT NOT NULL,
    pan_key_version INTEGER NOT NULL,
    expiry          TEXT NOT NULL,
    status          TEXT NOT NULL,
    status_reason   TEXT,
    driver_id       TEXT REFERENCES users(id),
    vehicle_id      TEXT REFERENCES vehicles(id),
    created_us      INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL,
    version         INTEGER NOT NULL
);
CREATE INDEX cards_org_group ON cards (org_id, group_id);
CREATE INDEX cards_org_driver ON cards (org_id, driver_id);

CREATE TABLE card_bindings (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    card_id     TEXT NOT NULL REFERENCES cards(id),
    driver_id   TEXT REFERENCES users(id),
    vehicle_id  TEXT REFERENCES vehicles(id),
    bound_us    INTEGER NOT NULL,
    unbound_us  INTEGER,
    actor_id    TEXT NOT NULL
);
CREATE INDEX card_bindings_card ON card_bindings (org_id, card_id, bound_us);

CREATE TABLE controls (
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    level       TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    document    TEXT NOT NULL,
    updated_us  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    PRIMARY KEY (org_id, level, subject_id)
);

CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    -- NULL for platform-level events (staff accounts).
    org_id       TEXT,
    subject_type TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    card_id      TEXT,
    action       TEXT NOT NULL,
    actor_id     TEXT,
    actor_role   TEXT,
    at_us        INTEGER NOT NULL,
    reason       TEXT,
    before_doc   TEXT,
    after_doc    TEXT
);
CREATE INDEX audit_events_card ON audit_events (org_id, card_id, at_us);
CREATE INDEX audit_events_subject ON audit_events (org_id, subject_id, at_us);

-- The audit log is append-only, enforced by the database itself.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TABLE idempotency_keys (
    actor_id     TEXT NOT NULL,
    key          TEXT NOT NULL,
    org_id       TEXT,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_us   INTEGER NOT NULL,
    PRIMARY KEY (actor_id, key)
);
