//! GET PROCESSING OPTIONS, the NFC half of a payment: the PDOL the card asks for, the
//! PDOL data the terminal answers with, and the card's answer (template `77`).
//!
//! The phone encodes both answers' halves (`mobile-sdk`), the authorizer parses them
//! from what the terminal forwards; one module so the two can never disagree.

use std::fmt;

use zeroize::Zeroize;

use crate::cryptogram::{
    is_valid_date, TerminalData, CRYPTOGRAM_LEN, MAX_AMOUNT_MINOR, MAX_NUMERIC_CODE,
};
use crate::tags;
use crate::tlv::{self, Tag, Tlv, Value};

/// The PDOL: amount authorised `9F02` (6), currency `5F2A` (2), country `9F1A` (2),
/// date `9A` (3), terminal unpredictable number `9F37` (4).
pub const PDOL: &[u8] =
    &[0x9F, 0x02, 0x06, 0x5F, 0x2A, 0x02, 0x9F, 0x1A, 0x02, 0x9A, 0x03, 0x9F, 0x37, 0x04];
/// Bytes of data the PDOL asks for, i.e. the length of tag `83` in GPO.
pub const PDOL_DATA_LEN: usize = 6 + 2 + 2 + 3 + 4;
/// Token PANs are 12 to 19 digits.
const PAN_DIGITS: std::ops::RangeInclusive<usize> = 12..=19;
/// Longest IAD a card may send (EMV: at most 32 bytes).
pub const MAX_IAD_LEN: usize = 32;

/// Why GPO data was refused. Names the element, never echoes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GpoError {
    #[error("PDOL data must be {PDOL_DATA_LEN} bytes")]
    PdolLength,
    #[error("PDOL data: {0} is not valid")]
    PdolValue(&'static str),
    #[error("the GPO answer is not strict BER-TLV")]
    Tlv,
    #[error("the GPO answer must be one template 77")]
    NotTemplate,
    #[error("the GPO answer lacks {0}")]
    Missing(Tag),
    #[error("{0} has the wrong length or format")]
    Invalid(Tag),
}

/// The PDOL data the terminal sends, read strictly: BCD digits, a real date.
pub fn parse_pdol_data(data: &[u8]) -> Result<TerminalData, GpoError> {
    let data: &[u8; PDOL_DATA_LEN] = data.try_into().map_err(|_| GpoError::PdolLength)?;
    let digits = |name, bytes: &[u8]| bcd_number(bytes).ok_or(GpoError::PdolValue(name));
    // Two BCD bytes hold up to 9999; ISO numeric codes stop at 999.
    let code = |name, bytes: &[u8]| {
        u16::try_from(digits(name, bytes)?)
            .ok()
            .filter(|c| *c <= MAX_NUMERIC_CODE)
            .ok_or(GpoError::PdolValue(name))
    };
    let date_part = |b: u8| bcd_number(&[b]).and_then(|v| u8::try_from(v).ok());
    let date = match (date_part(data[10]), date_part(data[11]), date_part(data[12])) {
        (Some(y), Some(m), Some(d)) if is_valid_date(y, m, d) => (y, m, d),
        _ => return Err(GpoError::PdolValue("date")),
    };
    let mut unpredictable_number = [0u8; 4];
    unpredictable_number.copy_from_slice(&data[13..17]);
    Ok(TerminalData {
        amount_minor: digits("amount", &data[0..6])?,
        currency_numeric: code("currency", &data[6..8])?,
        country_numeric: code("country", &data[8..10])?,
        date,
        unpredictable_number,
    })
}

/// The PDOL data for `terminal`; `None` when a value does not fit its BCD field.
pub fn pdol_data(terminal: &TerminalData) -> Option<[u8; PDOL_DATA_LEN]> {
    let (year, month, day) = terminal.date;
    let fits = terminal.amount_minor <= MAX_AMOUNT_MINOR
        && terminal.currency_numeric <= MAX_NUMERIC_CODE
        && terminal.country_numeric <= MAX_NUMERIC_CODE
        && is_valid_date(year, month, day);
    if !fits {
        return None;
    }
    let mut out = [0u8; PDOL_DATA_LEN];
    out[0..6].copy_from_slice(&bcd::<6>(terminal.amount_minor));
    out[6..8].copy_from_slice(&bcd::<2>(terminal.currency_numeric.into()));
    out[8..10].copy_from_slice(&bcd::<2>(terminal.country_numeric.into()));
    out[10..13].copy_from_slice(&[year, month, day].map(|v| bcd::<1>(v.into())[0]));
    out[13..17].copy_from_slice(&terminal.unpredictable_number);
    Some(out)
}

/// The card's GET PROCESSING OPTIONS answer. `Debug` shows only the token's last four
/// digits and no cryptogram.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessingOptions {
    pub token_pan: String,
    pub atc: u16,
    pub cryptogram: [u8; CRYPTOGRAM_LEN],
    pub iad: Vec<u8>,
    pub card_unpredictable_number: [u8; 4],
}

impl fmt::Debug for ProcessingOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last4 = self.token_pan.get(self.token_pan.len().saturating_sub(4)..).unwrap_or("");
        f.debug_struct("ProcessingOptions")
            .field("token_pan", &format_args!("…{last4}"))
            .field("atc", &self.atc)
            .finish_non_exhaustive()
    }
}

/// The token number and cryptogram are wiped when the answer goes.
impl Drop for ProcessingOptions {
    fn drop(&mut self) {
        self.token_pan.zeroize();
        self.cryptogram.zeroize();
    }
}

impl ProcessingOptions {
    /// Template `77`: token `5A`, ATC `9F36`, cryptogram `9F26`, IAD `9F10`, card UN
    /// `9F37`. `None` when the PAN is not 12–19 digits or the IAD is too long.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let pan = pack_pan(&self.token_pan)?;
        if self.iad.is_empty() || self.iad.len() > MAX_IAD_LEN {
            return None;
        }
        let primitive = |tag, bytes: &[u8]| Tlv { tag, value: Value::Primitive(bytes.to_vec()) };
        let template = Tlv {
            tag: tags::RESPONSE_TEMPLATE,
            value: Value::Constructed(vec![
                primitive(tags::PAN, &pan),
                primitive(tags::ATC, &self.atc.to_be_bytes()),
                primitive(tags::CRYPTOGRAM, &self.cryptogram),
                primitive(tags::IAD, &self.iad),
                primitive(tags::UNPREDICTABLE_NUMBER, &self.card_unpredictable_number),
            ]),
        };
        Some(tlv::encode(&template))
    }

    /// Reads exactly one template `77` holding each element once (unknown ones ignored).
    pub fn parse(bytes: &[u8]) -> Result<ProcessingOptions, GpoError> {
        let objects = tlv::decode_all(bytes).map_err(|_| GpoError::Tlv)?;
        let [template] = objects.as_slice() else { return Err(GpoError::NotTemplate) };
        let Value::Constructed(children) = &template.value else {
            return Err(GpoError::NotTemplate);
        };
        if template.tag != tags::RESPONSE_TEMPLATE {
            return Err(GpoError::NotTemplate);
        }
        // Strict TLV already refused a tag twice in one template.
        let field = |tag: Tag| -> Result<&[u8], GpoError> {
            let found = children.iter().find(|c| c.tag == tag);
            found
                .map(|c| c.as_primitive().ok_or(GpoError::Invalid(tag)))
                .unwrap_or(Err(GpoError::Missing(tag)))
        };
        let fixed = |tag| -> Result<Vec<u8>, GpoError> { field(tag).map(<[u8]>::to_vec) };
        let wrong = GpoError::Invalid;
        let iad = fixed(tags::IAD)?;
        if iad.is_empty() || iad.len() > MAX_IAD_LEN {
            return Err(wrong(tags::IAD));
        }
        Ok(ProcessingOptions {
            token_pan: unpack_pan(field(tags::PAN)?).ok_or(wrong(tags::PAN))?,
            atc: u16::from_be_bytes(fixed(tags::ATC)?.try_into().map_err(|_| wrong(tags::ATC))?),
            cryptogram: fixed(tags::CRYPTOGRAM)?.try_into().map_err(|_| wrong(tags::CRYPTOGRAM))?,
            iad,
            card_unpredictable_number: fixed(tags::UNPREDICTABLE_NUMBER)?
                .try_into()
                .map_err(|_| wrong(tags::UNPREDICTABLE_NUMBER))?,
        })
    }
}

/// `5A`: digits packed two per byte, an odd count padded with `F`.
fn pack_pan(digits: &str) -> Option<Vec<u8>> {
    let ok = PAN_DIGITS.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| {
        digits
            .as_bytes()
            .chunks(2)
            .map(|pair| (pair[0] - b'0') << 4 | pair.get(1).map_or(0x0F, |d| d - b'0'))
            .collect()
    })
}

/// Reverse of [`pack_pan`]; an `F` only as the very last nibble, 12–19 digits.
fn unpack_pan(bytes: &[u8]) -> Option<String> {
    let mut nibbles: Vec<u8> = bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect();
    if nibbles.last() == Some(&0x0F) {
        nibbles.pop();
    }
    let ok = PAN_DIGITS.contains(&nibbles.len()) && nibbles.iter().all(|&n| n <= 9);
    ok.then(|| nibbles.iter().map(|&n| char::from(b'0' + n)).collect())
}

/// Packed BCD digits as a number; `None` if a nibble is not a digit.
fn bcd_number(bytes: &[u8]) -> Option<u64> {
    bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .try_fold(0u64, |acc, digit| (digit <= 9).then(|| acc * 10 + u64::from(digit)))
}

/// `value` as `2 × N` BCD digits, left-padded with zeros (the caller checked the range).
fn bcd<const N: usize>(mut value: u64) -> [u8; N] {
    let mut out = [0u8; N];
    for byte in out.iter_mut().rev() {
        let low = (value % 10) as u8;
        value /= 10;
        let high = (value % 10) as u8;
        value /= 10;
        *byte = high << 4 | low;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal() -> TerminalData {
        TerminalData {
            amount_minor: 12_345,
            currency_numeric: 978,
            country_numeric: 276,
            date: (26, 11, 23),
            unpredictable_number: [0x1A, 0x2B, 0x3C, 0x4D],
        }
    }

    fn answer() -> ProcessingOptions {
        ProcessingOptions {
            token_pan: "7001990000001234567".into(),
            atc: 0x0102,
            cryptogram: [1, 2, 3, 4, 5, 6, 7, 8],
            iad: vec![0x06, 0x01, 0x0A],
            card_unpredictable_number: [9, 9, 9, 9],
        }
    }

    #[test]
    fn pdol_length_matches_its_entries() {
        let lengths: usize =
            [PDOL[2], PDOL[5], PDOL[8], PDOL[10], PDOL[13]].map(usize::from).iter().sum();
        assert_eq!((lengths, PDOL.len()), (PDOL_DATA_LEN, 14));
    }

    #[test]
    fn pdol_data_is_the_documented_layout_and_reads_back() {
        let data = pdol_data(&terminal()).unwrap();
        assert_eq!(hex(&data), "000000012345097802762611231a2b3c4d");
        assert_eq!(parse_pdol_data(&data), Ok(terminal()));
    }

    #[test]
    fn pdol_data_refuses_non_digits_false_dates_and_wrong_lengths() {
        let data = pdol_data(&terminal()).unwrap();
        let with = |i: usize, b: u8| {
            let mut d = data;
            d[i] = b;
            parse_pdol_data(&d)
        };
        assert_eq!(with(0, 0x0A), Err(GpoError::PdolValue("amount")));
        assert_eq!(with(6, 0xF9), Err(GpoError::PdolValue("currency")));
        assert_eq!(with(8, 0x10), Err(GpoError::PdolValue("country"))); // 1276 > 999
        assert_eq!(with(11, 0x13), Err(GpoError::PdolValue("date")));
        assert_eq!(with(12, 0x31).map(|_| ()), Err(GpoError::PdolValue("date"))); // 31 Nov
        assert_eq!(parse_pdol_data(&data[1..]), Err(GpoError::PdolLength));
    }

    #[test]
    fn the_gpo_answer_round_trips_and_hides_its_secrets() {
        let bytes = answer().encode().unwrap();
        assert_eq!(bytes[0], 0x77);
        assert_eq!(ProcessingOptions::parse(&bytes), Ok(answer()));
        let shown = format!("{:?}", answer());
        assert!(shown.contains("…4567") && !shown.contains("700199"), "{shown}");
        let mut even = answer();
        even.token_pan.pop();
        assert_eq!(ProcessingOptions::parse(&even.encode().unwrap()), Ok(even));
    }

    #[test]
    fn a_gpo_answer_missing_or_doubling_an_element_is_refused() {
        let bytes = answer().encode().unwrap();
        let Value::Constructed(mut children) = tlv::decode_all(&bytes).unwrap().remove(0).value
        else {
            panic!("template")
        };
        let rebuilt = |children: Vec<Tlv>| {
            tlv::encode(&Tlv { tag: tags::RESPONSE_TEMPLATE, value: Value::Constructed(children) })
        };
        let atc = children.remove(1);
        assert_eq!(
            ProcessingOptions::parse(&rebuilt(children.clone())),
            Err(GpoError::Missing(tags::ATC))
        );
        children.push(atc.clone());
        children.push(atc);
        assert_eq!(ProcessingOptions::parse(&rebuilt(children)), Err(GpoError::Tlv));
        assert_eq!(
            ProcessingOptions::parse(&[bytes.clone(), bytes].concat()),
            Err(GpoError::NotTemplate)
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
