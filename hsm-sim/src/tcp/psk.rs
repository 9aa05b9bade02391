//! The pre-shared key of the TCP transport: 32 random bytes both the client and the HSM
//! hold. It authenticates each end to the other and keys every session; it never travels.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::HsmError;

/// PSK length in bytes.
pub const PSK_LEN: usize = 32;

/// A transport PSK. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Psk {
    bytes: Zeroizing<[u8; PSK_LEN]>,
}

impl Psk {
    /// A fresh random PSK.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; PSK_LEN]);
        OsRng.fill_bytes(bytes.as_mut());
        Self { bytes }
    }

    /// Parses 64 hex digits (either case; surrounding whitespace ignored). The error never
    /// echoes the input.
    pub fn parse_hex(text: &str) -> Result<Self, HsmError> {
        let invalid = || HsmError::invalid("the HSM pre-shared key must be 64 hex digits");
        let text = text.trim();
        if text.len() != PSK_LEN * 2 {
            return Err(invalid());
        }
        let mut bytes = Zeroizing::new([0u8; PSK_LEN]);
        hex::decode_to_slice(text, bytes.as_mut()).map_err(|_| invalid())?;
        Ok(Self { bytes })
    }

    /// The PSK as 64 lowercase hex digits, to hand to the other end.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.bytes.as_ref()))
    }

    /// Six hex digits derived one-way from the PSK, so operators can check both ends hold
    /// the same key without showing it (like a key check value).
    pub fn check_value(&self) -> String {
        hex::encode_upper(&self.mac(&[b"forecourt-hsm/1 check"])[..3])
    }

    /// HMAC-SHA256 under the PSK over the concatenation of `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac_sha256(self.bytes.as_ref(), parts)
    }

    /// Whether `tag` is [`Psk::mac`] of `parts`, in constant time.
    pub(crate) fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        hmac_sha256_verify(self.bytes.as_ref(), parts, tag)
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Psk(<redacted>)")
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = new_mac(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Whether `tag` is the HMAC-SHA256 of `parts` under `key`, compared in constant time
/// (`verify_slice` uses `subtle`), so timing does not reveal how many bytes matched.
pub(crate) fn hmac_sha256_verify(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac = new_mac(key);
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC is defined for keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors_do_not_echo() {
        let psk = Psk::generate();
        let again = Psk::parse_hex(&psk.to_hex().to_uppercase()).unwrap();
        assert_eq!(psk.check_value(), again.check_value());
        let bad = "zz".repeat(32);
        let msg = Psk::parse_hex(&bad).unwrap_err().to_string();
        assert!(!msg.contains("zz"), "{msg}");
        assert!(Psk::parse_hex("abcd").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let psk = Psk::parse_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{psk:?}"), "Psk(<redacted>)");
    }

    #[test]
    fn mac_verify_accepts_only_the_right_tag() {
        let tag = hmac_sha256(b"key", &[b"a", b"bc"]);
        assert!(hmac_sha256_verify(b"key", &[b"ab", b"c"], &tag));
        let mut bad = tag;
        bad[31] ^= 1;
        assert!(!hmac_sha256_verify(b"key", &[b"abc"], &bad));
        assert!(!hmac_sha256_verify(b"key", &[b"abc"], &tag[..31]));
    }
}
