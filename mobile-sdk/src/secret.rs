//! Holders for the phone's secrets (device key scalar, LUKs, token PAN, session tokens).
//!
//! Each is wiped from memory when dropped and prints no value in `Debug`, so a secret
//! cannot leak through a log line or an error message by accident. Serde (used only by
//! [`FileStore`](crate::FileStore)) writes them through buffers that are wiped as well.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// A fixed-size secret: a LUK or the device key scalar. Serialized as lowercase hex.
#[derive(Clone)]
pub struct SecretBytes<const N: usize>(Zeroizing<[u8; N]>);

impl<const N: usize> SecretBytes<N> {
    pub fn new(bytes: Zeroizing<[u8; N]>) -> Self {
        SecretBytes(bytes)
    }

    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{N} secret bytes>")
    }
}

impl<const N: usize> Serialize for SecretBytes<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(hex::encode(self.0.as_ref()));
        s.serialize_str(&text)
    }
}

impl<'de, const N: usize> Deserialize<'de> for SecretBytes<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(HexVisitor::<N>)
    }
}

struct HexVisitor<const N: usize>;

impl<const N: usize> Visitor<'_> for HexVisitor<N> {
    type Value = SecretBytes<N>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} hex digits", 2 * N)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<SecretBytes<N>, E> {
        let mut bytes = Zeroizing::new([0u8; N]);
        // The message names the expected shape only: the text is a secret.
        hex::decode_to_slice(text, bytes.as_mut())
            .map_err(|_| E::custom(format_args!("expected {} hex digits", 2 * N)))?;
        Ok(SecretBytes(bytes))
    }
}

/// A secret text: an access or refresh token. `Debug` shows only its length.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(#[serde(with = "zeroizing_string")] Zeroizing<String>);

impl SecretText {
    pub fn new(text: String) -> Self {
        SecretText(Zeroizing::new(text))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<secret, {} chars>", self.0.len())
    }
}

/// A payment token's PAN: 12 to 19 digits, never the card's funding PAN. `Debug` and
/// [`TokenPan::masked`] show the last four digits only.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "SecretText", into = "SecretText")]
pub struct TokenPan(SecretText);

impl TokenPan {
    /// Refuses anything the cryptogram input would refuse, so a bad PAN is caught when the
    /// token arrives, not when a payment has already spent an ATC.
    pub fn parse(digits: String) -> Result<TokenPan, InvalidTokenPan> {
        let text = SecretText::new(digits);
        emv::cryptogram::token_pan_bcd(text.expose()).map_err(|_| InvalidTokenPan)?;
        Ok(TokenPan(text))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    pub fn last4(&self) -> &str {
        let pan = self.expose();
        pan.get(pan.len().saturating_sub(4)..).unwrap_or("")
    }

    /// `…1234`, what a screen or a log may show.
    pub fn masked(&self) -> String {
        format!("…{}", self.last4())
    }
}

impl fmt::Debug for TokenPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenPan({})", self.masked())
    }
}

/// The token PAN is not 12 to 19 ASCII digits (the value is not repeated here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token PAN must be 12 to 19 digits")]
pub struct InvalidTokenPan;

impl TryFrom<SecretText> for TokenPan {
    type Error = InvalidTokenPan;

    fn try_from(text: SecretText) -> Result<TokenPan, InvalidTokenPan> {
        emv::cryptogram::token_pan_bcd(text.expose()).map_err(|_| InvalidTokenPan)?;
        Ok(TokenPan(text))
    }
}

impl From<TokenPan> for SecretText {
    fn from(pan: TokenPan) -> SecretText {
        pan.0
    }
}

/// Serde for `Zeroizing<String>`: the deserialized `String` moves into the wrapper
/// without a copy.
mod zeroizing_string {
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(text: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
        String::deserialize(d).map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let bytes = SecretBytes::new(Zeroizing::new([0xABu8; 4]));
        assert_eq!(format!("{bytes:?}"), "<4 secret bytes>");
        let text = SecretText::new("sesame".into());
        assert_eq!(format!("{text:?}"), "<secret, 6 chars>");
        let pan = TokenPan::parse("7001990000001234".into()).unwrap();
        assert_eq!(format!("{pan:?}"), "TokenPan(…1234)");
    }

    #[test]
    fn hex_round_trip_and_errors_without_the_value() {
        let bytes = SecretBytes::new(Zeroizing::new([1u8, 2, 0xFE]));
        let json = serde_json::to_string(&bytes).unwrap();
        assert_eq!(json, "\"0102fe\"");
        let back: SecretBytes<3> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.expose(), &[1, 2, 0xFE]);
        let err = serde_json::from_str::<SecretBytes<3>>("\"0102zz\"").unwrap_err();
        assert!(!err.to_string().contains("0102zz"), "{err}");
    }

    #[test]
    fn token_pan_is_checked_on_the_way_in() {
        assert_eq!(TokenPan::parse("12345".into()).unwrap_err(), InvalidTokenPan);
        assert!(serde_json::from_str::<TokenPan>("\"70019900000012a4\"").is_err());
        let pan: TokenPan = serde_json::from_str("\"7001990000001234\"").unwrap();
        assert_eq!((pan.last4(), pan.masked().as_str()), ("1234", "…1234"));
        assert_eq!(serde_json::to_string(&pan).unwrap(), "\"7001990000001234\"");
    }
}
