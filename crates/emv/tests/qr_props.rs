//! Property tests: random valid CPM payloads survive encode → decode, stay under the
//! reader limit, and random text never breaks the decoder.

use emv::fuzzing::check_qr;
use emv::qr::{self, ChipData, CpmPayload, TokenData, MAX_QR_PAYLOAD_BYTES};
use proptest::collection::vec;
use proptest::prelude::*;

fn token() -> impl Strategy<Value = TokenData> {
    let pan = "[0-9]{12,19}".prop_map(TokenData::Pan);
    // PAN, separator D, YYMM + service code, discretionary digits; F pads an odd count.
    let track2 = ("[0-9]{12,19}", "[0-9]{7,10}").prop_map(|(pan, rest)| {
        let mut nibbles: Vec<u8> = pan.bytes().map(|b| b - b'0').collect();
        nibbles.push(0xD);
        nibbles.extend(rest.bytes().map(|b| b - b'0'));
        if nibbles.len() % 2 == 1 {
            nibbles.push(0xF);
        }
        TokenData::Track2(
            nibbles.chunks_exact(2).map(|p| p.iter().fold(0, |a, n| a << 4 | n)).collect(),
        )
    });
    prop_oneof![pan, track2]
}

fn chip() -> impl Strategy<Value = ChipData> {
    (any::<[u8; 8]>(), any::<u16>(), vec(any::<u8>(), 1..=32), any::<[u8; 4]>()).prop_map(
        |(cryptogram, atc, iad, unpredictable_number)| ChipData {
            cryptogram,
            atc,
            iad,
            unpredictable_number,
        },
    )
}

fn payload() -> impl Strategy<Value = CpmPayload> {
    let label = prop::option::of("[ -~]{1,16}");
    (vec(any::<u8>(), 5..=16), label, token(), chip()).prop_map(|(aid, label, token, chip)| {
        CpmPayload { aid, label, token, chip, unknown: vec![] }
    })
}

proptest! {
    #[test]
    fn decode_inverts_encode(p in payload()) {
        let text = qr::encode(&p);
        prop_assert!(text.starts_with("hQVDUFYw"));
        prop_assert!(text.len() < MAX_QR_PAYLOAD_BYTES, "{} chars", text.len());
        prop_assert_eq!(qr::decode(&text), Ok(p));
    }

    #[test]
    fn arbitrary_text_never_breaks_the_round_trip(text in "[A-Za-z0-9+/=]{0,200}") {
        check_qr(text.as_bytes());
    }

    #[test]
    fn mutated_payloads_never_break_the_round_trip(
        p in payload(),
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let mut bytes = engine.decode(qr::encode(&p)).expect("encode writes base64");
        let i = index.index(bytes.len());
        if let Some(slot) = bytes.get_mut(i) {
            *slot = byte;
        }
        check_qr(engine.encode(&bytes).as_bytes());
    }
}
