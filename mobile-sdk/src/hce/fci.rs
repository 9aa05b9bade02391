//! What the phone answers to the two SELECTs and to GET PROCESSING OPTIONS, as BER-TLV.

use emv::apdu::PPSE_NAME;
use emv::gpo::{ProcessingOptions, PDOL};
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
/// `None` only if the wallet holds a token PAN or IAD the format cannot carry.
pub fn processing_options(payment: &GeneratedPayment) -> Option<Vec<u8>> {
    ProcessingOptions {
        token_pan: payment.token_pan.expose().to_owned(),
        atc: payment.atc,
        cryptogram: *payment.cryptogram.expose(),
        iad: payment.iad.to_vec(),
        card_unpredictable_number: payment.card_unpredictable_number,
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcis_are_strict_tlv() {
        for fci in [ppse(), application()] {
            let decoded = tlv::decode_all(&fci).unwrap();
            assert_eq!(tlv::encode_all(&decoded), fci);
        }
    }
}
