//! The engine's verbs: PANs, fingerprints, signatures, and what never gets printed.

mod common;

use common::{fresh_engine, has_hex_run};
use hsm_sim::{Engine, HsmError, IssuedPan, KeyUsage, Pan, Request, Response};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

fn generate(engine: &Engine, bin: &str, length: u8) -> IssuedPan {
    match engine.execute(Request::GeneratePan { bin: bin.into(), length }).unwrap() {
        Response::GeneratePan(issued) => issued,
        other => panic!("unexpected {other:?}"),
    }
}

fn decrypt(engine: &Engine, ciphertext: &[u8]) -> Result<Pan, HsmError> {
    match engine.execute(Request::DecryptPan { ciphertext: ciphertext.to_vec() })? {
        Response::DecryptPan { pan } => Ok(pan),
        other => panic!("unexpected {other:?}"),
    }
}

fn sign(engine: &Engine, label: &str, message: &[u8]) -> Result<[u8; 64], HsmError> {
    match engine.execute(Request::Sign { label: label.into(), message: message.to_vec() })? {
        Response::Sign { signature } => Ok(signature),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn generated_pan_decrypts_to_a_luhn_valid_pan_with_bin_length_and_last4() {
    let (_dir, _c, engine) = fresh_engine();
    for (bin, length) in [("600000", 16), ("60000012", 16), ("7012345", 17), ("123456", 19)] {
        let issued = generate(&engine, bin, length);
        let pan = decrypt(&engine, &issued.ciphertext).unwrap();
        let digits = pan.expose_digits();
        assert!(digits.starts_with(bin), "{pan:?} lacks BIN {bin}");
        assert_eq!(digits.len(), usize::from(length));
        assert!(domain::luhn::is_valid(digits.as_bytes()));
        assert_eq!(pan.last4(), issued.last4);
        assert_eq!(issued.key_version, 1);
        let ct_text = String::from_utf8_lossy(&issued.ciphertext);
        assert!(!ct_text.contains(digits), "ciphertext holds the clear PAN");
    }
}

#[test]
fn two_generated_pans_differ() {
    let (_dir, _c, engine) = fresh_engine();
    let a = generate(&engine, "600000", 16);
    let b = generate(&engine, "600000", 16);
    assert_ne!(a.fingerprint, b.fingerprint);
    assert_ne!(decrypt(&engine, &a.ciphertext).unwrap(), decrypt(&engine, &b.ciphertext).unwrap());
}

#[test]
fn same_pan_encrypts_differently_but_fingerprints_the_same() {
    let (_dir, _c, engine) = fresh_engine();
    let issued = generate(&engine, "600000", 16);
    let pan = decrypt(&engine, &issued.ciphertext).unwrap();
    let Response::PanFingerprint { fingerprint } =
        engine.execute(Request::PanFingerprint { pan }).unwrap()
    else {
        panic!("wrong response")
    };
    assert_eq!(fingerprint, issued.fingerprint);
}

#[test]
fn generate_pan_rejects_bad_bin_and_length() {
    let (_dir, _c, engine) = fresh_engine();
    for (bin, length) in
        [("60000", 16), ("600000123", 16), ("60000a", 16), ("600000", 15), ("600000", 20)]
    {
        let err = engine.execute(Request::GeneratePan { bin: bin.into(), length }).unwrap_err();
        assert!(matches!(err, HsmError::InvalidRequest(_)), "{bin}/{length}: {err:?}");
    }
}

#[test]
fn tampered_pan_ciphertext_is_a_crypto_error() {
    let (_dir, _c, engine) = fresh_engine();
    let ct = generate(&engine, "600000", 16).ciphertext;
    for i in [5, 16, 17, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 0x01;
        assert_eq!(decrypt(&engine, &bad).unwrap_err(), HsmError::Crypto, "byte {i}");
    }
    let mut other_version = ct.clone();
    other_version[4] = 2;
    assert!(matches!(decrypt(&engine, &other_version), Err(HsmError::KeyNotFound(_))));
    assert!(matches!(decrypt(&engine, &ct[..20]), Err(HsmError::InvalidRequest(_))));
    assert!(matches!(decrypt(&engine, &[]), Err(HsmError::InvalidRequest(_))));
}

#[test]
fn another_stores_ciphertext_does_not_decrypt() {
    let (_d1, _c1, one) = fresh_engine();
    let (_d2, _c2, two) = fresh_engine();
    let ct = generate(&one, "600000", 16).ciphertext;
    assert_eq!(decrypt(&two, &ct).unwrap_err(), HsmError::Crypto);
}

#[test]
fn signing_with_non_signing_keys_is_not_permitted() {
    let (_dir, _c, engine) = fresh_engine();
    assert_eq!(
        sign(&engine, "pan-data", b"x").unwrap_err(),
        HsmError::UsageNotPermitted { label: "pan-data".into(), usage: KeyUsage::PanEncryption }
    );
    assert!(matches!(
        sign(&engine, "pan-fingerprint", b"x"),
        Err(HsmError::UsageNotPermitted { .. })
    ));
    let err = engine.execute(Request::PublicKey { label: "pan-data".into() }).unwrap_err();
    assert!(matches!(err, HsmError::UsageNotPermitted { .. }));
    assert_eq!(sign(&engine, "nope", b"x").unwrap_err(), HsmError::KeyNotFound("nope".into()));
}

#[test]
fn signatures_verify_with_the_published_public_key() {
    let (_dir, _c, engine) = fresh_engine();
    for label in ["jwt-signing", "time-signing"] {
        let Response::PublicKey { sec1 } =
            engine.execute(Request::PublicKey { label: label.into() }).unwrap()
        else {
            panic!("wrong response")
        };
        assert_eq!((sec1.len(), sec1[0]), (65, 0x04));
        let key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let message = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";
        let signature = Signature::from_slice(&sign(&engine, label, message).unwrap()).unwrap();
        key.verify(message, &signature).unwrap();
        assert!(key.verify(b"another message", &signature).is_err());
    }
}

#[test]
fn the_two_signing_keys_are_distinct() {
    let (_dir, _c, engine) = fresh_engine();
    let Response::PublicKey { sec1 } =
        engine.execute(Request::PublicKey { label: "jwt-signing".into() }).unwrap()
    else {
        panic!("wrong response")
    };
    let jwt_key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let sig = Signature::from_slice(&sign(&engine, "time-signing", b"t").unwrap()).unwrap();
    assert!(jwt_key.verify(b"t", &sig).is_err());
}

#[test]
fn debug_output_holds_no_clear_pan_or_key() {
    let (_dir, components, engine) = fresh_engine();
    let issued = generate(&engine, "600000", 16);
    let pan = decrypt(&engine, &issued.ciphertext).unwrap();
    let digits = pan.expose_digits().to_owned();
    let response = engine.execute(Request::DecryptPan { ciphertext: issued.ciphertext }).unwrap();
    let request = Request::PanFingerprint { pan: pan.clone() };
    for text in [format!("{pan:?}"), format!("{response:?}"), format!("{request:?}")] {
        assert!(!text.contains(&digits) && !text.contains(&digits[..12]), "{text}");
        assert!(text.contains(&format!("…{}", pan.last4())), "{text}");
    }
    let engine_dbg = format!("{engine:?}");
    let components_dbg = format!("{components:?}");
    for text in [&engine_dbg, &components_dbg] {
        assert!(!has_hex_run(text, 16), "{text}");
        for c in &components {
            assert!(!text.to_uppercase().contains(c.to_hex().as_str()));
        }
    }
    assert!(engine_dbg.contains(engine.lmk_kcv()) && engine_dbg.contains("pan-data v1"));
}

#[test]
fn verbs_travel_as_json() {
    let (_dir, _c, engine) = fresh_engine();
    let pan = Pan::parse("4111111111111111").unwrap();
    let request = Request::PanFingerprint { pan };
    let json = serde_json::to_string(&request).unwrap();
    assert_eq!(json, r#"{"verb":"pan_fingerprint","pan":"4111111111111111"}"#);
    assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), request);
    let bad = r#"{"verb":"pan_fingerprint","pan":"4111111111111112"}"#;
    assert!(serde_json::from_str::<Request>(bad).is_err(), "Luhn is checked on the wire too");

    let response =
        engine.execute(Request::Sign { label: "jwt-signing".into(), message: vec![1] }).unwrap();
    let json = serde_json::to_string(&response).unwrap();
    assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), response);
    let err =
        HsmError::UsageNotPermitted { label: "pan-data".into(), usage: KeyUsage::PanEncryption };
    let json = serde_json::to_string(&err).unwrap();
    assert_eq!(serde_json::from_str::<HsmError>(&json).unwrap(), err);
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<hsm_sim::HsmClient>();
}
