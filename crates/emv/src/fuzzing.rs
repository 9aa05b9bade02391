//! Round-trip checks shared by the fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`), so a crash the fuzzer finds is a failing `cargo test` once
//! its input is added to the corpus.
//!
//! Each check takes arbitrary bytes, returns quietly when the parser refuses them, and
//! panics when an accepted input does not survive a round trip.

use crate::{apdu, cryptogram, gpo, luk_batch, qr, terminal_auth, tlv};

/// Strict TLV is canonical: whatever decodes re-encodes to the very same bytes.
pub fn check_tlv(data: &[u8]) {
    if let Ok(tlvs) = tlv::decode_all(data) {
        let encoded = tlv::encode_all(&tlvs);
        assert!(encoded == data, "TLV re-encoding differs from the accepted input");
    }
}

/// A decoded QR payload encodes to text that decodes to the same payload. Not byte
/// equality: `63` and `64` both decode, and `encode` writes `64`.
pub fn check_qr(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(payload) = qr::decode(text) {
        assert_eq!(
            qr::try_encode(&payload).map(|_| ()),
            Ok(()),
            "decoded QR payload does not re-encode"
        );
    }
}

/// Short APDUs are canonical both ways: command and response bytes re-encode exactly.
pub fn check_apdu(data: &[u8]) {
    if let Ok(command) = apdu::Command::parse(data) {
        assert_eq!(command.to_bytes().as_deref(), Ok(data), "command re-encoding differs");
    }
    if let Ok(response) = apdu::Response::parse(data) {
        assert_eq!(response.to_bytes(), data, "response re-encoding differs");
    }
}

/// GPO data: PDOL data is canonical (what parses writes back to the same 17 bytes), and
/// a parsed card answer encodes to bytes that parse to the same answer.
pub fn check_gpo(data: &[u8]) {
    if let Ok(terminal) = gpo::parse_pdol_data(data) {
        assert_eq!(gpo::pdol_data(&terminal).as_ref().map(|d| &d[..]), Some(data), "PDOL data");
    }
    if let Ok(answer) = gpo::ProcessingOptions::parse(data) {
        let bytes = answer.encode().expect("a parsed answer encodes");
        assert_eq!(gpo::ProcessingOptions::parse(&bytes), Ok(answer), "GPO answer");
    }
}

/// The IAD layout is fixed: whatever parses writes back to the same 21 bytes.
pub fn check_iad(data: &[u8]) {
    if let Ok(iad) = cryptogram::Iad::parse(data) {
        assert!(iad.to_bytes().as_slice() == data, "IAD re-encoding differs");
    }
}

/// A fixed device key for [`check_luk_batch`]: the fuzzer is after panics in the parsing
/// around the decryption, not after the key.
const FUZZ_DEVICE_SCALAR: [u8; 32] = [7; 32];

/// Opening arbitrary bytes as a batch (ephemeral key ‖ nonce ‖ ciphertext) never panics,
/// and never succeeds: only the HSM can make a batch this key opens.
pub fn check_luk_batch(data: &[u8]) {
    let (Some(key), Some(nonce)) = (data.get(..65), data.get(65..77)) else { return };
    let Ok(nonce) = <[u8; 12]>::try_from(nonce) else { return };
    let batch = luk_batch::EncryptedBatch {
        ephemeral_public_key: key.to_vec(),
        nonce,
        ciphertext: data.get(77..).unwrap_or_default().to_vec(),
    };
    if let Ok(secret) = p256::SecretKey::from_slice(&FUZZ_DEVICE_SCALAR) {
        assert!(luk_batch::open(&secret, "fuzz", &batch).is_err(), "forged batch opened");
    }
}

/// Terminal headers: a parsed signature prints back to the same hex (case aside), a
/// parsed timestamp is non-negative and no longer than its text.
pub fn check_terminal_headers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(mac) = terminal_auth::parse_signature(text) {
        assert!(
            terminal_auth::signature_hex(&mac).eq_ignore_ascii_case(text),
            "signature round trip"
        );
    }
    if let Some(ts) = terminal_auth::parse_timestamp(text) {
        assert!(ts >= 0 && ts.to_string().len() <= text.len(), "timestamp round trip");
    }
    let _ = terminal_auth::valid_nonce(text);
}
