//! EMVCo QR Code, Consumer-Presented Mode: the payload a phone shows at the pump.
//!
//! Layout written by [`encode`] (base64 of strict BER-TLV, so the text starts `hQVDUFYw`):
//!
//! ```text
//! 85 "CPV01"
//! 61 application template
//!    4F AID | 50 label (optional) | 5A PAN or 57 track 2 | unknown objects, as decoded
//!    64 chip data: 9F26 cryptogram, 9F10 IAD, 9F36 ATC, 9F37 unpredictable number
//! ```
//!
//! [`decode`] also takes the chip data in template `63`. It accepts one application
//! template only: a fuel card wallet presents one card, and a payload whose other
//! applications we silently dropped could not be re-encoded faithfully.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::tags;
use crate::tlv::{self, Tag, Tlv, TlvError, Value};

/// Most decoded bytes a reader must take (EMV CPM).
pub const MAX_QR_PAYLOAD_BYTES: usize = 512;
/// Value of the payload format indicator, tag 85.
pub const PAYLOAD_FORMAT: &[u8] = b"CPV01";
/// Base64 text of at most [`MAX_QR_PAYLOAD_BYTES`] bytes, padding included.
const MAX_QR_TEXT_LEN: usize = MAX_QR_PAYLOAD_BYTES.div_ceil(3) * 4;

/// Digits in a PAN (ISO/IEC 7812 allows 12 to 19 for payment cards).
pub const PAN_DIGITS: std::ops::RangeInclusive<usize> = 12..=19;
/// Bytes in an AID: a 5-byte RID and a PIX of up to 11 bytes.
pub const AID_LEN: std::ops::RangeInclusive<usize> = 5..=16;
/// Bytes in an application label (EMV: ans 1-16).
pub const LABEL_LEN: std::ops::RangeInclusive<usize> = 1..=16;
/// Bytes in issuer application data (EMV: b 1-32).
pub const IAD_LEN: std::ops::RangeInclusive<usize> = 1..=32;
/// Most bytes of track 2 equivalent data (EMV: b up to 19).
pub const MAX_TRACK2_BYTES: usize = 19;

/// A decoded CPM payload.
#[derive(Clone, PartialEq, Eq)]
pub struct CpmPayload {
    pub aid: Vec<u8>,
    pub label: Option<String>,
    pub token: TokenData,
    pub chip: ChipData,
    /// Objects of the application template this crate does not interpret, kept in order so
    /// re-encoding loses nothing. Must not repeat a tag the other fields write.
    pub unknown: Vec<Tlv>,
}

/// The payment token, in the form the wallet chose.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenData {
    /// Tag 5A: ASCII digits, written as packed BCD padded with one trailing `F`.
    Pan(String),
    /// Tag 57: track 2 equivalent data as written (PAN, `D`, expiry, service code,
    /// discretionary data, `F` padding), nibble-checked on decode.
    Track2(Vec<u8>),
}

impl TokenData {
    /// The token PAN, from whichever form carries it.
    pub fn pan(&self) -> String {
        match self {
            TokenData::Pan(pan) => pan.clone(),
            TokenData::Track2(bytes) => {
                nibbles(bytes).take_while(|&n| n <= 9).map(|n| char::from(b'0' + n)).collect()
            }
        }
    }
}

/// The chip data a cryptogram is verified with.
#[derive(Clone, PartialEq, Eq)]
pub struct ChipData {
    /// 9F26.
    pub cryptogram: [u8; 8],
    /// 9F36.
    pub atc: u16,
    /// 9F10, 1..=32 bytes.
    pub iad: Vec<u8>,
    /// 9F37, chosen by the card (phone) since a QR terminal sends nothing to the card.
    pub unpredictable_number: [u8; 4],
}

/// Why a string is not a payload this crate accepts. Errors name tags, never values:
/// they end up in logs and a value here is a token or a cryptogram.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("QR payload is not canonical standard base64: {0}")]
    Base64(String),
    /// `len` is the decoded size, or a lower bound of it when the text alone is too long.
    #[error("QR payload of {len} bytes exceeds {MAX_QR_PAYLOAD_BYTES}")]
    TooLarge { len: usize },
    #[error("QR payload is not strict BER-TLV: {0}")]
    Tlv(#[from] TlvError),
    #[error("the first object must be tag 85 (payload format indicator), found {found}")]
    FormatIndicatorNotFirst { found: Tag },
    #[error("required tag {tag} is missing")]
    MissingTag { tag: Tag },
    #[error("tag {tag} is not expected here")]
    UnexpectedTag { tag: Tag },
    #[error("tag {tag} appears more than once")]
    Repeated { tag: Tag },
    #[error("tags {first} and {second} exclude each other")]
    Conflict { first: Tag, second: Tag },
    #[error("tag {tag} has a value of the wrong length ({len} bytes)")]
    WrongLength { tag: Tag, len: usize },
    #[error("tag {tag} has an invalid value: {reason}")]
    InvalidValue { tag: Tag, reason: &'static str },
    #[error("payload does not survive encoding (an unknown object clashes with a known one)")]
    NotRepresentable,
}

/// Writes the payload as base64 text. Total: [`try_encode`] also checks that the text
/// decodes back to `payload`, as any payload returned by [`decode`] does.
pub fn encode(payload: &CpmPayload) -> String {
    let top =
        [primitive(tags::PAYLOAD_FORMAT_INDICATOR, PAYLOAD_FORMAT.to_vec()), application(payload)];
    STANDARD.encode(tlv::encode_all(&top))
}

/// [`encode`], refusing a payload that would not decode to itself (bad PAN digits, label
/// or lengths, an unknown object repeating a known tag, a payload over 512 bytes).
pub fn try_encode(payload: &CpmPayload) -> Result<String, QrError> {
    let text = encode(payload);
    if decode(&text)? == *payload {
        Ok(text)
    } else {
        Err(QrError::NotRepresentable)
    }
}

fn primitive(tag: Tag, value: Vec<u8>) -> Tlv {
    Tlv { tag, value: Value::Primitive(value) }
}

fn application(payload: &CpmPayload) -> Tlv {
    let mut children = vec![primitive(tags::AID, payload.aid.clone())];
    if let Some(label) = &payload.label {
        children.push(primitive(tags::APPLICATION_LABEL, label.as_bytes().to_vec()));
    }
    children.push(match &payload.token {
        TokenData::Pan(pan) => primitive(tags::PAN, pack_bcd(pan)),
        TokenData::Track2(bytes) => primitive(tags::TRACK2, bytes.clone()),
    });
    children.extend(payload.unknown.iter().cloned());
    children.push(chip_template(&payload.chip));
    Tlv { tag: tags::APPLICATION_TEMPLATE, value: Value::Constructed(children) }
}

fn chip_template(chip: &ChipData) -> Tlv {
    let children = vec![
        primitive(tags::CRYPTOGRAM, chip.cryptogram.to_vec()),
        primitive(tags::IAD, chip.iad.clone()),
        primitive(tags::ATC, chip.atc.to_be_bytes().to_vec()),
        primitive(tags::UNPREDICTABLE_NUMBER, chip.unpredictable_number.to_vec()),
    ];
    Tlv { tag: tags::COMMON_TRANSPARENT_TEMPLATE, value: Value::Constructed(children) }
}

/// Packs digits two per byte, padding an odd count with `F`. A non-digit becomes nibble
/// `E`, which the decoder refuses, so the mistake surfaces in [`try_encode`].
fn pack_bcd(digits: &str) -> Vec<u8> {
    let nibble = |c: char| c.to_digit(10).map_or(0xE, |d| d as u8);
    let mut nibbles: Vec<u8> = digits.chars().map(nibble).collect();
    if nibbles.len() % 2 == 1 {
        nibbles.push(0xF);
    }
    nibbles.chunks_exact(2).map(|pair| pair.iter().fold(0, |acc, n| acc << 4 | n)).collect()
}

fn nibbles(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().flat_map(|b| [b >> 4, b & 0x0F])
}

/// Reads base64 text into a payload, enforcing every rule in the module doc.
pub fn decode(text: &str) -> Result<CpmPayload, QrError> {
    // Refuse before decoding, so a huge string never reaches an allocation.
    if text.len() > MAX_QR_TEXT_LEN {
        return Err(QrError::TooLarge { len: text.len() / 4 * 3 });
    }
    let bytes = STANDARD.decode(text).map_err(|e| QrError::Base64(e.to_string()))?;
    if bytes.len() > MAX_QR_PAYLOAD_BYTES {
        return Err(QrError::TooLarge { len: bytes.len() });
    }
    let top = tlv::decode_all(&bytes)?;
    check_format_indicator(&top)?;
    decode_application(single_application(&top)?)
}

fn check_format_indicator(top: &[Tlv]) -> Result<(), QrError> {
    let first = top.first().ok_or(QrError::MissingTag { tag: tags::PAYLOAD_FORMAT_INDICATOR })?;
    if first.tag != tags::PAYLOAD_FORMAT_INDICATOR {
        return Err(QrError::FormatIndicatorNotFirst { found: first.tag });
    }
    if first.as_primitive() != Some(PAYLOAD_FORMAT) {
        return Err(QrError::InvalidValue {
            tag: first.tag,
            reason: "payload format must be CPV01",
        });
    }
    Ok(())
}

/// The one application template; anything else after 85 is refused.
fn single_application(top: &[Tlv]) -> Result<&Tlv, QrError> {
    let mut application = None;
    for tlv in top.iter().skip(1) {
        if tlv.tag != tags::APPLICATION_TEMPLATE {
            return Err(QrError::UnexpectedTag { tag: tlv.tag });
        }
        if application.replace(tlv).is_some() {
            return Err(QrError::Repeated { tag: tlv.tag });
        }
    }
    application.ok_or(QrError::MissingTag { tag: tags::APPLICATION_TEMPLATE })
}

fn decode_application(template: &Tlv) -> Result<CpmPayload, QrError> {
    let children = template.children();
    let aid = required(children, tags::AID)?;
    if !AID_LEN.contains(&aid.len()) {
        return Err(QrError::WrongLength { tag: tags::AID, len: aid.len() });
    }
    let label = tlv::find(children, tags::APPLICATION_LABEL).map(decode_label).transpose()?;
    let token = decode_token(children)?;
    let chip = decode_chip(one_of(
        children,
        tags::COMMON_TRANSPARENT_TEMPLATE,
        tags::APPLICATION_TRANSPARENT_TEMPLATE,
    )?)?;
    let unknown =
        children.iter().filter(|tlv| !is_known_in_application(tlv.tag)).cloned().collect();
    Ok(CpmPayload { aid: aid.to_vec(), label, token, chip, unknown })
}

fn is_known_in_application(tag: Tag) -> bool {
    [
        tags::AID,
        tags::APPLICATION_LABEL,
        tags::PAN,
        tags::TRACK2,
        tags::COMMON_TRANSPARENT_TEMPLATE,
        tags::APPLICATION_TRANSPARENT_TEMPLATE,
    ]
    .contains(&tag)
}

/// The value of a primitive child that must be present. (Tags named here are primitive,
/// and decoded objects always match their tag's kind, so `as_primitive` cannot miss.)
fn required(children: &[Tlv], tag: Tag) -> Result<&[u8], QrError> {
    tlv::find(children, tag).and_then(Tlv::as_primitive).ok_or(QrError::MissingTag { tag })
}

/// Exactly one of two alternative objects; `first` is the one reported when neither is.
fn one_of(children: &[Tlv], first: Tag, second: Tag) -> Result<&Tlv, QrError> {
    match (tlv::find(children, first), tlv::find(children, second)) {
        (Some(found), None) | (None, Some(found)) => Ok(found),
        (Some(_), Some(_)) => Err(QrError::Conflict { first, second }),
        (None, None) => Err(QrError::MissingTag { tag: first }),
    }
}

fn decode_label(tlv: &Tlv) -> Result<String, QrError> {
    let bytes = tlv.as_primitive().unwrap_or_default();
    if !LABEL_LEN.contains(&bytes.len()) {
        return Err(QrError::WrongLength { tag: tlv.tag, len: bytes.len() });
    }
    if !bytes.iter().all(|b| (0x20..=0x7E).contains(b)) {
        return Err(QrError::InvalidValue {
            tag: tlv.tag,
            reason: "label must be printable ASCII",
        });
    }
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}

fn decode_token(children: &[Tlv]) -> Result<TokenData, QrError> {
    let token = one_of(children, tags::PAN, tags::TRACK2)?;
    let bytes = token.as_primitive().unwrap_or_default();
    if token.tag == tags::PAN {
        decode_pan(bytes).map(TokenData::Pan)
    } else {
        check_track2(bytes).map(|()| TokenData::Track2(bytes.to_vec()))
    }
}

fn decode_pan(bytes: &[u8]) -> Result<String, QrError> {
    let invalid = |reason| QrError::InvalidValue { tag: tags::PAN, reason };
    let digits =
        bcd_digits(bytes).ok_or(invalid("PAN must be BCD digits with one trailing F at most"))?;
    if !PAN_DIGITS.contains(&digits.len()) {
        return Err(invalid("PAN must have 12 to 19 digits"));
    }
    Ok(digits.into_iter().map(|d| char::from(b'0' + d)).collect())
}

/// Digits of packed BCD, allowing an `F` only as the very last nibble.
fn bcd_digits(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut all: Vec<u8> = nibbles(bytes).collect();
    if all.last() == Some(&0xF) {
        all.pop();
    }
    all.iter().all(|&n| n <= 9).then_some(all)
}

/// Track 2 equivalent: PAN digits, separator `D`, digits, one trailing `F` at most.
fn check_track2(bytes: &[u8]) -> Result<(), QrError> {
    let invalid = |reason| QrError::InvalidValue { tag: tags::TRACK2, reason };
    if bytes.is_empty() || bytes.len() > MAX_TRACK2_BYTES {
        return Err(QrError::WrongLength { tag: tags::TRACK2, len: bytes.len() });
    }
    let mut all: Vec<u8> = nibbles(bytes).collect();
    if all.last() == Some(&0xF) {
        all.pop();
    }
    let separator =
        all.iter().position(|&n| n == 0xD).ok_or(invalid("track 2 has no separator"))?;
    let (pan, rest) = all.split_at(separator);
    if !PAN_DIGITS.contains(&pan.len()) || pan.iter().any(|&n| n > 9) {
        return Err(invalid("track 2 PAN must have 12 to 19 digits"));
    }
    if rest.iter().skip(1).any(|&n| n > 9) {
        return Err(invalid("track 2 holds digits only after the separator"));
    }
    Ok(())
}

fn decode_chip(template: &Tlv) -> Result<ChipData, QrError> {
    let children = template.children();
    let known = [tags::CRYPTOGRAM, tags::ATC, tags::IAD, tags::UNPREDICTABLE_NUMBER];
    // Chip data feeds the cryptogram check; anything we would not verify is refused.
    if let Some(other) = children.iter().find(|tlv| !known.contains(&tlv.tag)) {
        return Err(QrError::UnexpectedTag { tag: other.tag });
    }
    let cryptogram = fixed(children, tags::CRYPTOGRAM)?;
    let atc = u16::from_be_bytes(fixed(children, tags::ATC)?);
    let iad = required(children, tags::IAD)?;
    if !IAD_LEN.contains(&iad.len()) {
        return Err(QrError::WrongLength { tag: tags::IAD, len: iad.len() });
    }
    let unpredictable_number = fixed(children, tags::UNPREDICTABLE_NUMBER)?;
    Ok(ChipData { cryptogram, atc, iad: iad.to_vec(), unpredictable_number })
}

fn fixed<const N: usize>(children: &[Tlv], tag: Tag) -> Result<[u8; N], QrError> {
    let bytes = required(children, tag)?;
    bytes.try_into().map_err(|_| QrError::WrongLength { tag, len: bytes.len() })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Shows the last four digits only: a token PAN is still a PAN.
impl fmt::Debug for TokenData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pan = self.pan();
        let last4: String = pan.chars().skip(pan.len().saturating_sub(4)).collect();
        match self {
            TokenData::Pan(_) => write!(f, "Pan(…{last4})"),
            TokenData::Track2(bytes) => write!(f, "Track2(…{last4}, {} bytes)", bytes.len()),
        }
    }
}

/// Hides the cryptogram and the IAD (which carries key and counter data).
impl fmt::Debug for ChipData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChipData")
            .field("cryptogram", &"<redacted>")
            .field("atc", &self.atc)
            .field("iad", &format_args!("<{} bytes>", self.iad.len()))
            .field("unpredictable_number", &hex(&self.unpredictable_number))
            .finish()
    }
}

/// Shows only the tags of unknown objects, whose values we cannot judge safe to log.
impl fmt::Debug for CpmPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown: Vec<Tag> = self.unknown.iter().map(|tlv| tlv.tag).collect();
        f.debug_struct("CpmPayload")
            .field("aid", &hex(&self.aid))
            .field("label", &self.label)
            .field("token", &self.token)
            .field("chip", &self.chip)
            .field("unknown", &unknown)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CpmPayload {
        CpmPayload {
            aid: vec![0xA0, 0x00, 0x00, 0x09, 0x99, 0x10, 0x10],
            label: Some("FORECOURT FLEET".to_owned()),
            token: TokenData::Pan("7001234567890128".to_owned()),
            chip: ChipData {
                cryptogram: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
                atc: 0x002A,
                iad: vec![0x06; 32],
                unpredictable_number: [0xDE, 0xAD, 0xBE, 0xEF],
            },
            unknown: vec![],
        }
    }

    fn prim(tag: Tag, value: &[u8]) -> Tlv {
        primitive(tag, value.to_vec())
    }

    fn cons(tag: Tag, children: Vec<Tlv>) -> Tlv {
        Tlv { tag, value: Value::Constructed(children) }
    }

    fn text(top: &[Tlv]) -> String {
        STANDARD.encode(tlv::encode_all(top))
    }

    fn tag(raw: u32) -> Tag {
        Tag::new(raw).unwrap()
    }

    /// The top-level objects `encode` writes for `sample()`, to be bent by each test.
    fn sample_tree() -> Vec<Tlv> {
        let bytes = STANDARD.decode(encode(&sample())).unwrap();
        tlv::decode_all(&bytes).unwrap()
    }

    /// `sample_tree()` with the application template's children replaced by `edit`.
    fn with_application(edit: impl FnOnce(&mut Vec<Tlv>)) -> String {
        let mut top = sample_tree();
        if let Some(Tlv { value: Value::Constructed(children), .. }) = top.get_mut(1) {
            edit(children);
        }
        text(&top)
    }

    /// `sample()` with the chip template's children replaced by `edit`.
    fn with_chip(edit: impl FnOnce(&mut Vec<Tlv>)) -> String {
        with_application(|app| {
            if let Some(Tlv { value: Value::Constructed(chip), .. }) = app.last_mut() {
                edit(chip);
            }
        })
    }

    fn set(children: &mut [Tlv], tag: Tag, value: &[u8]) {
        children.iter_mut().filter(|t| t.tag == tag).for_each(|t| *t = prim(tag, value));
    }

    #[test]
    fn round_trip_and_prefix() {
        let text = encode(&sample());
        assert!(text.starts_with("hQVDUFYw"), "{text}");
        assert_eq!(decode(&text), Ok(sample()));
        assert_eq!(try_encode(&sample()), Ok(text));
    }

    #[test]
    fn typical_payload_is_well_under_the_reader_limit() {
        let bytes = STANDARD.decode(encode(&sample())).unwrap();
        assert!(bytes.len() < MAX_QR_PAYLOAD_BYTES / 4, "{} bytes", bytes.len());
        // Every field at its largest still fits.
        let mut largest = sample();
        largest.aid = vec![0xA0; 16];
        largest.label = Some("X".repeat(16));
        largest.token = TokenData::Pan("1".repeat(19));
        assert!(try_encode(&largest).unwrap().len() < MAX_QR_PAYLOAD_BYTES);
    }

    #[test]
    fn pan_is_packed_bcd_with_f_padding() {
        assert_eq!(pack_bcd("1234"), [0x12, 0x34]);
        assert_eq!(pack_bcd("12345"), [0x12, 0x34, 0x5F]);
        let mut odd = sample();
        odd.token = TokenData::Pan("1234567890123".to_owned());
        assert_eq!(decode(&try_encode(&odd).unwrap()), Ok(odd));
    }

    #[test]
    fn track2_round_trips_and_yields_its_pan() {
        let mut payload = sample();
        let track2 = vec![0x70, 0x01, 0x23, 0x45, 0x67, 0x89, 0x01, 0x28, 0xD2, 0x91, 0x22, 0x01];
        payload.token = TokenData::Track2(track2);
        let text = try_encode(&payload).unwrap();
        let decoded = decode(&text).unwrap();
        assert_eq!(decoded.token.pan(), "7001234567890128");
        assert_eq!(decoded, payload);
    }

    #[test]
    fn chip_data_in_template_63_is_accepted() {
        let text = with_application(|app| {
            if let Some(chip) = app.last_mut() {
                chip.tag = tags::APPLICATION_TRANSPARENT_TEMPLATE;
            }
        });
        assert_eq!(decode(&text), Ok(sample()));
    }

    #[test]
    fn unknown_application_objects_are_kept_in_order() {
        let extra =
            vec![prim(tag(0x5F20), b"DRIVER/A"), cons(tag(0xBF0C), vec![prim(tag(0x9F4D), &[1])])];
        let text = with_application(|app| app.splice(1..1, extra.clone()).for_each(drop));
        let decoded = decode(&text).unwrap();
        assert_eq!(decoded.unknown, extra);
        assert_eq!(decode(&try_encode(&decoded).unwrap()), Ok(decoded));
    }

    #[test]
    fn transport_rules() {
        assert!(matches!(decode("not base64!"), Err(QrError::Base64(_))));
        // Unpadded and non-canonical text is refused: two encoders must agree byte for byte.
        let padded = STANDARD.encode([0x85, 0x00, 0x61, 0x00]);
        assert_eq!(padded, "hQBhAA==");
        assert!(matches!(decode("hQBhAA"), Err(QrError::Base64(_))));
        assert!(matches!(decode("hQBhAB=="), Err(QrError::Base64(_))));
        assert!(matches!(decode(" hQBhAA=="), Err(QrError::Base64(_))));
        let huge = STANDARD.encode(vec![0u8; MAX_QR_PAYLOAD_BYTES + 1]);
        assert_eq!(decode(&huge), Err(QrError::TooLarge { len: 513 }));
        let way_too_long = "A".repeat(10_000);
        assert!(matches!(decode(&way_too_long), Err(QrError::TooLarge { .. })));
        assert_eq!(decode(""), Err(QrError::Tlv(TlvError::EmptyInput)));
    }

    #[test]
    fn format_indicator_rules() {
        let mut top = sample_tree();
        top.swap(0, 1);
        assert_eq!(
            decode(&text(&top)),
            Err(QrError::FormatIndicatorNotFirst { found: tags::APPLICATION_TEMPLATE })
        );
        let mut top = sample_tree();
        top[0] = prim(tags::PAYLOAD_FORMAT_INDICATOR, b"CPV02");
        let want = QrError::InvalidValue {
            tag: tags::PAYLOAD_FORMAT_INDICATOR,
            reason: "payload format must be CPV01",
        };
        assert_eq!(decode(&text(&top)), Err(want));
    }

    #[test]
    fn exactly_one_application_template() {
        let top = sample_tree();
        let only_85 = text(&top[..1]);
        assert_eq!(decode(&only_85), Err(QrError::MissingTag { tag: tags::APPLICATION_TEMPLATE }));
        let twice = text(&[top[0].clone(), top[1].clone(), top[1].clone()]);
        assert_eq!(decode(&twice), Err(QrError::Repeated { tag: tags::APPLICATION_TEMPLATE }));
        let stray = text(&[top[0].clone(), top[1].clone(), cons(tag(0x62), vec![])]);
        assert_eq!(decode(&stray), Err(QrError::UnexpectedTag { tag: tag(0x62) }));
    }

    #[test]
    fn duplicate_primitive_is_refused_by_tlv() {
        let text = with_application(|app| app.insert(1, prim(tags::AID, &[0xA0; 7])));
        assert!(
            matches!(decode(&text), Err(QrError::Tlv(TlvError::DuplicateTag { tag, .. })) if tag == tags::AID)
        );
    }

    #[test]
    fn application_field_rules() {
        let missing_aid = with_application(|app| app.retain(|t| t.tag != tags::AID));
        assert_eq!(decode(&missing_aid), Err(QrError::MissingTag { tag: tags::AID }));
        let short_aid = with_application(|app| set(app, tags::AID, &[0xA0; 4]));
        assert_eq!(decode(&short_aid), Err(QrError::WrongLength { tag: tags::AID, len: 4 }));
        let long_label = with_application(|app| set(app, tags::APPLICATION_LABEL, &[b'X'; 17]));
        assert_eq!(
            decode(&long_label),
            Err(QrError::WrongLength { tag: tags::APPLICATION_LABEL, len: 17 })
        );
        let binary_label = with_application(|app| set(app, tags::APPLICATION_LABEL, &[0x07]));
        assert!(
            matches!(decode(&binary_label), Err(QrError::InvalidValue { tag, .. }) if tag == tags::APPLICATION_LABEL)
        );
        let no_label = with_application(|app| app.retain(|t| t.tag != tags::APPLICATION_LABEL));
        assert_eq!(decode(&no_label).map(|p| p.label), Ok(None));
    }

    #[test]
    fn token_rules() {
        let missing = with_application(|app| app.retain(|t| t.tag != tags::PAN));
        assert_eq!(decode(&missing), Err(QrError::MissingTag { tag: tags::PAN }));
        let both = with_application(|app| app.insert(1, prim(tags::TRACK2, &[0x12, 0xD1])));
        assert_eq!(
            decode(&both),
            Err(QrError::Conflict { first: tags::PAN, second: tags::TRACK2 })
        );
        let invalid_pans: [&[u8]; 4] = [
            &[0x12, 0x34, 0x56, 0x78, 0x90, 0x1A],       // non-digit nibble
            &[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0xFF], // padding beyond one nibble
            &[0x12, 0x34, 0x56, 0x78, 0x90, 0x1F],       // 11 digits
            &[0x11; 10],                                 // 20 digits
        ];
        for pan in invalid_pans {
            let text = with_application(|app| set(app, tags::PAN, pan));
            assert!(
                matches!(decode(&text), Err(QrError::InvalidValue { tag, .. }) if tag == tags::PAN),
                "{pan:02X?}"
            );
        }
    }

    #[test]
    fn track2_rules() {
        let invalid: [&[u8]; 4] = [
            &[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34], // no separator
            &[0x12, 0x34, 0x56, 0xD2, 0x91, 0x22],       // PAN too short
            &[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0xD2, 0xA1], // non-digit after separator
            &[0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0xDF, 0xFF], // padding beyond one nibble
        ];
        for track2 in invalid {
            let text = with_application(|app| set_token(app, track2));
            assert!(
                matches!(decode(&text), Err(QrError::InvalidValue { tag, .. }) if tag == tags::TRACK2),
                "{track2:02X?}"
            );
        }
        let long = with_application(|app| set_token(app, &[0x11; 20]));
        assert_eq!(decode(&long), Err(QrError::WrongLength { tag: tags::TRACK2, len: 20 }));
        let empty = with_application(|app| set_token(app, &[]));
        assert_eq!(decode(&empty), Err(QrError::WrongLength { tag: tags::TRACK2, len: 0 }));
    }

    fn set_token(app: &mut [Tlv], track2: &[u8]) {
        app.iter_mut().filter(|t| t.tag == tags::PAN).for_each(|t| *t = prim(tags::TRACK2, track2));
    }

    #[test]
    fn chip_template_rules() {
        let none =
            with_application(|app| app.retain(|t| t.tag != tags::COMMON_TRANSPARENT_TEMPLATE));
        assert_eq!(
            decode(&none),
            Err(QrError::MissingTag { tag: tags::COMMON_TRANSPARENT_TEMPLATE })
        );
        let both =
            with_application(|app| app.push(cons(tags::APPLICATION_TRANSPARENT_TEMPLATE, vec![])));
        let want = QrError::Conflict {
            first: tags::COMMON_TRANSPARENT_TEMPLATE,
            second: tags::APPLICATION_TRANSPARENT_TEMPLATE,
        };
        assert_eq!(decode(&both), Err(want));
        let extra = with_chip(|chip| chip.push(prim(tag(0x9F27), &[0x80])));
        assert_eq!(decode(&extra), Err(QrError::UnexpectedTag { tag: tag(0x9F27) }));
    }

    #[test]
    fn every_chip_tag_is_required_with_its_length() {
        let fixed_lengths =
            [(tags::CRYPTOGRAM, 8), (tags::ATC, 2), (tags::UNPREDICTABLE_NUMBER, 4)];
        for (chip_tag, len) in fixed_lengths {
            let missing = with_chip(|chip| chip.retain(|t| t.tag != chip_tag));
            assert_eq!(decode(&missing), Err(QrError::MissingTag { tag: chip_tag }));
            for wrong in [len - 1, len + 1] {
                let text = with_chip(|chip| set(chip, chip_tag, &vec![0; wrong]));
                assert_eq!(decode(&text), Err(QrError::WrongLength { tag: chip_tag, len: wrong }));
            }
        }
        let missing_iad = with_chip(|chip| chip.retain(|t| t.tag != tags::IAD));
        assert_eq!(decode(&missing_iad), Err(QrError::MissingTag { tag: tags::IAD }));
        for wrong in [0, 33] {
            let text = with_chip(|chip| set(chip, tags::IAD, &vec![0; wrong]));
            assert_eq!(decode(&text), Err(QrError::WrongLength { tag: tags::IAD, len: wrong }));
        }
    }

    #[test]
    fn try_encode_refuses_what_would_not_decode_to_itself() {
        let mut bad_pan = sample();
        bad_pan.token = TokenData::Pan("7001-2345-6789".to_owned());
        assert!(
            matches!(try_encode(&bad_pan), Err(QrError::InvalidValue { tag, .. }) if tag == tags::PAN)
        );
        let mut clash = sample();
        clash.label = None;
        clash.unknown = vec![prim(tags::APPLICATION_LABEL, b"SNEAKY")];
        assert_eq!(try_encode(&clash), Err(QrError::NotRepresentable));
        let mut too_big = sample();
        too_big.unknown = vec![prim(tag(0x9F7C), &[0; 600])];
        assert!(matches!(try_encode(&too_big), Err(QrError::TooLarge { .. })));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("7001234567890128"), "{shown}");
        assert!(shown.contains("0128"), "{shown}");
        assert!(!shown.contains("1122334455667788") && !shown.contains("17, 34"), "{shown}");
    }
}
