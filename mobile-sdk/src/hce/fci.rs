//! What the phone answers to the two SELECTs and to GET PROCESSING OPTIONS, as BER-TLV.

use emv::apdu::PPSE_NAME;
use emv::tags;
use emv::tlv::{self, Tag, Tlv, Value};

use crate::wallet::{GeneratedPayment, FORECOURT_AID, FORECOURT_LABEL};

/// Builds a tag constant; an invalid encoding fails the build.
const fn tag(raw: u32) -> Tag {
    match Tag::new(raw) {
        Some(tag) => tag,
        None => panic!("invalid tag"),
    }
}

const FCI_TEMPLATE: Tag = tag(0x6F);
const DF_NAME: Tag = tag(0x84);
const FCI_PROPRIETARY: Tag = tag(0xA5);
const FCI_ISSUER_DISCRETIONARY: Tag = tag(0xBF0C);
const PRIORITY: Tag = tag(0x87);
const PDOL_TAG: Tag = tag(0x9F38);
const RESPONSE_TEMPLATE_2: Tag = tag(0x77);

/// The PDOL: amount authorised `9F02` (6), currency `5F2A` (2), country `9F1A` (2),
/// date `9A` (3), terminal unpredictable number `9F37` (4).
pub const PDOL: &[u8] =
    &[0x9F, 0x02, 0x06, 0x5F, 0x2A, 0x02, 0x9F, 0x1A, 0x02, 0x9A, 0x03, 0x9F, 0x37, 0x04];
/// Bytes of data the PDOL asks for, i.e. the length of tag `83` in GPO.
pub const PDOL_DATA_LEN: usize = 6 + 2 + 2 + 3 + 4;

fn primitive(tag: Tag, bytes: &[u8]) -> Tlv {
    Tlv { tag, value: Value::Primitive(bytes.to_vec()) }
}

fn constructed(tag: Tag, children: Vec<Tlv>) -> Tlv {
    Tlv { tag, value: Value::Constructed(children) }
}

/// FCI of the PPSE: one directory entry, our application.
pub fn ppse() -> Vec<u8> {
    let entry = constructed(
        tags::APPLICATION_TEMPLATE,
        vec![
            primitive(tags::AID, FORECOURT_AID),
            primitive(tags::APPLICATION_LABEL, FORECOURT_LABEL.as_bytes()),
            primitive(PRIORITY, &[0x01]),
        ],
    );
    let proprietary =
        constructed(FCI_PROPRIETARY, vec![constructed(FCI_ISSUER_DISCRETIONARY, vec![entry])]);
    tlv::encode(&constructed(FCI_TEMPLATE, vec![primitive(DF_NAME, PPSE_NAME), proprietary]))
}

/// FCI of our application, with the PDOL.
pub fn application() -> Vec<u8> {
    let proprietary = constructed(
        FCI_PROPRIETARY,
        vec![
            primitive(tags::APPLICATION_LABEL, FORECOURT_LABEL.as_bytes()),
            primitive(PRIORITY, &[0x01]),
            primitive(PDOL_TAG, PDOL),
        ],
    );
    tlv::encode(&constructed(FCI_TEMPLATE, vec![primitive(DF_NAME, FORECOURT_AID), proprietary]))
}

/// GET PROCESSING OPTIONS answer, template `77`: token, ATC, cryptogram, IAD, card UN.
pub fn processing_options(payment: &GeneratedPayment) -> Vec<u8> {
    let template = constructed(
        RESPONSE_TEMPLATE_2,
        vec![
            primitive(tags::PAN, &pan_bcd(payment.token_pan.expose())),
            primitive(tags::ATC, &payment.atc.to_be_bytes()),
            primitive(tags::CRYPTOGRAM, payment.cryptogram.expose()),
            primitive(tags::IAD, &payment.iad),
            primitive(tags::UNPREDICTABLE_NUMBER, &payment.card_unpredictable_number),
        ],
    );
    tlv::encode(&template)
}

/// `5A`: digits packed two per byte, an odd count padded with `F` (as the QR payload).
fn pan_bcd(digits: &str) -> Vec<u8> {
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = pair[0].wrapping_sub(b'0');
            let low = pair.get(1).map_or(0x0F, |d| d.wrapping_sub(b'0'));
            high << 4 | low
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pan_is_packed_with_trailing_f() {
        assert_eq!(pan_bcd("1234"), [0x12, 0x34]);
        assert_eq!(pan_bcd("12345"), [0x12, 0x34, 0x5F]);
    }

    #[test]
    fn pdol_length_matches_its_entries() {
        let lengths: usize =
            [PDOL[2], PDOL[5], PDOL[8], PDOL[10], PDOL[13]].iter().map(|&l| usize::from(l)).sum();
        assert_eq!((lengths, PDOL.len()), (PDOL_DATA_LEN, 14));
    }

    #[test]
    fn fcis_are_strict_tlv() {
        for fci in [ppse(), application()] {
            let decoded = tlv::decode_all(&fci).unwrap();
            assert_eq!(tlv::encode_all(&decoded), fci);
        }
    }
}
