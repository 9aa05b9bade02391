//! What a terminal sends, checked field by field, and turned into the payment data the
//! token service validates. Pure, so the fuzzer can feed it whole request bodies
//! (`fuzz/fuzz_targets/terminal_request.rs`).

use emv::payment::PaymentData;
use serde::Deserialize;

use crate::{FieldError, Product};

/// Largest amount one fill may ask for, in minor units (a truck's two tanks of diesel).
pub const MAX_REQUEST_AMOUNT_MINOR: i64 = 500_000;
/// Largest volume one fill may ask for, in millilitres.
pub const MAX_REQUEST_VOLUME_ML: i64 = 2_000_000;

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
            (Some(qr), _) => PaymentData::from_qr(qr),
            (_, Some(nfc)) => PaymentData::from_nfc(
                &hex::decode(&nfc.gpo_response).ok()?,
                &hex::decode(&nfc.pdol_data).ok()?,
            ),
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
