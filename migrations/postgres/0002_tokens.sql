-- Tokens: enrolled phones, payment tokens, limited-use keys (LUK metadata only: the keys
-- themselves are derived in the HSM), enrolment challenges. Conventions as in 0001.

CREATE TABLE device_challenges (
    challenge_hash TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs(id),
    user_id        TEXT NOT NULL REFERENCES users(id),
    expires_us     BIGINT NOT NULL,
    used_us        BIGINT
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    -- SEC1 uncompressed P-256 public key (65 bytes); the private key never leaves the phone.
    public_key  BYTEA NOT NULL,
    label       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    revoked_us  BIGINT,
    version     BIGINT NOT NULL
);
CREATE INDEX devices_org_user ON devices (org_id, user_id);

CREATE TABLE payment_tokens (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES orgs(id),
    card_id               TEXT NOT NULL REFERENCES cards(id),
    device_id             TEXT NOT NULL REFERENCES devices(id),
    token_pan_ciphertext  BYTEA NOT NULL,
    token_pan_fingerprint BYTEA NOT NULL UNIQUE,
    token_last4           TEXT NOT NULL,
    expiry                TEXT NOT NULL,
    status                TEXT NOT NULL,
    imk_version           BIGINT NOT NULL,
    -- Anti-replay window: highest ATC seen (-1: none yet) and a bitmap of the 64 below it.
    atc_high              BIGINT NOT NULL,
    atc_seen              BIGINT NOT NULL,
    next_luk_seq          BIGINT NOT NULL,
    created_us            BIGINT NOT NULL,
    updated_us            BIGINT NOT NULL,
    version               BIGINT NOT NULL
);
CREATE INDEX payment_tokens_card ON payment_tokens (org_id, card_id);
CREATE UNIQUE INDEX payment_tokens_one_live_per_device
    ON payment_tokens (card_id, device_id) WHERE status <> 'deleted';

CREATE TABLE luks (
    token_id    TEXT NOT NULL REFERENCES payment_tokens(id),
    key_index   TEXT NOT NULL,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    issued_us   BIGINT NOT NULL,
    expires_s   BIGINT NOT NULL,
    max_uses    BIGINT NOT NULL,
    used_count  BIGINT NOT NULL,
    PRIMARY KEY (token_id, key_index)
);
