//! Signing verbs: ECDSA P-256 over SHA-256, for keys with a signing usage only.

use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

use crate::engine::Engine;
use crate::error::HsmError;
use crate::keyblock::KeyUsage;
use crate::material::KeyMaterial;

impl Engine {
    /// `r || s` of an ECDSA signature over SHA-256(`message`) (deterministic, RFC 6979).
    pub(crate) fn sign(&self, label: &str, message: &[u8]) -> Result<[u8; 64], HsmError> {
        let signature: Signature =
            self.signing_key(label)?.try_sign(message).map_err(|_| HsmError::Crypto)?;
        Ok(signature.to_bytes().into())
    }

    /// SEC1 uncompressed public point (65 bytes).
    pub(crate) fn public_key(&self, label: &str) -> Result<Vec<u8>, HsmError> {
        let point = self.signing_key(label)?.verifying_key().to_encoded_point(false);
        Ok(point.as_bytes().to_vec())
    }

    fn signing_key(&self, label: &str) -> Result<&SigningKey, HsmError> {
        let key = self.key(label, None, KeyUsage::is_signing)?;
        match &key.material {
            KeyMaterial::EcdsaP256(signing_key) => Ok(signing_key),
            // Unreachable while usages fix algorithms (checked at open), but never panic.
            _ => Err(HsmError::UsageNotPermitted { label: label.into(), usage: key.header.usage }),
        }
    }
}
