//! The clear primary account number. It exists only inside the HSM and in the hands of the
//! rare caller that must see it (`DecryptPan`). It zeroizes on drop, compares in constant
//! time, has no `Display`, its `Debug` shows only the last four digits, and it deliberately
//! has no `Serialize`: only the HSM's own wire types may carry it (via [`wire`]).

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::HsmError;

/// Shortest PAN accepted (ISO/IEC 7812 allows 8, but issuers use 13+).
pub const MIN_LEN: usize = 13;
/// Longest PAN (ISO/IEC 7812).
pub const MAX_LEN: usize = 19;

/// A Luhn-valid PAN of 13..=19 ASCII digits.
#[derive(Clone)]
pub struct Pan {
    digits: Zeroizing<String>,
}

impl Pan {
    /// Validates `text`. Errors never echo the input.
    pub fn parse(text: &str) -> Result<Self, HsmError> {
        Self::from_owned(Zeroizing::new(text.to_owned()))
    }

    pub(crate) fn from_owned(digits: Zeroizing<String>) -> Result<Self, HsmError> {
        let bytes = digits.as_bytes();
        if !(MIN_LEN..=MAX_LEN).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(HsmError::invalid("pan must be 13 to 19 digits"));
        }
        if !domain::luhn::is_valid(bytes) {
            return Err(HsmError::invalid("pan fails the Luhn check"));
        }
        Ok(Self { digits })
    }

    /// The last four digits, which may be shown and stored in clear.
    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// Number of digits.
    pub fn digit_count(&self) -> usize {
        self.digits.len()
    }

    /// The clear digits. Named loudly on purpose: every call site is a place where a PAN
    /// leaves the HSM boundary and must be reviewed.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }
}

impl PartialEq for Pan {
    fn eq(&self, other: &Self) -> bool {
        self.digits.as_bytes().ct_eq(other.digits.as_bytes()).into()
    }
}

impl Eq for Pan {}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan(…{})", self.last4())
    }
}

/// `#[serde(with = "crate::pan::wire")]`: the PAN as a digit string, for HSM frames only.
pub mod wire {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    use super::Pan;

    pub fn serialize<S: Serializer>(pan: &Pan, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(pan.expose_digits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pan, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        Pan::from_owned(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_luhn_valid_pans_only() {
        let pan = Pan::parse("4111111111111111").unwrap();
        assert_eq!(pan.last4(), "1111");
        assert_eq!(pan.digit_count(), 16);
        assert!(Pan::parse("4111111111111112").is_err());
        assert!(Pan::parse("411111111111").is_err(), "too short");
        assert!(Pan::parse("41111111111111111111").is_err(), "too long");
        assert!(Pan::parse("4111 1111 1111 1111").is_err());
    }

    #[test]
    fn errors_do_not_echo_the_pan() {
        let msg = Pan::parse("4111111111111112").unwrap_err().to_string();
        assert!(!msg.contains("4111"));
    }

    #[test]
    fn debug_shows_last_four_only() {
        let pan = Pan::parse("5500005555555559").unwrap();
        assert_eq!(format!("{pan:?}"), "Pan(…5559)");
        assert_eq!(format!("{:#?}", Some(pan)), "Some(\n    Pan(…5559),\n)");
    }

    #[test]
    fn equality_is_by_digits() {
        assert_eq!(
            Pan::parse("4111111111111111").unwrap(),
            Pan::parse("4111111111111111").unwrap()
        );
        assert_ne!(
            Pan::parse("4111111111111111").unwrap(),
            Pan::parse("5500005555555559").unwrap()
        );
    }
}
