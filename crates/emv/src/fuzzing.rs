//! Round-trip checks shared by the fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`), so a crash the fuzzer finds is a failing `cargo test` once
//! its input is added to the corpus.
//!
//! Each check takes arbitrary bytes, returns quietly when the parser refuses them, and
//! panics when an accepted input does not survive a round trip.

use crate::{apdu, qr, tlv};

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
