//! Signed time: only an answer to this wallet's nonce, signed by the pinned key, sets the
//! clock.

mod common;

use common::*;
use mobile_sdk::{
    ClockError, ClockSample, FileStore, MemoryStore, SecureStore, Wallet, WalletError,
};

fn fresh_wallet() -> TestWallet<MemoryStore> {
    Wallet::new(MemoryStore::new(), phone_clock())
}

/// The clock stays unsynced after a refusal.
fn assert_not_synced<S: SecureStore>(wallet: &TestWallet<S>) {
    assert_eq!(wallet.now_ms().unwrap_err(), WalletError::Clock(ClockError::NotSynced));
}

#[test]
fn first_sync_pins_the_time_key_and_sets_the_clock() {
    let issuer = Issuer::new();
    let mut wallet = fresh_wallet();
    sync(&mut wallet, &issuer).unwrap();
    assert_eq!(wallet.store().pinned_time_key().unwrap(), Some(issuer.time_key_sec1()));
    assert_eq!(wallet.now_ms().unwrap(), true_now(wallet.clock()));
    assert_eq!(wallet.clock_sync().offset_ms(), Some(PHONE_BEHIND_MS));
    assert_eq!(wallet.clock_sync().round_trip_ms(), Some(200));
}

#[test]
fn time_signed_by_another_key_is_refused_after_pinning() {
    let issuer = Issuer::new();
    let mut wallet = fresh_wallet();
    sync(&mut wallet, &issuer).unwrap();
    let impostor = Issuer::new();
    assert_eq!(sync(&mut wallet, &impostor).unwrap_err(), WalletError::TimeKeyMismatch);
    assert_eq!(wallet.store().pinned_time_key().unwrap(), Some(issuer.time_key_sec1()));
}

#[test]
fn an_app_pinned_key_refuses_any_other_from_the_start() {
    let issuer = Issuer::new();
    let mut wallet = fresh_wallet();
    wallet.pin_time_key(&issuer.time_key_sec1()).unwrap();
    assert_eq!(sync(&mut wallet, &Issuer::new()).unwrap_err(), WalletError::TimeKeyMismatch);
    assert_not_synced(&wallet);
    sync(&mut wallet, &issuer).unwrap();
}

#[test]
fn the_pin_survives_reopening_the_wallet_file() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let issuer = Issuer::new();
    sync(&mut Wallet::new(FileStore::open(&path).unwrap(), phone_clock()), &issuer).unwrap();
    let mut reopened = Wallet::new(FileStore::open(&path).unwrap(), phone_clock());
    assert_eq!(sync(&mut reopened, &Issuer::new()).unwrap_err(), WalletError::TimeKeyMismatch);
    sync(&mut reopened, &issuer).unwrap();
}

#[test]
fn an_answer_for_another_nonce_is_refused() {
    let issuer = Issuer::new();
    let mut wallet = fresh_wallet();
    let sent_nonce = wallet.time_nonce().unwrap();
    let other_nonce = base64_nonce([9u8; 16]);
    assert_ne!(sent_nonce, other_nonce);
    let sent = ClockSample::take(wallet.clock());
    let answer = issuer.signed_time(&other_nonce, true_now(wallet.clock()));
    assert_eq!(wallet.sync(sent, sent, &answer).unwrap_err(), WalletError::TimeNonce);
    assert_not_synced(&wallet);
}

#[test]
fn an_answer_is_accepted_once_and_only_for_the_latest_nonce() {
    let issuer = Issuer::new();
    let mut wallet = fresh_wallet();
    let first = wallet.time_nonce().unwrap();
    let _second = wallet.time_nonce().unwrap();
    let sent = ClockSample::take(wallet.clock());
    let stale = issuer.signed_time(&first, true_now(wallet.clock()));
    assert_eq!(wallet.sync(sent, sent, &stale).unwrap_err(), WalletError::TimeNonce);

    let nonce = wallet.time_nonce().unwrap();
    let answer = issuer.signed_time(&nonce, true_now(wallet.clock()));
    wallet.sync(sent, sent, &answer).unwrap();
    // Replaying the same answer later (to set the clock back) is refused.
    assert_eq!(wallet.sync(sent, sent, &answer).unwrap_err(), WalletError::TimeNonce);
}

#[test]
fn a_signature_over_another_time_is_refused() {
    let issuer = Issuer::new();
    let mut wallet = fresh_wallet();
    let nonce = wallet.time_nonce().unwrap();
    let sent = ClockSample::take(wallet.clock());
    let mut answer = issuer.signed_time(&nonce, true_now(wallet.clock()));
    answer.server_time_ms += 3_600_000;
    assert_eq!(wallet.sync(sent, sent, &answer).unwrap_err(), WalletError::TimeSignature);
    assert_not_synced(&wallet);
    assert_eq!(wallet.store().pinned_time_key().unwrap(), None, "nothing pinned on failure");
}

#[test]
fn a_slow_round_trip_is_refused_by_the_clock() {
    let issuer = Issuer::new();
    let mut wallet = fresh_wallet();
    let nonce = wallet.time_nonce().unwrap();
    let sent = ClockSample::take(wallet.clock());
    wallet.clock().advance(6_000);
    let answer = issuer.signed_time(&nonce, true_now(wallet.clock()));
    let received = ClockSample::take(wallet.clock());
    assert!(matches!(
        wallet.sync(sent, received, &answer).unwrap_err(),
        WalletError::Clock(ClockError::RoundTripTooLong { round_trip_ms: 6_000 })
    ));
}

fn base64_nonce(bytes: [u8; 16]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
