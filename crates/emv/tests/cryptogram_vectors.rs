//! The published test vectors of `docs/CRYPTOGRAM.md` ("Test vectors"): the code must
//! reproduce them byte for byte, and every expected value must appear in the document, so
//! the two cannot drift apart. The expected values were computed independently (Python's
//! `hmac`/`hashlib` and the `cryptography` package), not by this crate.
//!
//! The KDF chain IMK → TMK → LUK lives in the HSM; its vector is checked in
//! `hsm-sim/tests/cryptogram.rs`. Here the LUKs are inputs.

use emv::cryptogram::{self, CryptogramInput, EntryMode, Iad, KeyIndex, TerminalData};
use emv::luk_batch::{self, EncryptedBatch, LukEntry};
use p256::SecretKey;
use zeroize::Zeroizing;

const DOC: &str = include_str!("../../../docs/CRYPTOGRAM.md");

const TOKEN_PAN: &str = "7001230000000015";
const ISSUED_AT_S: u32 = 1_795_392_000;
const KEY_INDEX_1: &str = "6b0382000001";
const KEY_INDEX_2: &str = "6b0382000002";
const LUK_1: &str = "92803c2f30b862a9396531f1a8b681d74e94799b51094db61607b6eb3e99e802";
const LUK_2: &str = "b704f5641b79bb2492252590e1bd9fb68084b1ecf8a940399ed6166b07df691f";

const QR_INPUT: &str = "01017001230000000015ffff6b03820000010001000001a205b5b240000002580100000000\
                        00000000000000000000000000a1b2c3d4";
const QR_CRYPTOGRAM: &str = "081f32cfc983aad2";
const QR_IAD: &str = "016b0382000001000001a205b5b240000002580101";

const NFC_INPUT: &str =
    "01027001230000000015ffff6b03820000010002000001a205b6ad06000002580100000001\
                         2345097802762611231a2b3c4d5e6f7081";
const NFC_CRYPTOGRAM: &str = "1fb661c6b12bbc6e";
const NFC_IAD: &str = "016b0382000001000001a205b6ad06000002580101";

const TOKEN_REF: &str = "tok_01JD7Q3B8W4V2K9M5N6P7R8S9T";
const DEVICE_SECRET: &str = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
const DEVICE_PUBLIC: &str = "0468ec7cf08cd4106e43b14de895426522bd0a45150c027e45c7953434d747e7ba\
                             e3af39a88ebbee8679bb61e7845c3a89cb9b5a3237c3fdb0b0587dbaf415118d";
const EPHEMERAL_SECRET: &str = "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f";
const EPHEMERAL_PUBLIC: &str = "04bf97d0ee1866aac6f80826ebadc42f3d81e1b6b8f298f5d3ebe7542b7cb48\
                                3a7de8f14ddde9aa2e765b2e60ece60cfa1b095683a8f6f62af8bacee7f4dfa\
                                18ea";
const NONCE: &str = "808182838485868788898a8b";
const EXPIRES_AT_S: u64 = 1_795_478_400;
const MAX_USES: u16 = 10;
const BATCH_JSON: &str = r#"{"ephemeral_public_key":"BL-X0O4YZqrG-Agm663ELz2B4ba48pj10-vnVCt8tIOn3o8U3d6aoudlsuYOzmDPobCVaDqPb2Kvi6zuf036GOo","nonce":"gIGCg4SFhoeIiYqL","ciphertext":"y9tcAEN-kqIHjmz0VdUJ6RkQpOZPimQgEYk2n-zqDDxGU07VMkscozxRzJ48JihPfhG5LWyJn6W7ejix4uZbPe0KZkY4DsGiU2KWGThgLz4q1e1WiC7xvLp-X-2lwuCtNHxyDtJxEp2SmHe6_TkKyA5h"}"#;
const CIPHERTEXT: &str = "cbdb5c00437e92a2078e6cf455d509e91910a4e64f8a64201189369fecea0c3c46534ed5\
                          324b1ca33c51cc9e3c26284f7e11b92d6c899fa5bb7a38b1e2e65b3ded0a6646380ec1\
                          a25362961938602f3e2ad5ed56882ef1bcba7e5feda5c2e0ad347c720ed271129d92\
                          9877bafd390ac80e61";

fn bytes<const N: usize>(hex_text: &str) -> [u8; N] {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

fn key_index() -> KeyIndex {
    KeyIndex::new(ISSUED_AT_S, 1)
}

fn qr_input() -> CryptogramInput {
    CryptogramInput {
        entry_mode: EntryMode::Qr,
        token_pan: TOKEN_PAN.into(),
        key_index: key_index(),
        atc: 1,
        generated_at_ms: 1_795_392_123_456,
        sync_age_s: 600,
        cdcvm: true,
        terminal: None,
        card_unpredictable_number: [0xA1, 0xB2, 0xC3, 0xD4],
    }
}

fn nfc_input() -> CryptogramInput {
    CryptogramInput {
        entry_mode: EntryMode::Nfc,
        token_pan: TOKEN_PAN.into(),
        key_index: key_index(),
        atc: 2,
        generated_at_ms: 1_795_392_187_654,
        sync_age_s: 600,
        cdcvm: true,
        terminal: Some(TerminalData {
            amount_minor: 12_345,
            currency_numeric: 978,
            country_numeric: 276,
            date: (26, 11, 23),
            unpredictable_number: [0x1A, 0x2B, 0x3C, 0x4D],
        }),
        card_unpredictable_number: [0x5E, 0x6F, 0x70, 0x81],
    }
}

fn check(input: &CryptogramInput, input_hex: &str, cryptogram_hex: &str, iad_hex: &str) {
    let luk = bytes::<32>(LUK_1);
    let encoded = input.to_bytes().unwrap();
    assert_eq!(hex::encode(encoded), input_hex);
    assert_eq!(hex::encode(cryptogram::compute(&luk, &encoded)), cryptogram_hex);
    assert!(cryptogram::verify(&luk, &encoded, &bytes(cryptogram_hex)));
    assert!(!cryptogram::verify(&bytes(LUK_2), &encoded, &bytes(cryptogram_hex)));
    let iad = input.iad(1);
    assert_eq!(hex::encode(iad.to_bytes()), iad_hex);
    assert_eq!(Iad::parse(&bytes::<21>(iad_hex)), Ok(iad));
}

#[test]
fn key_index_vector() {
    assert_eq!(hex::encode(KeyIndex::new(ISSUED_AT_S, 1).0), KEY_INDEX_1);
    assert_eq!(hex::encode(KeyIndex::new(ISSUED_AT_S, 2).0), KEY_INDEX_2);
}

#[test]
fn qr_vector_input_cryptogram_and_iad() {
    check(&qr_input(), QR_INPUT, QR_CRYPTOGRAM, QR_IAD);
}

#[test]
fn nfc_vector_input_cryptogram_and_iad() {
    check(&nfc_input(), NFC_INPUT, NFC_CRYPTOGRAM, NFC_IAD);
}

fn vector_entries() -> Vec<LukEntry> {
    [(KEY_INDEX_1, LUK_1), (KEY_INDEX_2, LUK_2)]
        .into_iter()
        .map(|(index, luk)| LukEntry {
            key_index: KeyIndex(bytes(index)),
            luk: Zeroizing::new(bytes(luk)),
            expires_at_s: EXPIRES_AT_S,
            max_uses: MAX_USES,
        })
        .collect()
}

#[test]
fn luk_batch_vector_seals_and_opens() {
    let device = SecretKey::from_slice(&bytes::<32>(DEVICE_SECRET)).unwrap();
    let device_public = hex::decode(DEVICE_PUBLIC).unwrap();
    let ephemeral = SecretKey::from_slice(&bytes::<32>(EPHEMERAL_SECRET)).unwrap();
    let batch = luk_batch::seal_with(
        &ephemeral,
        bytes(NONCE),
        &device_public,
        TOKEN_REF,
        &vector_entries(),
    )
    .unwrap();
    assert_eq!(hex::encode(&batch.ephemeral_public_key), EPHEMERAL_PUBLIC);
    assert_eq!(hex::encode(batch.nonce), NONCE);
    assert_eq!(hex::encode(&batch.ciphertext), CIPHERTEXT);
    assert_eq!(serde_json::to_string(&batch).unwrap(), BATCH_JSON);
    assert_eq!(serde_json::from_str::<EncryptedBatch>(BATCH_JSON).unwrap(), batch);
    let published = EncryptedBatch {
        ephemeral_public_key: hex::decode(EPHEMERAL_PUBLIC).unwrap(),
        nonce: bytes(NONCE),
        ciphertext: hex::decode(CIPHERTEXT).unwrap(),
    };
    assert_eq!(luk_batch::open(&device, TOKEN_REF, &published).unwrap(), vector_entries());
}

#[test]
fn vectors_are_published_in_the_doc() {
    let doc: String = DOC.chars().filter(|c| !c.is_whitespace()).collect();
    for value in [
        TOKEN_PAN,
        KEY_INDEX_1,
        KEY_INDEX_2,
        LUK_1,
        LUK_2,
        QR_INPUT,
        QR_CRYPTOGRAM,
        QR_IAD,
        NFC_INPUT,
        NFC_CRYPTOGRAM,
        NFC_IAD,
        TOKEN_REF,
        DEVICE_SECRET,
        DEVICE_PUBLIC,
        EPHEMERAL_SECRET,
        EPHEMERAL_PUBLIC,
        NONCE,
        CIPHERTEXT,
        BATCH_JSON,
        // Checked by the hsm-sim and luk_batch unit tests; published here too.
        "044e9314c1d878ff4cb3f3aeb0771a8fed2eb41955fbe207c0d072d0d52db680",
        "cbe207c5196bb7ea0a1ef0c55b2b3ea8e913d17025dfdcaf60c68f37a68cdfb7",
        "0cd98d722b82468e15f7479e9ff2f55f1f6bd96df7c0395647470b2999e0b080",
        "FF9212",
    ] {
        assert!(doc.contains(value), "docs/CRYPTOGRAM.md does not publish {value}");
    }
}
