//! Enrolment, provisioning and replenishment messages, checked against the formats of
//! docs/API.md and crates/tokens (rebuilt here by hand, not with the SDK's helpers).

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use common::*;
use emv::cryptogram::KeyIndex;
use mobile_sdk::{MemoryStore, SecureStore, Wallet, WalletError};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

fn verifies(public: &[u8], message: &[u8], signature_b64: &str) -> bool {
    let key = VerifyingKey::from_sec1_bytes(public).unwrap();
    let signature = Signature::from_slice(&B64.decode(signature_b64).unwrap()).unwrap();
    key.verify(message, &signature).is_ok()
}

#[test]
fn the_device_key_is_made_once_and_enrolment_proves_it() {
    let mut wallet = Wallet::new(MemoryStore::new(), phone_clock());
    let public = wallet.public_key_sec1().unwrap();
    assert_eq!((public.len(), public[0]), (65, 0x04));
    assert_eq!(wallet.public_key_sec1().unwrap(), public, "made on first use only");

    let challenge = [7u8; 32];
    let message = [b"forecourt/enrol/v1".as_slice(), &challenge, &public].concat();
    assert_eq!(wallet.enrol_message(&challenge).unwrap(), message);
    let request = wallet.enrol_request(&B64.encode(challenge), "Anna's phone").unwrap();
    assert_eq!(B64.decode(&request.public_key).unwrap(), public);
    assert_eq!(request.challenge, B64.encode(challenge));
    assert!(verifies(&public, &message, &request.signature));
    assert!(!verifies(&public, &[message.as_slice(), b"x"].concat(), &request.signature));
}

#[test]
fn a_batch_sealed_to_another_phone_is_refused_and_nothing_is_stored() {
    let mut wallet = Wallet::new(MemoryStore::new(), phone_clock());
    wallet.public_key_sec1().unwrap();
    let mut other = Wallet::new(MemoryStore::new(), phone_clock());
    let other_public = other.public_key_sec1().unwrap();
    let answer = provisioning_answer(&other_public, &luks(1, 2, 4, EXPIRES_S));
    assert_eq!(wallet.accept_provisioning(&answer).unwrap_err(), WalletError::Batch);
    assert!(wallet.store().tokens().unwrap().is_empty());
}

#[test]
fn a_malformed_answer_names_the_field_not_the_value() {
    let mut wallet = Wallet::new(MemoryStore::new(), phone_clock());
    let public = wallet.public_key_sec1().unwrap();
    let answer = provisioning_answer(&public, &luks(1, 1, 4, EXPIRES_S))
        .replace(TOKEN_PAN, "70019900000012x4");
    let err = wallet.accept_provisioning(&answer).unwrap_err();
    assert_eq!(err, WalletError::Provisioning("token_pan"));
    assert!(!err.to_string().contains("700199"));
}

#[test]
fn provisioning_stores_token_and_keys() {
    let issuer = Issuer::new();
    let wallet = ready(MemoryStore::new(), &luks(1, 3, 4, EXPIRES_S), &issuer);
    let tokens = wallet.tokens().unwrap();
    assert_eq!(tokens.len(), 1);
    let summary = &tokens[0];
    assert_eq!((summary.token_id.as_str(), summary.card_id.as_str()), (TOKEN_ID, CARD_ID));
    assert_eq!((summary.last4.as_str(), summary.imk_version), ("1234", 1));
    assert_eq!((summary.atc, summary.usable_keys, summary.uses_left), (0, 3, 12));
}

#[test]
fn replenish_request_is_signed_over_the_documented_message() {
    let issuer = Issuer::new();
    let mut wallet = ready(MemoryStore::new(), &luks(1, 2, 2, EXPIRES_S), &issuer);
    for _ in 0..3 {
        wallet.qr_payload(true).unwrap();
    }
    let now = wallet.now_ms().unwrap();
    let request = wallet.replenish_request(now).unwrap();
    assert_eq!(request.token_id, TOKEN_ID);

    let body = serde_json::to_value(&request).unwrap();
    let expected_reports = serde_json::json!([
        {"key_index": hex::encode(KeyIndex::new(ISSUED_S, 1).as_bytes()), "used": 2},
        {"key_index": hex::encode(KeyIndex::new(ISSUED_S, 2).as_bytes()), "used": 1},
    ]);
    assert_eq!(body["reports"], expected_reports);
    assert_eq!(body["issued_at_ms"], now);
    assert_eq!(body.as_object().unwrap().len(), 3, "exactly issued_at_ms, reports, signature");

    // domain ‖ token id ‖ issued_at_ms (i64 BE) ‖ (key index ‖ used u16 BE) by key index
    let mut message = [b"forecourt/replenish/v1".as_slice(), TOKEN_ID.as_bytes()].concat();
    message.extend_from_slice(&now.to_be_bytes());
    for (seq, used) in [(1u16, 2u16), (2, 1)] {
        message.extend_from_slice(KeyIndex::new(ISSUED_S, seq).as_bytes());
        message.extend_from_slice(&used.to_be_bytes());
    }
    let public = wallet.public_key_sec1().unwrap();
    assert!(verifies(&public, &message, body["signature"].as_str().unwrap()));
}

#[test]
fn replenishment_adds_keys_and_keeps_the_counter() {
    let issuer = Issuer::new();
    let mut wallet = ready(MemoryStore::new(), &luks(1, 1, 2, EXPIRES_S), &issuer);
    wallet.qr_payload(true).unwrap();
    wallet.qr_payload(true).unwrap();
    assert_eq!(wallet.qr_payload(true).unwrap_err(), WalletError::NeedsReplenish);

    let public = wallet.public_key_sec1().unwrap();
    let answer = provisioning_answer(&public, &luks(2, 2, 2, EXPIRES_S));
    let summary = wallet.accept_replenishment(&answer).unwrap();
    assert_eq!((summary.atc, summary.usable_keys, summary.uses_left), (2, 2, 4));
    let (text, _) = wallet.qr_payload(true).unwrap();
    assert_eq!(emv::qr::decode(&text).unwrap().chip.atc, 3);
    // The spent key is still reported: the server saw its uses.
    let reports = wallet.replenish_request(wallet.now_ms().unwrap()).unwrap().reports;
    assert_eq!(reports.iter().map(|r| r.used).collect::<Vec<_>>(), [2, 1]);
}

#[test]
fn replenishment_for_an_unknown_token_is_refused() {
    let mut wallet = Wallet::new(MemoryStore::new(), phone_clock());
    let public = wallet.public_key_sec1().unwrap();
    let answer = provisioning_answer(&public, &luks(1, 1, 2, EXPIRES_S));
    assert_eq!(wallet.accept_replenishment(&answer).unwrap_err(), WalletError::UnknownToken);
}
