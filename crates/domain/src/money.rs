//! Money in integer minor units with an ISO 4217 currency, and volume in millilitres.
//! There is no float anywhere in this module on purpose.

use crate::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest amount any single value may hold: 10^13 minor units (100 billion in a
/// two-decimal currency). Far above any fleet's needs, far below `i64::MAX`, so sums of a
/// few million such values cannot overflow.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;
/// Largest volume any single value may hold: 10^9 ml (a million cubic metres).
pub const MAX_VOLUME_ML: i64 = 1_000_000_000;

/// An ISO 4217 currency this issuer settles in, with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_digits: u8,
}

/// (code, ISO numeric, minor digits). The numeric code is what terminals send (ISO 8583 DE 49).
const CURRENCIES: &[(&str, u16, u8)] = &[
    ("EUR", 978, 2),
    ("USD", 840, 2),
    ("GBP", 826, 2),
    ("CHF", 756, 2),
    ("PLN", 985, 2),
    ("CZK", 203, 2),
    ("SEK", 752, 2),
    ("NOK", 578, 2),
    ("DKK", 208, 2),
    ("RUB", 643, 2),
    ("KZT", 398, 2),
    ("UAH", 980, 2),
    ("TRY", 949, 2),
    ("AED", 784, 2),
    ("INR", 356, 2),
    ("JPY", 392, 0),
    ("KRW", 410, 0),
    ("HUF", 348, 2),
    ("RON", 946, 2),
    ("BGN", 975, 2),
];

impl Currency {
    pub fn from_code(code: &str) -> Option<Self> {
        CURRENCIES.iter().find(|(c, _, _)| *c == code).map(|(c, _, d)| Self {
            code: c.as_bytes().try_into().unwrap_or([b'?'; 3]),
            minor_digits: *d,
        })
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    pub fn numeric(&self) -> u16 {
        CURRENCIES.iter().find(|(c, _, _)| c.as_bytes() == self.code).map_or(0, |(_, n, _)| *n)
    }

    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }

    pub fn parse(field: &str, code: &str) -> Result<Self, FieldError> {
        Self::from_code(code).ok_or_else(|| {
            FieldError::invalid(field, "must be a supported ISO 4217 currency code, e.g. EUR")
        })
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::from_code(&s).ok_or_else(|| format!("unsupported currency {s:?}"))
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money: integer minor units (cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = u32::from(self.currency.minor_digits);
        let scale = 10i64.pow(digits);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let (major, minor) = (abs / scale.unsigned_abs(), abs % scale.unsigned_abs());
        if digits == 0 {
            write!(f, "{sign}{major} {}", self.currency)
        } else {
            write!(f, "{sign}{major}.{minor:0width$} {}", self.currency, width = digits as usize)
        }
    }
}

/// A volume in millilitres (or watt-hours for EV charging, see `Product::unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VolumeMl(pub i64);

/// Validates a positive amount limit in minor units.
pub fn positive_amount(field: &str, minor: i64) -> Result<i64, FieldError> {
    if !(1..=MAX_AMOUNT_MINOR).contains(&minor) {
        return Err(FieldError::out_of_range(
            field,
            format!("must be an integer amount in minor units between 1 and {MAX_AMOUNT_MINOR}"),
        ));
    }
    Ok(minor)
}

/// Validates a positive volume limit in millilitres.
pub fn positive_volume(field: &str, ml: i64) -> Result<i64, FieldError> {
    if !(1..=MAX_VOLUME_ML).contains(&ml) {
        return Err(FieldError::out_of_range(
            field,
            format!("must be an integer volume in millilitres between 1 and {MAX_VOLUME_ML}"),
        ));
    }
    Ok(ml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_lookup_and_display() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(eur.numeric(), 978);
        assert_eq!(Money { minor: 12345, currency: eur }.to_string(), "123.45 EUR");
        assert_eq!(Money { minor: -5, currency: eur }.to_string(), "-0.05 EUR");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money { minor: 700, currency: jpy }.to_string(), "700 JPY");
        assert!(Currency::from_code("eur").is_none());
        assert!(Currency::from_code("XXX").is_none());
    }

    #[test]
    fn currency_serde_rejects_unknown() {
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
        assert_eq!(serde_json::to_string(&Currency::from_code("GBP").unwrap()).unwrap(), "\"GBP\"");
    }

    #[test]
    fn limits() {
        assert!(positive_amount("a", 0).is_err());
        assert!(positive_amount("a", MAX_AMOUNT_MINOR + 1).is_err());
        assert_eq!(positive_amount("a", 1).unwrap(), 1);
        assert!(positive_volume("v", -1).is_err());
    }
}
