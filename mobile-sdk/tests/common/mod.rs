//! A fake issuer for the wallet tests: seals LUK batches to the phone and signs time,
//! with the shared `emv` formats and its own keys — no server code.

#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use emv::cryptogram::{KeyIndex, LUK_LEN};
use emv::luk_batch::{self, LukEntry};
use mobile_sdk::{
    ClockSample, DeviceClock, ManualClock, MemoryStore, SecureStore, SignedTime, Wallet,
    WalletError,
};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::json;
use zeroize::Zeroizing;

/// The phone's wall clock is this far behind the true (server) time, so a test can tell
/// the synchronised time from the wall clock.
pub const PHONE_BEHIND_MS: i64 = 90_000;
/// True time when a test starts: 2026-11-23T00:01:40Z.
pub const START_MS: i64 = 1_795_392_100_000;
/// When the test LUKs expire: a day after their batch.
pub const EXPIRES_S: u64 = 1_795_478_400;
pub const ISSUED_S: u32 = 1_795_392_000;
pub const TOKEN_PAN: &str = "7001990000001234";
pub const TOKEN_ID: &str = "0193b6c0-0000-7000-8000-000000000001";
pub const CARD_ID: &str = "0193b6c0-0000-7000-8000-0000000000c1";

pub type TestWallet<S> = Wallet<S, ManualClock>;

/// The issuer's time key.
pub struct Issuer {
    time_key: SigningKey,
}

impl Issuer {
    pub fn new() -> Issuer {
        Issuer { time_key: SigningKey::random(&mut rand::rngs::OsRng) }
    }

    pub fn time_key_sec1(&self) -> Vec<u8> {
        self.time_key.verifying_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// `GET /v1/time` as the server answers it.
    pub fn signed_time(&self, nonce_b64: &str, server_time_ms: i64) -> SignedTime {
        let nonce = B64.decode(nonce_b64).unwrap();
        let message =
            [b"forecourt/time/v1".as_slice(), &nonce, &server_time_ms.to_be_bytes()].concat();
        let signature: Signature = self.time_key.sign(&message);
        SignedTime {
            server_time_ms,
            nonce: nonce_b64.to_owned(),
            signature: B64.encode(signature.to_bytes()),
            public_key: B64.encode(self.time_key_sec1()),
        }
    }
}

/// The LUK the fake HSM derives for `key_index` (any fixed function will do here).
pub fn luk_for(key_index: KeyIndex) -> [u8; LUK_LEN] {
    let mut luk = [0x5Au8; LUK_LEN];
    luk[..6].copy_from_slice(key_index.as_bytes());
    luk
}

/// `count` LUKs from sequence number `first`, each allowing `max_uses` and expiring at
/// `expires_at_s`.
pub fn luks(first: u16, count: u16, max_uses: u16, expires_at_s: u64) -> Vec<LukEntry> {
    (first..first + count)
        .map(|seq| {
            let key_index = KeyIndex::new(ISSUED_S, seq);
            LukEntry { key_index, luk: Zeroizing::new(luk_for(key_index)), expires_at_s, max_uses }
        })
        .collect()
}

/// The body of a provisioning (or replenishment) answer, batch sealed to `device_public`.
pub fn provisioning_answer(device_public: &[u8], entries: &[LukEntry]) -> String {
    let batch = luk_batch::seal(device_public, TOKEN_ID, entries).unwrap();
    let luks: Vec<_> = entries
        .iter()
        .map(|l| json!({"key_index": hex::encode(l.key_index.as_bytes()), "expires_at": "2026-11-24T00:00:00Z", "max_uses": l.max_uses, "used": 0}))
        .collect();
    json!({
        "token": {
            "id": TOKEN_ID, "card_id": CARD_ID, "device_id": "0193b6c0-0000-7000-8000-000000000d01",
            "token_last4": "1234", "expiry": "2029-11", "status": "active", "imk_version": 1,
            "created_at": "2026-11-23T00:00:00Z"
        },
        "token_pan": TOKEN_PAN,
        "luks": luks,
        "batch": batch,
    })
    .to_string()
}

/// A phone clock at the test start, [`PHONE_BEHIND_MS`] behind the true time.
pub fn phone_clock() -> ManualClock {
    ManualClock::new(START_MS - PHONE_BEHIND_MS, 10_000)
}

/// The true time, as long as nobody changed the phone's wall clock.
pub fn true_now(clock: &ManualClock) -> i64 {
    clock.wall_ms() + PHONE_BEHIND_MS
}

/// One `GET /v1/time` round trip of 200 ms, symmetric, answered by `issuer`.
pub fn sync<S: SecureStore>(
    wallet: &mut TestWallet<S>,
    issuer: &Issuer,
) -> Result<(), WalletError> {
    let nonce = wallet.time_nonce()?;
    let sent = ClockSample::take(wallet.clock());
    wallet.clock().advance(100);
    let answer = issuer.signed_time(&nonce, true_now(wallet.clock()));
    wallet.clock().advance(100);
    wallet.sync(sent, ClockSample::take(wallet.clock()), &answer)
}

/// A wallet over `store` with a token holding `entries`, synced.
pub fn ready<S: SecureStore>(store: S, entries: &[LukEntry], issuer: &Issuer) -> TestWallet<S> {
    let mut wallet = Wallet::new(store, phone_clock());
    let public = wallet.public_key_sec1().unwrap();
    wallet.accept_provisioning(&provisioning_answer(&public, entries)).unwrap();
    sync(&mut wallet, issuer).unwrap();
    wallet
}

/// A memory wallet with two keys of four uses each, synced.
pub fn ready_in_memory(issuer: &Issuer) -> TestWallet<MemoryStore> {
    ready(MemoryStore::new(), &luks(1, 2, 4, EXPIRES_S), issuer)
}

/// A fresh directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("mobile-sdk-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
