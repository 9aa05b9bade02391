//! The local master key (LMK): AES-256, held only as the XOR of two or more components so
//! that no single custodian knows it (split knowledge). Neither components nor the LMK
//! implement `Serialize`, and their `Debug` shows only the key check value.

use std::fmt;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::HsmError;

/// Length of an LMK component and of the LMK, in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// Fewest components an LMK may be split into: one component alone would be the whole key.
pub const MIN_COMPONENTS: usize = 2;

/// Key check value of an AES-256 key: the first 3 bytes of AES-256-ECB(key, zero block), as
/// 6 uppercase hex digits. Lets people compare keys without revealing them.
pub fn kcv(key: &[u8; KEY_LEN]) -> String {
    let cipher = Aes256::new(key.into());
    let mut block = aes::Block::default();
    cipher.encrypt_block(&mut block);
    hex::encode_upper(&block[..3])
}

/// One custodian's share of the LMK.
#[derive(Clone)]
pub struct Component {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl Component {
    /// A fresh random component.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(bytes.as_mut());
        Self { bytes }
    }

    /// Parses 64 hex digits (either case; surrounding whitespace ignored). The error never
    /// echoes the input.
    pub fn parse_hex(text: &str) -> Result<Self, HsmError> {
        let text = text.trim();
        if text.len() != KEY_LEN * 2 {
            return Err(HsmError::invalid("an LMK component must be 64 hex digits"));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(text, bytes.as_mut())
            .map_err(|_| HsmError::invalid("an LMK component must be 64 hex digits"))?;
        Ok(Self { bytes })
    }

    /// The component as 64 uppercase hex digits, for a custodian to write down.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode_upper(self.bytes.as_ref()))
    }

    /// Check value of this component, so a custodian can verify what they typed.
    pub fn kcv(&self) -> String {
        kcv(&self.bytes)
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Component(kcv={})", self.kcv())
    }
}

/// The combined master key. Only wraps and unwraps key blocks; never leaves this crate.
pub struct Lmk {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl Lmk {
    /// XORs the components. Refuses fewer than two and duplicates (two equal components
    /// cancel out and would silently weaken the key).
    pub fn combine(components: &[Component]) -> Result<Self, HsmError> {
        if components.len() < MIN_COMPONENTS {
            return Err(HsmError::invalid("the LMK needs at least 2 components"));
        }
        for (i, a) in components.iter().enumerate() {
            if components[i + 1..].iter().any(|b| a.bytes == b.bytes) {
                return Err(HsmError::invalid("two LMK components are identical"));
            }
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        for c in components {
            bytes.iter_mut().zip(c.bytes.iter()).for_each(|(x, y)| *x ^= y);
        }
        Ok(Self { bytes })
    }

    pub fn kcv(&self) -> String {
        kcv(&self.bytes)
    }

    /// The AEAD used to wrap key blocks.
    pub(crate) fn aead(&self) -> aes_gcm::Aes256Gcm {
        aes_gcm::Aes256Gcm::new(self.bytes.as_ref().into())
    }
}

impl fmt::Debug for Lmk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lmk(kcv={})", self.kcv())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kcv_of_all_zero_key_is_the_published_value() {
        // AES-256-ECB(key = 0^32, block = 0^16) = DC95C078A2408989AD48A21492842087.
        assert_eq!(kcv(&[0u8; KEY_LEN]), "DC95C0");
    }

    #[test]
    fn lmk_is_xor_of_components() {
        let a = Component::parse_hex(&"11".repeat(32)).unwrap();
        let b = Component::parse_hex(&format!("{}10", "11".repeat(31))).unwrap();
        // 0x11.. XOR 0x11..10 = 00..01
        let mut expected = [0u8; KEY_LEN];
        expected[31] = 1;
        assert_eq!(Lmk::combine(&[a, b]).unwrap().kcv(), kcv(&expected));
    }

    #[test]
    fn combine_refuses_one_component_and_duplicates() {
        let a = Component::generate();
        assert!(matches!(Lmk::combine(std::slice::from_ref(&a)), Err(HsmError::InvalidRequest(_))));
        assert!(matches!(Lmk::combine(&[a.clone(), a]), Err(HsmError::InvalidRequest(_))));
    }

    #[test]
    fn parse_rejects_wrong_length_and_non_hex_without_echo() {
        let err = Component::parse_hex("abcd").unwrap_err().to_string();
        assert!(!err.contains("abcd"));
        assert!(Component::parse_hex(&"zz".repeat(32)).is_err());
        let lower = "ab".repeat(32);
        assert_eq!(*Component::parse_hex(&lower).unwrap().to_hex(), lower.to_uppercase());
    }

    #[test]
    fn debug_shows_only_the_kcv() {
        let c = Component::generate();
        let hex = c.to_hex();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(hex.as_str()) && !dbg.contains(&hex.to_lowercase()));
        assert!(dbg.contains(&c.kcv()));
        let lmk = Lmk::combine(&[c, Component::generate()]).unwrap();
        assert_eq!(format!("{lmk:?}"), format!("Lmk(kcv={})", lmk.kcv()));
    }
}
