-- Tokens: enrolled phones, payment tokens, limited-use keys (LUK metadata only: the keys
-- themselves are derived in the HSM), enrolment challenges. Conventions as in 0001.

CREATE TABLE device_challenges (
    challenge_hash TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs(id),
    user_id        TEXT NOT NULL REFERENCES users(id),
    expires_us     INTEGER NOT NULL,
    used_us        INTEGER
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    -- SEC1 uncompressed P-256 public key (65 bytes); the private key never leaves the phone.
    public_key  BLOB NOT NULL,
    label       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    revoked_us  INTEGER,
    version     INTEGER NOT NULL
);
CREATE INDEX devices_org_user ON devices (org_id, user_id);

CREATE TABLE payment_tokens (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES orgs(id),
    card_id               TEXT NOT NULL REFERENCES cards(id),
    device_id             TEXT NOT NULL REFERENCES devices(id),
    token_pan_ciphertext  BLOB NOT NULL,
    token_pan_fingerprint BLOB NOT NULL UNIQUE,
    token_last4           TEXT NOT NULL,
    expiry                TEXT NOT NULL,
    status                TEXT NOT NULL,
    imk_version           INTEGER NOT NULL,
    -- Anti-replay window: highest ATC seen (-1: none yet) and a bitmap of the 64 below it.
    atc_high              INTEGER NOT NULL,
    atc_seen              INTEGER NOT NULL,
    next_luk_seq          INTEGER NOT NULL,
    created_us            INTEGER NOT NULL,
    updated_us            INTEGER NOT NULL,
    version               INTEGER NOT NULL
);
CREATE INDEX payment_tokens_card ON payment_tokens (org_id, card_id);
CREATE UNIQUE INDEX payment_tokens_one_live_per_device
    ON payment_tokens (card_id, device_id) WHERE status <> 'deleted';

CREATE TABLE luks (
    token_id    TEXT NOT NULL REFERENCES payment_tokens(id),
    key_index   TEXT NOT NULL,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    issued_us   INTEGER NOT NULL,
    expires_s   INTEGER NOT NULL,
    max_uses    INTEGER NOT NULL,
    used_count  INTEGER NOT NULL,
    PRIMARY KEY (token_id, key_index)
);
