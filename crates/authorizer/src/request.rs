//! What a terminal sends, checked field by field, and turned into the payment data the
//! token service validates.

use domain::{FieldError, Product};
use emv::cryptogram::{EntryMode, TerminalData};
use emv::tags;
use emv::tlv;
use serde::Deserialize;
use tokens::PaymentData;

/// Largest amount one fill may ask for, in minor units (a truck's two tanks of diesel).
pub const MAX_REQUEST_AMOUNT_MINOR: i64 = 500_000;
/// Largest volume one fill may ask for, in millilitres.
pub const MAX_REQUEST_VOLUME_ML: i64 = 2_000_000;
/// Bytes of the PDOL data a terminal sends in GET PROCESSING OPTIONS (docs/CRYPTOGRAM.md).
pub const PDOL_DATA_LEN: usize = 17;

/// `POST /v1/terminal/authorizations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// System trace audit number: 1–12 digits, chosen by the terminal.
    pub stan: String,
    /// The terminal's transmission time (RFC 3339), part of the message's identity.
    pub transmitted_at: String,
    pub entry_mode: EntryModeName,
    /// The QR payload as scanned (`entry_mode: qr`).
    pub qr: Option<String>,
    /// What the phone answered over NFC (`entry_mode: nfc`).
    pub nfc: Option<NfcData>,
    pub pump: u16,
    /// Products the pump offers for this fill.
    pub products: Vec<Product>,
    pub amount: Option<i64>,
    pub volume_ml: Option<i64>,
    /// Price per litre of the dearest offered product, thousandths of a minor unit.
    pub unit_price: i64,
    pub partial_supported: bool,
    pub odometer_km: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EntryModeName {
    Qr,
    Nfc,
}

/// The NFC exchange: the phone's GET PROCESSING OPTIONS answer and the PDOL data the
/// terminal sent (amount, currency, country, date, unpredictable number), both hex.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NfcData {
    pub gpo_response: String,
    pub pdol_data: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub amount: i64,
    pub volume_ml: i64,
    pub product: Product,
}

/// `POST /v1/terminal/reversals`: reverse a message by its identity, even one the server
/// never received.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseByReference {
    pub stan: String,
    pub transmitted_at: String,
}

impl AuthorizeRequest {
    /// Field rules; the payment data itself is judged later, as a decline.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_stan(&self.stan)?;
        check_transmitted_at(&self.transmitted_at)?;
        if self.products.is_empty() {
            return Err(FieldError::invalid(
                "products",
                "name at least one product the pump offers",
            ));
        }
        if !(1..=10_000_000).contains(&self.unit_price) {
            return Err(FieldError::out_of_range(
                "unit_price",
                "must be 1 to 10000000 (thousandths of a minor unit per litre)",
            ));
        }
        match (self.amount, self.volume_ml) {
            (Some(a), None) if (1..=MAX_REQUEST_AMOUNT_MINOR).contains(&a) => {}
            (None, Some(v)) if (1..=MAX_REQUEST_VOLUME_ML).contains(&v) => {}
            (Some(_), None) => {
                return Err(FieldError::out_of_range(
                    "amount",
                    format!("must be 1 to {MAX_REQUEST_AMOUNT_MINOR}"),
                ))
            }
            (None, Some(_)) => {
                return Err(FieldError::out_of_range(
                    "volume_ml",
                    format!("must be 1 to {MAX_REQUEST_VOLUME_ML}"),
                ))
            }
            _ => {
                return Err(FieldError::invalid(
                    "amount",
                    "send exactly one of amount and volume_ml",
                ))
            }
        }
        match (self.entry_mode, &self.qr, &self.nfc) {
            (EntryModeName::Qr, Some(_), None) | (EntryModeName::Nfc, None, Some(_)) => Ok(()),
            (EntryModeName::Qr, _, _) => {
                Err(FieldError::invalid("qr", "a QR authorization carries `qr` and no `nfc`"))
            }
            (EntryModeName::Nfc, _, _) => {
                Err(FieldError::invalid("nfc", "an NFC authorization carries `nfc` and no `qr`"))
            }
        }
    }

    pub fn entry_mode_str(&self) -> &'static str {
        match self.entry_mode {
            EntryModeName::Qr => "qr",
            EntryModeName::Nfc => "nfc",
        }
    }

    /// The payment data, or `None` when it does not parse (declined as invalid).
    pub fn payment_data(&self) -> Option<PaymentData> {
        match (&self.qr, &self.nfc) {
            (Some(qr), _) => from_qr(qr),
            (_, Some(nfc)) => from_nfc(nfc),
            _ => None,
        }
    }
}

pub fn check_stan(stan: &str) -> Result<(), FieldError> {
    if (1..=12).contains(&stan.len()) && stan.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(FieldError::invalid("stan", "must be 1 to 12 digits"))
    }
}

pub fn check_transmitted_at(at: &str) -> Result<(), FieldError> {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(|_| ())
        .map_err(|_| FieldError::invalid("transmitted_at", "must be an RFC 3339 time"))
}

fn from_qr(payload: &str) -> Option<PaymentData> {
    let qr = emv::qr::decode(payload).ok()?;
    Some(PaymentData {
        entry_mode: EntryMode::Qr,
        token_pan: qr.token.pan(),
        atc: qr.chip.atc,
        iad: qr.chip.iad.clone(),
        cryptogram: qr.chip.cryptogram,
        card_unpredictable_number: qr.chip.unpredictable_number,
        terminal: None,
    })
}

fn from_nfc(nfc: &NfcData) -> Option<PaymentData> {
    let response = hex::decode(&nfc.gpo_response).ok()?;
    let pdol = hex::decode(&nfc.pdol_data).ok()?;
    let objects = tlv::decode_all(&response).ok()?;
    let template = objects.first().filter(|t| t.tag == tags::RESPONSE_TEMPLATE)?;
    let field = |t| template.find(t).and_then(|o| o.as_primitive()).map(<[u8]>::to_vec);
    Some(PaymentData {
        entry_mode: EntryMode::Nfc,
        token_pan: bcd_digits(&field(tags::PAN)?)?,
        atc: u16::from_be_bytes(field(tags::ATC)?.try_into().ok()?),
        iad: field(tags::IAD)?,
        cryptogram: field(tags::CRYPTOGRAM)?.try_into().ok()?,
        card_unpredictable_number: field(tags::UNPREDICTABLE_NUMBER)?.try_into().ok()?,
        terminal: Some(terminal_data(&pdol)?),
    })
}

/// Packed BCD PAN, right-padded with F.
fn bcd_digits(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len() * 2);
    for nibble in bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
        match nibble {
            0..=9 => out.push(char::from(b'0' + nibble)),
            0x0F => break,
            _ => return None,
        }
    }
    Some(out)
}

/// The PDOL data layout the phone asked for: amount n12, currency n3, country n3, date
/// YYMMDD, unpredictable number.
fn terminal_data(pdol: &[u8]) -> Option<TerminalData> {
    if pdol.len() != PDOL_DATA_LEN {
        return None;
    }
    let bcd = |b: &[u8]| -> Option<u64> {
        b.iter()
            .flat_map(|x| [x >> 4, x & 0x0F])
            .try_fold(0u64, |acc, d| (d <= 9).then(|| acc * 10 + u64::from(d)))
    };
    let two = |b: u8| (b >> 4) * 10 + (b & 0x0F);
    Some(TerminalData {
        amount_minor: bcd(&pdol[0..6])?,
        currency_numeric: u16::try_from(bcd(&pdol[6..8])?).ok()?,
        country_numeric: u16::try_from(bcd(&pdol[8..10])?).ok()?,
        date: (two(pdol[10]), two(pdol[11]), two(pdol[12])),
        unpredictable_number: pdol[13..17].try_into().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_and_pdol() {
        assert_eq!(bcd_digits(&[0x70, 0x01, 0x99, 0x12, 0x3F]).as_deref(), Some("700199123"));
        assert_eq!(bcd_digits(&[0x7A]), None);
        let pdol = hex::decode("000000010000097802762611230A0B0C0D").unwrap();
        let t = terminal_data(&pdol).unwrap();
        assert_eq!(
            (t.amount_minor, t.currency_numeric, t.country_numeric, t.date),
            (10_000, 978, 276, (26, 11, 23))
        );
        assert_eq!(t.unpredictable_number, [0x0A, 0x0B, 0x0C, 0x0D]);
        assert!(terminal_data(&pdol[1..]).is_none());
    }
}
