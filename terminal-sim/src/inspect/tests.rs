use emv::qr::{ChipData, CpmPayload, QrError, TokenData};
use emv::{tags, Tag, Tlv, TlvError, Value};

use super::*;

const TOKEN: &str = "7001234567890128";

fn payload(token: TokenData) -> CpmPayload {
    CpmPayload {
        aid: vec![0xA0, 0x00, 0x00, 0x09, 0x99, 0x10, 0x10],
        label: Some("FORECOURT FLEET".to_owned()),
        token,
        chip: ChipData {
            cryptogram: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
            atc: 42,
            iad: vec![0x06; 32],
            unpredictable_number: [0xDE, 0xAD, 0xBE, 0xEF],
        },
        unknown: vec![],
    }
}

fn pan_payload() -> String {
    qr::try_encode(&payload(TokenData::Pan(TOKEN.to_owned()))).unwrap()
}

#[test]
fn inspects_an_encoded_payload_with_token_and_cryptogram_masked() {
    let inspection = inspect(&pan_payload()).unwrap();
    assert_eq!(inspection.token, MaskedToken { tag: tags::PAN, digits: 16, last4: "0128".into() });
    assert_eq!(inspection.atc, 42);
    assert_eq!(inspection.iad_len, 32);
    assert_eq!(inspection.cryptogram_prefix, [0x11, 0x22]);
    let shown = inspection.to_string();
    let expected = [
        "AID                   A0000009991010",
        "Label                 FORECOURT FLEET",
        "Token                 …0128 (16 digits, tag 5A)",
        "ATC                   42",
        "IAD length            32 bytes",
        "Unpredictable number  DEADBEEF",
        "Cryptogram            1122…",
        "Other objects         none",
    ];
    assert_eq!(shown.lines().collect::<Vec<_>>(), expected);
    for output in [shown, format!("{inspection:?}")] {
        assert!(!output.contains(TOKEN), "{output}");
        assert!(!output.contains("70012345"), "{output}");
        assert!(!output.contains("1122334455667788"), "{output}");
    }
}

#[test]
fn track2_token_is_masked_too_and_unknown_objects_show_tags_only() {
    let track2 = vec![0x70, 0x01, 0x23, 0x45, 0x67, 0x89, 0x01, 0x28, 0xD2, 0x91, 0x22, 0x01];
    let mut with_extra = payload(TokenData::Track2(track2));
    let driver_tag = Tag::new(0x5F20).unwrap();
    with_extra.label = None;
    with_extra.unknown =
        vec![Tlv { tag: driver_tag, value: Value::Primitive(b"SMITH/J".to_vec()) }];
    let inspection = inspect(&qr::try_encode(&with_extra).unwrap()).unwrap();
    let shown = inspection.to_string();
    assert!(shown.contains("…0128 (16 digits, tag 57)"), "{shown}");
    assert!(shown.contains("Label                 (none)"), "{shown}");
    assert!(shown.contains("Other objects         5F20"), "{shown}");
    assert!(!shown.contains(TOKEN) && !shown.contains("SMITH"), "{shown}");
}

#[test]
fn surrounding_whitespace_from_a_scanner_is_ignored() {
    let text = format!("  {}\n", pan_payload());
    assert_eq!(inspect(&text), inspect(&pan_payload()));
}

#[test]
fn malformed_payloads_are_errors_naming_the_problem() {
    let not_base64 = inspect("not a QR payload!").unwrap_err();
    assert!(matches!(not_base64, InspectError::Malformed(QrError::Base64(_))));
    assert!(not_base64.to_string().starts_with("malformed QR payload: "), "{not_base64}");
    assert_eq!(inspect(""), Err(InspectError::Malformed(QrError::Tlv(TlvError::EmptyInput))));
    // 85 00 61 00: right tags, but the format indicator is not CPV01.
    let wrong_format = inspect("hQBhAA==").unwrap_err();
    assert!(wrong_format.to_string().contains("CPV01"), "{wrong_format}");
    // A payload cut short mid-object: still base64, no longer TLV.
    let good = pan_payload();
    let truncated = &good[..good.len() / 2 / 4 * 4];
    assert!(matches!(inspect(truncated), Err(InspectError::Malformed(QrError::Tlv(_)))));
}
