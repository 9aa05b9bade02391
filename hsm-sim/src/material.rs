//! Clear key material as held inside the engine after the key store is opened. Every variant
//! zeroizes on drop; none is `Debug`, `Clone` or `Serialize`.

use p256::ecdsa::SigningKey;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::error::HsmError;
use crate::keyblock::KeyAlgorithm;

/// A usable key.
pub(crate) enum KeyMaterial {
    Aes256(Zeroizing<[u8; 32]>),
    HmacSha256(Zeroizing<[u8; 32]>),
    /// `SigningKey` zeroizes its scalar on drop.
    EcdsaP256(SigningKey),
}

impl KeyMaterial {
    /// A fresh random key of `algorithm`.
    pub(crate) fn generate(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            KeyAlgorithm::Aes256Gcm => Self::Aes256(random_32()),
            KeyAlgorithm::HmacSha256 => Self::HmacSha256(random_32()),
            KeyAlgorithm::EcdsaP256 => Self::EcdsaP256(SigningKey::random(&mut OsRng)),
        }
    }

    /// Reads unwrapped key bytes (32 bytes for all three algorithms; for P-256 the big-endian
    /// secret scalar).
    pub(crate) fn from_bytes(algorithm: KeyAlgorithm, bytes: &[u8]) -> Result<Self, HsmError> {
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(HsmError::storage("key block holds a key of the wrong length"));
        }
        key.copy_from_slice(bytes);
        Ok(match algorithm {
            KeyAlgorithm::Aes256Gcm => Self::Aes256(key),
            KeyAlgorithm::HmacSha256 => Self::HmacSha256(key),
            KeyAlgorithm::EcdsaP256 => Self::EcdsaP256(
                SigningKey::from_bytes(key.as_ref().into())
                    .map_err(|_| HsmError::storage("key block holds an invalid P-256 key"))?,
            ),
        })
    }

    /// The bytes to wrap into a key block.
    pub(crate) fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        match self {
            Self::Aes256(k) | Self::HmacSha256(k) => k.clone(),
            Self::EcdsaP256(k) => {
                let mut scalar = k.to_bytes();
                let mut out = Zeroizing::new([0u8; 32]);
                out.copy_from_slice(&scalar);
                AsMut::<[u8]>::as_mut(&mut scalar).zeroize();
                out
            }
        }
    }
}

fn random_32() -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(key.as_mut());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_for_every_algorithm() {
        for alg in [KeyAlgorithm::Aes256Gcm, KeyAlgorithm::HmacSha256, KeyAlgorithm::EcdsaP256] {
            let key = KeyMaterial::generate(alg);
            let again = KeyMaterial::from_bytes(alg, key.to_bytes().as_ref()).unwrap();
            assert_eq!(*again.to_bytes(), *key.to_bytes());
        }
    }

    #[test]
    fn wrong_length_and_invalid_scalar_are_refused() {
        assert!(KeyMaterial::from_bytes(KeyAlgorithm::Aes256Gcm, &[1u8; 31]).is_err());
        // Zero is not a valid P-256 secret scalar.
        assert!(KeyMaterial::from_bytes(KeyAlgorithm::EcdsaP256, &[0u8; 32]).is_err());
    }
}
