//! The check the `hce_apdu` fuzz target runs, here so `cargo test -p mobile-sdk` replays
//! the committed corpus with the same logic (`tests/fuzz_corpus.rs`). Test support, not
//! phone code: it plays a tiny issuer (signed time, a sealed LUK batch) with fixed keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use emv::apdu::{Response, StatusWord};
use emv::cryptogram::KeyIndex;
use emv::gpo::ProcessingOptions;
use emv::luk_batch::{self, LukEntry};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use std::sync::OnceLock;
use zeroize::Zeroizing;

use crate::{ClockSample, HceSession, ManualClock, MemoryStore, SignedTime, Wallet};

/// The token the fuzzed wallet holds.
pub const TOKEN_PAN: &str = "7001990000001234";
/// True time of the fuzzed tap: 2026-11-23T00:01:40Z.
const NOW_MS: i64 = 1_795_392_100_000;
const ISSUED_S: u32 = 1_795_392_000;
const EXPIRES_S: u64 = 1_795_478_400;
/// Keys × uses: enough for more GPOs than one input can hold.
const LUKS: u16 = 4;
const USES_PER_LUK: u16 = 64;

/// A synced wallet holding one token; `None` only if the SDK refuses its own setup.
/// The provisioned store is made once (key generation and sealing are the slow part) and
/// copied for each wallet; each wallet then syncs its own clock.
pub fn ready_wallet() -> Option<Wallet<MemoryStore, ManualClock>> {
    static PROVISIONED: OnceLock<Option<MemoryStore>> = OnceLock::new();
    let store = PROVISIONED.get_or_init(provisioned_store).clone()?;
    let mut wallet = Wallet::new(store, ManualClock::new(NOW_MS, 10_000));
    let time_key = SigningKey::from_bytes(&[7u8; 32].into()).ok()?;
    let nonce = wallet.time_nonce().ok()?;
    let sent = ClockSample::take(wallet.clock());
    let answer = signed_time(&time_key, &nonce)?;
    wallet.sync(sent, ClockSample::take(wallet.clock()), &answer).ok()?;
    Some(wallet)
}

/// A store holding a device key and one token with [`LUKS`] keys.
fn provisioned_store() -> Option<MemoryStore> {
    let mut wallet = Wallet::new(MemoryStore::new(), ManualClock::new(NOW_MS, 10_000));
    let device = wallet.public_key_sec1().ok()?;
    let entries: Vec<LukEntry> = (1..=LUKS)
        .map(|seq| LukEntry {
            key_index: KeyIndex::new(ISSUED_S, seq),
            luk: Zeroizing::new([seq as u8; emv::cryptogram::LUK_LEN]),
            expires_at_s: EXPIRES_S,
            max_uses: USES_PER_LUK,
        })
        .collect();
    wallet.accept_provisioning(&provisioning_answer(device.as_ref(), &entries)?).ok()?;
    Some(wallet.store().clone())
}

const TOKEN_ID: &str = "0193b6c0-0000-7000-8000-000000000001";

fn provisioning_answer(device_public: &[u8], entries: &[LukEntry]) -> Option<String> {
    let batch = luk_batch::seal(device_public, TOKEN_ID, entries).ok()?;
    let luks: Vec<_> = entries
        .iter()
        .map(|l| {
            serde_json::json!({"key_index": hex::encode(l.key_index.as_bytes()),
            "expires_at": "2026-11-24T00:00:00Z", "max_uses": l.max_uses, "used": 0})
        })
        .collect();
    let token = serde_json::json!({
        "id": TOKEN_ID, "card_id": "0193b6c0-0000-7000-8000-0000000000c1",
        "device_id": "0193b6c0-0000-7000-8000-000000000d01", "token_last4": "1234",
        "expiry": "2029-11", "status": "active", "imk_version": 1,
        "created_at": "2026-11-23T00:00:00Z"
    });
    let answer =
        serde_json::json!({"token": token, "token_pan": TOKEN_PAN, "luks": luks, "batch": batch});
    Some(answer.to_string())
}

fn signed_time(key: &SigningKey, nonce_b64: &str) -> Option<SignedTime> {
    let nonce = B64.decode(nonce_b64).ok()?;
    let message = [b"forecourt/time/v1".as_slice(), &nonce, &NOW_MS.to_be_bytes()].concat();
    let signature: Signature = key.sign(&message);
    Some(SignedTime {
        server_time_ms: NOW_MS,
        nonce: nonce_b64.to_owned(),
        signature: B64.encode(signature.to_bytes()),
        public_key: B64.encode(key.verifying_key().to_encoded_point(false).as_bytes()),
    })
}

/// The APDUs of one input: each prefixed by its length in one byte.
pub fn split_apdus(data: &[u8]) -> Vec<&[u8]> {
    let mut apdus = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).min(tail.len());
        apdus.push(&tail[..take]);
        rest = &tail[take..];
    }
    apdus
}

/// One tap of arbitrary APDUs: every answer is a well-formed response, every successful
/// GET PROCESSING OPTIONS carries the wallet's token with a fresh ATC, and no selection
/// yields two cryptograms.
pub fn check_hce(data: &[u8]) {
    let mut wallet = ready_wallet().expect("the fuzzed wallet sets up");
    let mut session = HceSession::new(&mut wallet, false);
    let (mut last_atc, mut selections, mut cryptograms) = (None::<u16>, 0usize, 0usize);
    for apdu in split_apdus(data) {
        let answer = session.process(apdu);
        let response = Response::parse(&answer).expect("every answer is a response APDU");
        let is_gpo = apdu.get(..2) == Some(&[0x80, 0xA8]);
        let is_select = apdu.get(..2) == Some(&[0x00, 0xA4]);
        if response.sw != StatusWord::OK {
            assert!(response.data.is_empty(), "an error status carries no data");
            continue;
        }
        if is_select && response.data.windows(3).any(|w| w == [0x9F, 0x38, 0x0E]) {
            selections += 1;
        }
        if is_gpo {
            let options = ProcessingOptions::parse(&response.data).expect("GPO answer parses");
            assert_eq!(options.token_pan, TOKEN_PAN);
            assert!(last_atc.is_none_or(|last| options.atc > last), "ATC did not move on");
            last_atc = Some(options.atc);
            cryptograms += 1;
            assert!(cryptograms <= selections, "two cryptograms for one selection");
        }
    }
}
