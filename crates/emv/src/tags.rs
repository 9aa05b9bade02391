//! The EMV tags this crate reads or writes by name.

use crate::tlv::Tag;

/// Builds a tag constant; an invalid encoding fails the build, not a payment.
const fn known(raw: u32) -> Tag {
    match Tag::new(raw) {
        Some(tag) => tag,
        None => panic!("not a valid BER-TLV tag encoding"),
    }
}

/// Application Identifier (ADF Name).
pub const AID: Tag = known(0x4F);
/// Application Label.
pub const APPLICATION_LABEL: Tag = known(0x50);
/// Track 2 Equivalent Data.
pub const TRACK2: Tag = known(0x57);
/// Application PAN (here: the payment token's PAN).
pub const PAN: Tag = known(0x5A);
/// Application Template.
pub const APPLICATION_TEMPLATE: Tag = known(0x61);
/// Application Specific Transparent Template.
pub const APPLICATION_TRANSPARENT_TEMPLATE: Tag = known(0x63);
/// Common Data Transparent Template.
pub const COMMON_TRANSPARENT_TEMPLATE: Tag = known(0x64);
/// Command Template (wraps the PDOL data in GET PROCESSING OPTIONS).
pub const COMMAND_TEMPLATE: Tag = known(0x83);
/// Payload Format Indicator of an EMV CPM QR code.
pub const PAYLOAD_FORMAT_INDICATOR: Tag = known(0x85);
/// Response message template format 2: the card's answer to GET PROCESSING OPTIONS.
pub const RESPONSE_TEMPLATE: Tag = known(0x77);
/// Issuer Application Data.
pub const IAD: Tag = known(0x9F10);
/// Application Cryptogram.
pub const CRYPTOGRAM: Tag = known(0x9F26);
/// Application Transaction Counter.
pub const ATC: Tag = known(0x9F36);
/// Unpredictable Number.
pub const UNPREDICTABLE_NUMBER: Tag = known(0x9F37);
