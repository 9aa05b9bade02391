//! The cryptogram key hierarchy: issuer master key rotation, LUK batches sealed to a device
//! key, cryptogram verification, the published vectors of docs/CRYPTOGRAM.md, and what
//! never gets printed.

mod common;

use std::sync::Arc;

use common::{fresh_engine, has_hex_run, keystore_json, write_keystore_json, TempDir};
use emv::cryptogram::{self, CryptogramInput, EntryMode, KeyIndex, TerminalData};
use emv::luk_batch::{self, EncryptedBatch, LukEntry};
use hsm_sim::keyblock::{KeyAlgorithm, KeyBlock, KeyHeader};
use hsm_sim::labels::{ISSUER_MASTER_KEY, MAX_ISSUER_KEY_VERSION};
use hsm_sim::lmk::Lmk;
use hsm_sim::{
    Component, Engine, HsmClient, HsmError, IssuerKeyInfo, KeyUsage, LukSpec, Pan, Request,
    Response,
};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::SecretKey;

const TOKEN_PAN: &str = "7001230000000015";
const OTHER_PAN: &str = "7001230000000023";
const TOKEN_REF: &str = "tok_01JD7Q3B8W4V2K9M5N6P7R8S9T";
const ISSUED_AT_S: u32 = 1_795_392_000;
const EXPIRES_AT_S: u64 = 1_795_478_400;

fn pan(digits: &str) -> Pan {
    Pan::parse(digits).unwrap()
}

struct Device {
    secret: SecretKey,
    public: Vec<u8>,
}

fn device() -> Device {
    device_from(SecretKey::random(&mut rand::rngs::OsRng))
}

fn device_from(secret: SecretKey) -> Device {
    let public = secret.public_key().to_encoded_point(false).as_bytes().to_vec();
    Device { secret, public }
}

fn spec(seq: u16) -> LukSpec {
    LukSpec {
        key_index: KeyIndex::new(ISSUED_AT_S, seq).0,
        expires_at_s: EXPIRES_AT_S,
        max_uses: 10,
    }
}

fn derive(
    engine: &Engine,
    imk_version: u32,
    token_pan: &str,
    device_public_key: &[u8],
    luks: &[LukSpec],
) -> Result<EncryptedBatch, HsmError> {
    let request = Request::DeriveLukBatch {
        imk_version,
        token_pan: pan(token_pan),
        token_ref: TOKEN_REF.into(),
        device_public_key: device_public_key.to_vec(),
        luks: luks.to_vec(),
    };
    match engine.execute(request)? {
        Response::LukBatch(batch) => Ok(batch),
        other => panic!("unexpected {other:?}"),
    }
}

/// The LUKs of `seqs` for `token_pan` under `imk_version`, through a sealed batch.
fn luks(engine: &Engine, imk_version: u32, token_pan: &str, seqs: &[u16]) -> Vec<LukEntry> {
    let dev = device();
    let specs: Vec<LukSpec> = seqs.iter().map(|&s| spec(s)).collect();
    let batch = derive(engine, imk_version, token_pan, &dev.public, &specs).unwrap();
    luk_batch::open(&dev.secret, TOKEN_REF, &batch).unwrap()
}

fn verify(
    engine: &Engine,
    imk_version: u32,
    token_pan: &str,
    input: &[u8],
    cryptogram: [u8; 8],
) -> Result<bool, HsmError> {
    let key_index = input[12..18].try_into().unwrap();
    verify_with(engine, imk_version, token_pan, key_index, input, cryptogram)
}

fn verify_with(
    engine: &Engine,
    imk_version: u32,
    token_pan: &str,
    key_index: [u8; 6],
    input: &[u8],
    cryptogram: [u8; 8],
) -> Result<bool, HsmError> {
    let request = Request::VerifyCryptogram {
        imk_version,
        token_pan: pan(token_pan),
        key_index,
        input: input.to_vec(),
        cryptogram,
    };
    match engine.execute(request)? {
        Response::CryptogramVerified { valid } => Ok(valid),
        other => panic!("unexpected {other:?}"),
    }
}

fn generate_issuer_key(engine: &Engine) -> Result<IssuerKeyInfo, HsmError> {
    match engine.execute(Request::GenerateIssuerKey)? {
        Response::IssuerKey(info) => Ok(info),
        other => panic!("unexpected {other:?}"),
    }
}

fn versions(engine: &Engine) -> Vec<IssuerKeyInfo> {
    match engine.execute(Request::IssuerKeyVersions).unwrap() {
        Response::IssuerKeyVersions { versions } => versions,
        other => panic!("unexpected {other:?}"),
    }
}

fn version_numbers(engine: &Engine) -> Vec<u32> {
    versions(engine).iter().map(|v| v.version).collect()
}

fn qr_input(token_pan: &str, key_index: KeyIndex, atc: u16) -> CryptogramInput {
    CryptogramInput {
        entry_mode: EntryMode::Qr,
        token_pan: token_pan.into(),
        key_index,
        atc,
        generated_at_ms: 1_795_392_123_456,
        sync_age_s: 600,
        cdcvm: true,
        terminal: None,
        card_unpredictable_number: [0xA1, 0xB2, 0xC3, 0xD4],
    }
}

fn nfc_input(token_pan: &str, key_index: KeyIndex, atc: u16) -> CryptogramInput {
    CryptogramInput {
        entry_mode: EntryMode::Nfc,
        generated_at_ms: 1_795_392_187_654,
        card_unpredictable_number: [0x5E, 0x6F, 0x70, 0x81],
        terminal: Some(TerminalData {
            amount_minor: 12_345,
            currency_numeric: 978,
            country_numeric: 276,
            date: (26, 11, 23),
            unpredictable_number: [0x1A, 0x2B, 0x3C, 0x4D],
        }),
        ..qr_input(token_pan, key_index, atc)
    }
}

/// Input bytes and the cryptogram `entry` makes over them.
fn pay(entry: &LukEntry, input: &CryptogramInput) -> ([u8; 54], [u8; 8]) {
    let bytes = input.to_bytes().unwrap();
    (bytes, cryptogram::compute(&entry.luk, &bytes))
}

#[test]
fn luks_from_an_opened_batch_make_cryptograms_the_hsm_verifies() {
    let (_dir, _c, engine) = fresh_engine();
    let dev = device();
    let specs = [spec(1), spec(2), LukSpec { max_uses: 3, expires_at_s: 42, ..spec(3) }];
    let batch = derive(&engine, 1, TOKEN_PAN, &dev.public, &specs).unwrap();
    let entries = luk_batch::open(&dev.secret, TOKEN_REF, &batch).unwrap();
    assert_eq!(entries.len(), 3);
    for (entry, spec) in entries.iter().zip(&specs) {
        assert_eq!(
            (entry.key_index.0, entry.expires_at_s, entry.max_uses),
            (spec.key_index, spec.expires_at_s, spec.max_uses)
        );
        for (atc, input) in
            [qr_input(TOKEN_PAN, entry.key_index, 1), nfc_input(TOKEN_PAN, entry.key_index, 2)]
                .into_iter()
                .enumerate()
        {
            let (bytes, mac) = pay(entry, &input);
            assert_eq!(verify(&engine, 1, TOKEN_PAN, &bytes, mac), Ok(true), "atc {atc}");
        }
    }
    assert_ne!(*entries[0].luk, *entries[1].luk);
    assert_ne!(*entries[1].luk, *entries[2].luk);
    // The same spec derives the same LUK again (the server never stores LUKs).
    assert_eq!(*luks(&engine, 1, TOKEN_PAN, &[2])[0].luk, *entries[1].luk);
}

#[test]
fn batch_does_not_open_with_another_device_key_or_token_ref() {
    let (_dir, _c, engine) = fresh_engine();
    let dev = device();
    let batch = derive(&engine, 1, TOKEN_PAN, &dev.public, &[spec(1)]).unwrap();
    let other = device();
    assert_eq!(luk_batch::open(&other.secret, TOKEN_REF, &batch), Err(luk_batch::BatchError::Open));
    assert_eq!(luk_batch::open(&dev.secret, "tok_other", &batch), Err(luk_batch::BatchError::Open));
}

#[test]
fn wrong_cryptogram_token_key_index_atc_or_imk_version_is_invalid_not_an_error() {
    let (_dir, _c, engine) = fresh_engine();
    let entry = &luks(&engine, 1, TOKEN_PAN, &[1])[0];
    let index = entry.key_index;
    let (bytes, mac) = pay(entry, &qr_input(TOKEN_PAN, index, 5));
    assert_eq!(verify(&engine, 1, TOKEN_PAN, &bytes, mac), Ok(true));

    let mut flipped = mac;
    flipped[7] ^= 0x01;
    assert_eq!(verify(&engine, 1, TOKEN_PAN, &bytes, flipped), Ok(false), "wrong cryptogram");
    assert_eq!(verify(&engine, 1, TOKEN_PAN, &bytes, [0; 8]), Ok(false));

    let other_token = qr_input(OTHER_PAN, index, 5).to_bytes().unwrap();
    assert_eq!(verify(&engine, 1, OTHER_PAN, &other_token, mac), Ok(false), "other token");

    let other_index = qr_input(TOKEN_PAN, KeyIndex::new(ISSUED_AT_S, 2), 5).to_bytes().unwrap();
    assert_eq!(verify(&engine, 1, TOKEN_PAN, &other_index, mac), Ok(false), "other key index");

    let other_atc = qr_input(TOKEN_PAN, index, 6).to_bytes().unwrap();
    assert_eq!(verify(&engine, 1, TOKEN_PAN, &other_atc, mac), Ok(false), "other ATC");

    let nfc = nfc_input(TOKEN_PAN, index, 5).to_bytes().unwrap();
    assert_eq!(verify(&engine, 1, TOKEN_PAN, &nfc, mac), Ok(false), "other entry mode");

    generate_issuer_key(&engine).unwrap();
    assert_eq!(verify(&engine, 2, TOKEN_PAN, &bytes, mac), Ok(false), "other IMK version");
}

#[test]
fn input_that_contradicts_the_request_is_refused_without_echo() {
    let (_dir, _c, engine) = fresh_engine();
    let entry = &luks(&engine, 1, TOKEN_PAN, &[1])[0];
    let (bytes, mac) = pay(entry, &qr_input(TOKEN_PAN, entry.key_index, 1));
    let invalid = |r: Result<bool, HsmError>| match r {
        Err(HsmError::InvalidRequest(msg)) => {
            assert!(!msg.contains(TOKEN_PAN) && !msg.contains(OTHER_PAN) && !msg.contains("7001"));
        }
        other => panic!("expected InvalidRequest, got {other:?}"),
    };
    invalid(verify(&engine, 1, OTHER_PAN, &bytes, mac));
    invalid(verify_with(&engine, 1, TOKEN_PAN, KeyIndex::new(ISSUED_AT_S, 2).0, &bytes, mac));
    invalid(verify(&engine, 1, TOKEN_PAN, &bytes[..53], mac));
    invalid(verify(&engine, 1, TOKEN_PAN, &[bytes.as_slice(), &[0]].concat(), mac));
    let mut version = bytes;
    version[0] = 0x02;
    invalid(verify(&engine, 1, TOKEN_PAN, &version, mac));
    let mut mode = bytes;
    mode[1] = 0x03;
    invalid(verify(&engine, 1, TOKEN_PAN, &mode, mac));
}

#[test]
fn unknown_imk_version_is_key_not_found() {
    let (_dir, _c, engine) = fresh_engine();
    let dev = device();
    for version in [0, 2, u32::MAX] {
        let expected = HsmError::KeyNotFound(format!("{ISSUER_MASTER_KEY} v{version}"));
        assert_eq!(derive(&engine, version, TOKEN_PAN, &dev.public, &[spec(1)]), Err(expected));
        let bytes = qr_input(TOKEN_PAN, KeyIndex::new(ISSUED_AT_S, 1), 1).to_bytes().unwrap();
        assert!(matches!(
            verify(&engine, version, TOKEN_PAN, &bytes, [0; 8]),
            Err(HsmError::KeyNotFound(_))
        ));
    }
}

#[test]
fn rotation_keeps_old_tokens_verifying_and_new_version_derives_other_luks() {
    let (_dir, _c, engine) = fresh_engine();
    let v1 = versions(&engine);
    assert_eq!(v1.len(), 1);
    assert_eq!(v1[0].version, 1);
    assert!(v1[0].kcv.len() == 6 && v1[0].kcv.bytes().all(|b| b.is_ascii_hexdigit()));
    let old = &luks(&engine, 1, TOKEN_PAN, &[1])[0];
    let (old_bytes, old_mac) = pay(old, &qr_input(TOKEN_PAN, old.key_index, 1));

    let v2 = generate_issuer_key(&engine).unwrap();
    assert_eq!(v2.version, 2);
    assert_ne!(v2.kcv, v1[0].kcv);
    assert_eq!(versions(&engine), vec![v1[0].clone(), v2.clone()], "newest last");

    assert_eq!(verify(&engine, 1, TOKEN_PAN, &old_bytes, old_mac), Ok(true));
    let new = &luks(&engine, 2, TOKEN_PAN, &[1])[0];
    assert_eq!(new.key_index, old.key_index);
    assert_ne!(*new.luk, *old.luk, "version 2 derives other LUKs");
    let (bytes, mac) = pay(new, &qr_input(TOKEN_PAN, new.key_index, 1));
    assert_eq!(verify(&engine, 2, TOKEN_PAN, &bytes, mac), Ok(true));
    assert_eq!(verify(&engine, 1, TOKEN_PAN, &bytes, mac), Ok(false));
    assert_eq!(verify(&engine, 2, TOKEN_PAN, &old_bytes, old_mac), Ok(false));
}

#[test]
fn rotation_survives_reopen() {
    let (dir, components, engine) = fresh_engine();
    generate_issuer_key(&engine).unwrap();
    generate_issuer_key(&engine).unwrap();
    let before = versions(&engine);
    let entry = &luks(&engine, 2, TOKEN_PAN, &[7])[0];
    let (bytes, mac) = pay(entry, &nfc_input(TOKEN_PAN, entry.key_index, 9));
    drop(engine);

    let store = keystore_json(dir.path());
    let imk_blocks: Vec<_> = store["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["header"]["label"] == ISSUER_MASTER_KEY)
        .map(|k| (k["header"]["version"].as_u64().unwrap(), k["header"]["usage"].clone()))
        .collect();
    assert_eq!(imk_blocks.len(), 3);
    assert!(imk_blocks.iter().all(|(_, usage)| usage == "cryptogram_master"));

    let engine = Engine::open(dir.path(), &components).unwrap();
    assert_eq!(versions(&engine), before);
    assert_eq!(verify(&engine, 2, TOKEN_PAN, &bytes, mac), Ok(true));
    let Response::Health(health) = engine.execute(Request::Health).unwrap() else { panic!() };
    assert_eq!(health.key_count, 8);
    assert_eq!(generate_issuer_key(&engine).unwrap().version, 4);
}

#[test]
fn other_verbs_refuse_the_issuer_master_key() {
    let (_dir, _c, engine) = fresh_engine();
    let refused = HsmError::UsageNotPermitted {
        label: ISSUER_MASTER_KEY.into(),
        usage: KeyUsage::CryptogramMaster,
    };
    let sign = Request::Sign { label: ISSUER_MASTER_KEY.into(), message: b"x".to_vec() };
    assert_eq!(engine.execute(sign), Err(refused.clone()));
    assert_eq!(
        engine.execute(Request::PublicKey { label: ISSUER_MASTER_KEY.into() }),
        Err(refused)
    );
    assert!(refused_message_is_clean(&engine));
}

fn refused_message_is_clean(engine: &Engine) -> bool {
    let sign = Request::Sign { label: ISSUER_MASTER_KEY.into(), message: b"x".to_vec() };
    let msg = engine.execute(sign).unwrap_err().to_string();
    !has_hex_run(&msg, 16)
}

#[test]
fn derive_refuses_malformed_requests_without_echoing_secrets() {
    let (_dir, _c, engine) = fresh_engine();
    let dev = device();
    let compressed = dev.secret.public_key().to_encoded_point(true).as_bytes().to_vec();
    let mut off_curve = dev.public.clone();
    off_curve[64] ^= 0x01;
    let many: Vec<LukSpec> = (1..=33).map(spec).collect();
    let cases: Vec<(&str, Vec<u8>, Vec<LukSpec>)> = vec![
        ("empty", dev.public.clone(), vec![]),
        ("too many", dev.public.clone(), many),
        ("duplicate", dev.public.clone(), vec![spec(1), spec(2), spec(1)]),
        ("no budget", dev.public.clone(), vec![LukSpec { max_uses: 0, ..spec(1) }]),
        ("short key", dev.public[..64].to_vec(), vec![spec(1)]),
        ("compressed key", compressed, vec![spec(1)]),
        ("off-curve key", off_curve, vec![spec(1)]),
        ("no key", vec![], vec![spec(1)]),
    ];
    for (case, key, specs) in cases {
        match derive(&engine, 1, TOKEN_PAN, &key, &specs) {
            Err(HsmError::InvalidRequest(msg)) => assert!(!msg.contains("7001"), "{case}: {msg}"),
            other => panic!("{case}: expected InvalidRequest, got {other:?}"),
        }
    }
    assert!(
        derive(&engine, 1, TOKEN_PAN, &dev.public, &(1..=32).map(spec).collect::<Vec<_>>()).is_ok()
    );
    for token_ref in ["", "has space", "ünïcode"] {
        let request = Request::DeriveLukBatch {
            imk_version: 1,
            token_pan: pan(TOKEN_PAN),
            token_ref: token_ref.into(),
            device_public_key: dev.public.clone(),
            luks: vec![spec(1)],
        };
        assert!(
            matches!(engine.execute(request), Err(HsmError::InvalidRequest(_))),
            "{token_ref:?}"
        );
    }
}

#[test]
fn debug_output_shows_no_luk_pan_or_cryptogram() {
    let (_dir, _c, engine) = fresh_engine();
    let dev = device();
    let request = Request::DeriveLukBatch {
        imk_version: 1,
        token_pan: pan(TOKEN_PAN),
        token_ref: TOKEN_REF.into(),
        device_public_key: dev.public.clone(),
        luks: vec![spec(1)],
    };
    let request_text = format!("{request:?} {request:#?}");
    let response = engine.execute(request).unwrap();
    let Response::LukBatch(batch) = &response else { panic!() };
    let entries = luk_batch::open(&dev.secret, TOKEN_REF, batch).unwrap();
    let (bytes, mac) = pay(&entries[0], &nfc_input(TOKEN_PAN, entries[0].key_index, 3));
    let verify_request = Request::VerifyCryptogram {
        imk_version: 1,
        token_pan: pan(TOKEN_PAN),
        key_index: entries[0].key_index.0,
        input: bytes.to_vec(),
        cryptogram: mac,
    };
    let verified = engine.execute(verify_request.clone()).unwrap();
    assert_eq!(verified, Response::CryptogramVerified { valid: true });

    let luk = *entries[0].luk;
    let texts = [
        request_text,
        format!("{response:?} {response:#?}"),
        format!("{verify_request:?} {verify_request:#?}"),
        format!("{verified:?}"),
        format!("{entries:?} {entries:#?}"),
        format!("{engine:?}"),
        format!("{:?}", qr_input(TOKEN_PAN, entries[0].key_index, 1)),
    ];
    let secrets = [
        TOKEN_PAN.to_owned(),
        "7001230000000015".to_owned(),
        hex::encode(luk),
        hex::encode_upper(luk),
        format!("{:?}", luk),
        format!("{:?}", &luk[..4]).trim_end_matches(']').to_owned(),
        hex::encode(mac),
        format!("{:?}", mac).trim_end_matches(']').to_owned(),
        hex::encode(&bytes[2..12]),
        format!("{:?}", &bytes[2..6]).trim_end_matches(']').to_owned(),
    ];
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{secret} leaked in {text}");
        }
        assert!(!has_hex_run(text, 16), "hex run in {text}");
    }
    assert!(texts[2].contains("Pan(…0015)") && texts[2].contains("<redacted>"));
}

// The vector of docs/CRYPTOGRAM.md, "Test vectors" (computed independently in Python).
const VECTOR_LUK_1: &str = "92803c2f30b862a9396531f1a8b681d74e94799b51094db61607b6eb3e99e802";
const VECTOR_LUK_2: &str = "b704f5641b79bb2492252590e1bd9fb68084b1ecf8a940399ed6166b07df691f";
const VECTOR_IMK_KCV: &str = "FF9212";
const VECTOR_DEVICE_SECRET: &str =
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
const VECTOR_QR_INPUT: &str = "01017001230000000015ffff6b03820000010001000001a205b5b240000002580\
                               10000000000000000000000000000000000a1b2c3d4";
const VECTOR_QR_CRYPTOGRAM: &str = "081f32cfc983aad2";
const VECTOR_NFC_INPUT: &str = "01027001230000000015ffff6b03820000010002000001a205b6ad0600000258\
                                01000000012345097802762611231a2b3c4d5e6f7081";
const VECTOR_NFC_CRYPTOGRAM: &str = "1fb661c6b12bbc6e";

/// A fresh store whose IMK version 1 is the vector's IMK (0x00..0x1F), wrapped under the LMK
/// exactly as the engine would have.
fn engine_with_vector_imk() -> (TempDir, Vec<Component>, Engine) {
    let dir = TempDir::new();
    let report = hsm_sim::init(dir.path(), 3).unwrap();
    let lmk = Lmk::combine(&report.components).unwrap();
    let imk: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let header = KeyHeader {
        label: ISSUER_MASTER_KEY.into(),
        usage: KeyUsage::CryptogramMaster,
        algorithm: KeyAlgorithm::HmacSha256,
        version: 1,
        created_at: u64::from(ISSUED_AT_S),
    };
    let block = KeyBlock::wrap(&lmk, header, &imk).unwrap();
    let mut store = keystore_json(dir.path());
    store["keys"].as_array_mut().unwrap().push(serde_json::to_value(&block).unwrap());
    write_keystore_json(dir.path(), &store);
    let engine = Engine::open(dir.path(), &report.components).unwrap();
    (dir, report.components, engine)
}

fn hex_array<const N: usize>(text: &str) -> [u8; N] {
    hex::decode(text).unwrap().try_into().unwrap()
}

#[test]
fn published_vector_kdf_chain_and_verification() {
    let (_dir, _c, engine) = engine_with_vector_imk();
    let v = versions(&engine);
    assert_eq!((v.len(), v[0].version, v[0].kcv.as_str()), (1, 1, VECTOR_IMK_KCV));
    assert_eq!(v[0].created_at, u64::from(ISSUED_AT_S));

    // IMK → TMK → LUK, observed through a batch sealed to the vector's device key.
    let dev = device_from(SecretKey::from_slice(&hex_array::<32>(VECTOR_DEVICE_SECRET)).unwrap());
    let batch = derive(&engine, 1, TOKEN_PAN, &dev.public, &[spec(1), spec(2)]).unwrap();
    let entries = luk_batch::open(&dev.secret, TOKEN_REF, &batch).unwrap();
    assert_eq!(hex::encode(*entries[0].luk), VECTOR_LUK_1);
    assert_eq!(hex::encode(*entries[1].luk), VECTOR_LUK_2);
    assert_eq!(entries[0].key_index, KeyIndex::new(ISSUED_AT_S, 1));

    for (input, mac) in
        [(VECTOR_QR_INPUT, VECTOR_QR_CRYPTOGRAM), (VECTOR_NFC_INPUT, VECTOR_NFC_CRYPTOGRAM)]
    {
        let input = hex::decode(input).unwrap();
        let mac = hex_array::<8>(mac);
        assert_eq!(verify(&engine, 1, TOKEN_PAN, &input, mac), Ok(true));
        let mut wrong = mac;
        wrong[0] ^= 0x80;
        assert_eq!(verify(&engine, 1, TOKEN_PAN, &input, wrong), Ok(false));
    }
    // The rebuilt inputs are the published ones.
    assert_eq!(
        hex::encode(qr_input(TOKEN_PAN, KeyIndex::new(ISSUED_AT_S, 1), 1).to_bytes().unwrap()),
        VECTOR_QR_INPUT
    );
    assert_eq!(
        hex::encode(nfc_input(TOKEN_PAN, KeyIndex::new(ISSUED_AT_S, 1), 2).to_bytes().unwrap()),
        VECTOR_NFC_INPUT
    );
}

#[test]
fn mixed_usages_under_one_label_are_refused_at_open() {
    let (dir, components, engine) = fresh_engine();
    drop(engine);
    let lmk = Lmk::combine(&components).unwrap();
    let header = KeyHeader {
        label: ISSUER_MASTER_KEY.into(),
        usage: KeyUsage::PanFingerprint,
        algorithm: KeyAlgorithm::HmacSha256,
        version: 2,
        created_at: 0,
    };
    let block = KeyBlock::wrap(&lmk, header, &[9u8; 32]).unwrap();
    let mut store = keystore_json(dir.path());
    store["keys"].as_array_mut().unwrap().push(serde_json::to_value(&block).unwrap());
    write_keystore_json(dir.path(), &store);
    assert!(matches!(Engine::open(dir.path(), &components), Err(HsmError::Storage(_))));
}

#[test]
fn imk_versions_stop_at_255() {
    let (_dir, _c, engine) = fresh_engine();
    for expected in 2..=MAX_ISSUER_KEY_VERSION {
        assert_eq!(generate_issuer_key(&engine).unwrap().version, expected);
    }
    assert!(matches!(generate_issuer_key(&engine), Err(HsmError::InvalidRequest(_))));
    assert_eq!(version_numbers(&engine), (1..=MAX_ISSUER_KEY_VERSION).collect::<Vec<_>>());
}

#[test]
fn rotation_is_safe_while_other_threads_verify() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    let (_dir, _c, engine) = fresh_engine();
    let engine = Arc::new(engine);
    let entry = &luks(&engine, 1, TOKEN_PAN, &[1])[0];
    let (bytes, mac) = pay(entry, &qr_input(TOKEN_PAN, entry.key_index, 1));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                (0..100).all(|_| verify(&engine, 1, TOKEN_PAN, &bytes, mac) == Ok(true))
            })
        })
        .collect();
    for _ in 0..5 {
        generate_issuer_key(&engine).unwrap();
    }
    assert!(workers.into_iter().all(|w| w.join().unwrap()));
    assert_eq!(version_numbers(&engine), vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn new_verbs_cross_the_wire_as_json() {
    let (_dir, _c, engine) = fresh_engine();
    let dev = device();
    let request = Request::DeriveLukBatch {
        imk_version: 1,
        token_pan: pan(TOKEN_PAN),
        token_ref: TOKEN_REF.into(),
        device_public_key: dev.public.clone(),
        luks: vec![spec(1)],
    };
    let json = serde_json::to_value(&request).unwrap();
    assert_eq!(json["verb"], "derive_luk_batch");
    assert_eq!(json["luks"][0]["key_index"], "6b0382000001");
    assert_eq!(serde_json::from_value::<Request>(json).unwrap(), request);

    let response = engine.execute(request).unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["verb"], "luk_batch");
    assert_eq!(json["ephemeral_public_key"].as_str().unwrap().len(), 87, "65 bytes, base64url");
    let back: Response = serde_json::from_value(json).unwrap();
    assert_eq!(back, response);

    let verify = Request::VerifyCryptogram {
        imk_version: 1,
        token_pan: pan(TOKEN_PAN),
        key_index: spec(1).key_index,
        input: vec![1; 54],
        cryptogram: [0xAB; 8],
    };
    let json = serde_json::to_value(&verify).unwrap();
    assert_eq!(
        (json["verb"].as_str(), json["cryptogram"].as_str()),
        (Some("verify_cryptogram"), Some("abababababababab"))
    );
    assert_eq!(serde_json::from_value::<Request>(json).unwrap(), verify);
    for request in [Request::GenerateIssuerKey, Request::IssuerKeyVersions] {
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(serde_json::from_value::<Request>(json).unwrap(), request);
    }
    let answer = Response::CryptogramVerified { valid: false };
    assert_eq!(
        serde_json::from_value::<Response>(serde_json::to_value(&answer).unwrap()).unwrap(),
        answer
    );
}

#[tokio::test]
async fn client_helpers_cover_the_cryptogram_verbs() {
    let (_dir, _c, engine) = fresh_engine();
    let client = HsmClient::in_process(engine);
    let token = pan(TOKEN_PAN);
    let v2 = client.generate_issuer_key().await.unwrap();
    assert_eq!(v2.version, 2);
    let listed = client.issuer_key_versions().await.unwrap();
    assert_eq!(listed.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(listed[1], v2);

    let dev = device();
    let batch = client
        .derive_luk_batch(2, &token, TOKEN_REF, &dev.public, &[spec(1), spec(2)])
        .await
        .unwrap();
    let entries = luk_batch::open(&dev.secret, TOKEN_REF, &batch).unwrap();
    let (bytes, mac) = pay(&entries[1], &nfc_input(TOKEN_PAN, entries[1].key_index, 4));
    assert!(client.verify_cryptogram(2, &token, entries[1].key_index, &bytes, &mac).await.unwrap());
    assert!(!client
        .verify_cryptogram(1, &token, entries[1].key_index, &bytes, &mac)
        .await
        .unwrap());
    assert!(matches!(
        client.verify_cryptogram(3, &token, entries[1].key_index, &bytes, &mac).await,
        Err(HsmError::KeyNotFound(_))
    ));
    assert!(matches!(
        client.derive_luk_batch(2, &token, TOKEN_REF, &dev.public, &[]).await,
        Err(HsmError::InvalidRequest(_))
    ));
}
