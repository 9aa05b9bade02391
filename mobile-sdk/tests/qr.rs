//! QR payment data: it decodes, its cryptogram verifies with the LUK over the documented
//! input, its ATC is spent durably, and it is refused when the clock or the keys say so.

mod common;

use common::*;
use emv::cryptogram::{self, CryptogramInput, EntryMode, Iad};
use emv::qr::CpmPayload;
use mobile_sdk::wallet::{FORECOURT_AID, FORECOURT_LABEL, REPLENISH_BELOW_USES};
use mobile_sdk::{ClockError, FileStore, MemoryStore, SecureStore, StoredToken, WalletError};

/// The input the authorizer rebuilds from a decoded QR payload.
fn rebuilt_input(payload: &CpmPayload) -> (Iad, [u8; cryptogram::INPUT_LEN]) {
    let iad = Iad::parse(&payload.chip.iad).unwrap();
    let input = CryptogramInput {
        entry_mode: EntryMode::Qr,
        token_pan: payload.token.pan(),
        key_index: iad.key_index,
        atc: payload.chip.atc,
        generated_at_ms: iad.generated_at_ms,
        sync_age_s: iad.sync_age_s,
        cdcvm: iad.cdcvm,
        terminal: None,
        card_unpredictable_number: payload.chip.unpredictable_number,
    };
    (iad, input.to_bytes().unwrap())
}

fn token_of<S: SecureStore>(store: &S) -> StoredToken {
    store.tokens().unwrap().into_iter().next().unwrap()
}

#[test]
fn qr_payload_decodes_and_its_cryptogram_verifies_with_the_luk() {
    let issuer = Issuer::new();
    let mut wallet = ready_in_memory(&issuer);
    wallet.clock().advance(600_000);
    let (text, window) = wallet.qr_payload(true).unwrap();
    assert!(text.starts_with("hQVDUFYw"), "EMV CPM, base64");

    let payload = emv::qr::decode(&text).unwrap();
    assert_eq!(payload.aid, FORECOURT_AID);
    assert_eq!(payload.label.as_deref(), Some(FORECOURT_LABEL));
    assert_eq!(payload.token.pan(), TOKEN_PAN);
    assert_eq!(payload.chip.atc, 1);
    let (iad, input) = rebuilt_input(&payload);
    assert!(cryptogram::verify(&luk_for(iad.key_index), &input, &payload.chip.cryptogram));
    let other_key = luk_for(emv::cryptogram::KeyIndex::new(ISSUED_S, 2));
    assert!(!cryptogram::verify(&other_key, &input, &payload.chip.cryptogram));

    // Generated on the synchronised clock, not the phone's (90 s slow) wall clock.
    assert_eq!(iad.generated_at_ms, true_now(wallet.clock()));
    assert_eq!((iad.sync_age_s, iad.cdcvm, iad.imk_version), (600, true, 1));
    assert_eq!(iad.key_index.seq(), 1, "the first key pays first");
    assert_eq!(window.generated_at_ms, iad.generated_at_ms);
    assert_eq!(window.expires_at_ms(), iad.generated_at_ms + 120_000);
    assert_eq!(window.remaining_ms(true_now(wallet.clock()) + 20_000), 100_000);
}

#[test]
fn cdcvm_flag_goes_into_the_input_and_the_iad() {
    let issuer = Issuer::new();
    let mut wallet = ready_in_memory(&issuer);
    let (text, _) = wallet.qr_payload(false).unwrap();
    let payload = emv::qr::decode(&text).unwrap();
    let (iad, input) = rebuilt_input(&payload);
    assert!(!iad.cdcvm);
    assert_eq!(input[cryptogram::offsets::CDCVM], 0);
    assert!(cryptogram::verify(&luk_for(iad.key_index), &input, &payload.chip.cryptogram));
}

#[test]
fn atc_increments_and_is_on_disk_before_the_payload_is_returned() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let issuer = Issuer::new();
    let mut wallet = ready(FileStore::open(&path).unwrap(), &luks(1, 2, 4, EXPIRES_S), &issuer);
    for expected in 1..=3u16 {
        let (text, _) = wallet.qr_payload(true).unwrap();
        assert_eq!(emv::qr::decode(&text).unwrap().chip.atc, expected);
        // Another reader of the file (the app after a crash) already sees the ATC spent.
        assert_eq!(token_of(&FileStore::open(&path).unwrap()).atc, expected);
    }
    drop(wallet);

    let mut reopened = mobile_sdk::Wallet::new(FileStore::open(&path).unwrap(), phone_clock());
    sync(&mut reopened, &issuer).unwrap();
    let (text, _) = reopened.qr_payload(true).unwrap();
    let payload = emv::qr::decode(&text).unwrap();
    assert_eq!(payload.chip.atc, 4);
    let (iad, _) = rebuilt_input(&payload);
    assert_eq!(iad.key_index.seq(), 1, "key 1 had one of its four uses left");
    let token = token_of(reopened.store());
    assert_eq!((token.luks[0].used, token.luks[1].used), (4, 0));
}

fn assert_refused_spending_nothing<S: SecureStore>(
    wallet: &mut TestWallet<S>,
    expected: impl Fn(&WalletError) -> bool,
) {
    let before = token_of(wallet.store()).atc;
    let err = wallet.qr_payload(true).unwrap_err();
    assert!(expected(&err), "unexpected refusal: {err:?}");
    assert_eq!(token_of(wallet.store()).atc, before, "a refusal spends no ATC");
}

#[test]
fn refused_before_the_clock_was_ever_synced() {
    let mut wallet = mobile_sdk::Wallet::new(MemoryStore::new(), phone_clock());
    let public = wallet.public_key_sec1().unwrap();
    wallet.accept_provisioning(&provisioning_answer(&public, &luks(1, 1, 4, EXPIRES_S))).unwrap();
    assert_refused_spending_nothing(&mut wallet, |e| {
        *e == WalletError::Clock(ClockError::NotSynced)
    });
}

#[test]
fn refused_when_the_sync_is_stale() {
    let issuer = Issuer::new();
    let mut wallet = ready_in_memory(&issuer);
    wallet.clock().advance(12 * 3_600_000 + 1);
    assert_refused_spending_nothing(&mut wallet, |e| {
        matches!(e, WalletError::Clock(ClockError::Stale { .. }))
    });
    sync(&mut wallet, &issuer).unwrap();
    assert!(wallet.qr_payload(true).is_ok(), "a new sync cures it");
}

#[test]
fn refused_when_the_phone_clock_jumped_since_the_sync() {
    let issuer = Issuer::new();
    let mut wallet = ready_in_memory(&issuer);
    wallet.clock().advance_wall(-10 * 60_000);
    assert_refused_spending_nothing(&mut wallet, |e| {
        matches!(e, WalletError::Clock(ClockError::ClockJumped { jump_ms: -600_000 }))
    });
}

#[test]
fn budget_used_up_needs_replenish() {
    let issuer = Issuer::new();
    let mut wallet = ready(MemoryStore::new(), &luks(1, 2, 2, EXPIRES_S), &issuer);
    assert_eq!(REPLENISH_BELOW_USES, 4);
    assert!(!wallet.needs_replenish(), "four uses left");
    for atc in 1..=4u16 {
        let (text, _) = wallet.qr_payload(true).unwrap();
        assert_eq!(emv::qr::decode(&text).unwrap().chip.atc, atc);
        assert!(wallet.needs_replenish());
    }
    assert_refused_spending_nothing(&mut wallet, |e| *e == WalletError::NeedsReplenish);
}

#[test]
fn expired_keys_need_replenish() {
    let issuer = Issuer::new();
    let expires_s = u64::try_from(START_MS / 1_000 + 120).unwrap();
    let mut wallet = ready(MemoryStore::new(), &luks(1, 1, 4, expires_s), &issuer);
    assert!(wallet.qr_payload(true).is_ok());
    wallet.clock().advance(120_000);
    assert_refused_spending_nothing(&mut wallet, |e| *e == WalletError::NeedsReplenish);
    assert!(wallet.needs_replenish());
}

#[test]
fn no_token_no_payload() {
    let issuer = Issuer::new();
    let mut wallet = mobile_sdk::Wallet::new(MemoryStore::new(), phone_clock());
    sync(&mut wallet, &issuer).unwrap();
    assert_eq!(wallet.qr_payload(true).unwrap_err(), WalletError::NoToken);
}
