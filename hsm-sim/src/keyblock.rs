//! A stored key: a clear header saying what the key is for, and the key itself wrapped with
//! AES-256-GCM under the LMK. The header is the AAD, so any edit to it (say, turning the PAN
//! key into a signing key) makes the block fail to unwrap: the header cannot be changed
//! without the LMK.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::Nonce;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::HsmError;
use crate::hexser;
use crate::lmk::Lmk;

/// What a key may be used for. Each verb checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsage {
    /// Encrypts PANs at rest (AES-256-GCM).
    PanEncryption,
    /// Keyed fingerprint of PANs for lookup (HMAC-SHA256).
    PanFingerprint,
    /// Signs the server's ES256 access tokens.
    JwtSigning,
    /// Signs `GET /v1/time` answers.
    TimeSigning,
    /// Issuer master key (IMK) from which token master keys and limited-use keys are
    /// derived (HMAC-SHA256, `docs/CRYPTOGRAM.md`). Versioned: new versions are added while
    /// the HSM runs (`GenerateIssuerKey`), none is ever removed.
    CryptogramMaster,
    /// Wraps the per-terminal request-signing secrets (AES-256-GCM) so the server can store
    /// them: `GenerateTerminalSecret` wraps, `VerifyTerminalMac` unwraps, nothing else.
    TerminalKeyWrap,
}

impl KeyUsage {
    /// Whether the `Sign` / `PublicKey` verbs may use a key of this usage.
    pub fn is_signing(self) -> bool {
        matches!(self, Self::JwtSigning | Self::TimeSigning)
    }

    /// The only algorithm a key of this usage may have; checked when the store is opened.
    pub fn algorithm(self) -> KeyAlgorithm {
        match self {
            Self::PanEncryption | Self::TerminalKeyWrap => KeyAlgorithm::Aes256Gcm,
            Self::PanFingerprint | Self::CryptogramMaster => KeyAlgorithm::HmacSha256,
            Self::JwtSigning | Self::TimeSigning => KeyAlgorithm::EcdsaP256,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PanEncryption => "pan_encryption",
            Self::PanFingerprint => "pan_fingerprint",
            Self::JwtSigning => "jwt_signing",
            Self::TimeSigning => "time_signing",
            Self::CryptogramMaster => "cryptogram_master",
            Self::TerminalKeyWrap => "terminal_key_wrap",
        }
    }

    /// Whether keys of this usage gain versions while the engine runs (and so live behind
    /// the engine's lock rather than in its immutable key map).
    pub fn is_rotating(self) -> bool {
        matches!(self, Self::CryptogramMaster)
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The algorithm a key belongs to, which fixes how its wrapped bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "aes256_gcm")]
    Aes256Gcm,
    #[serde(rename = "hmac_sha256")]
    HmacSha256,
    #[serde(rename = "ecdsa_p256")]
    EcdsaP256,
}

/// The clear, authenticated part of a key block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHeader {
    pub label: String,
    pub usage: KeyUsage,
    pub algorithm: KeyAlgorithm,
    pub version: u32,
    /// Unix seconds.
    pub created_at: u64,
}

impl KeyHeader {
    /// The AAD of the wrapping: a domain tag plus the header's JSON. serde_json writes struct
    /// fields in declaration order, so the encoding is stable for a given header.
    fn aad(&self) -> Result<Vec<u8>, HsmError> {
        let mut aad = b"forecourt:keyblock:v1\0".to_vec();
        serde_json::to_writer(&mut aad, self)
            .map_err(|e| HsmError::storage(format!("encoding key header: {e}")))?;
        Ok(aad)
    }
}

/// A key as stored: header plus key bytes wrapped under the LMK.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyBlock {
    pub header: KeyHeader,
    #[serde(with = "hexser::array")]
    pub nonce: [u8; 12],
    /// AES-256-GCM ciphertext and tag of the raw key bytes.
    #[serde(with = "hexser::vec")]
    pub wrapped: Vec<u8>,
}

impl KeyBlock {
    /// Wraps `key` under the LMK with a fresh random nonce.
    pub fn wrap(lmk: &Lmk, header: KeyHeader, key: &[u8]) -> Result<Self, HsmError> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let aad = header.aad()?;
        let wrapped = lmk
            .aead()
            .encrypt(&Nonce::from(nonce), Payload { msg: key, aad: &aad })
            .map_err(|_| HsmError::Crypto)?;
        Ok(Self { header, nonce, wrapped })
    }

    /// The raw key bytes, or [`HsmError::Crypto`] if the block was not made under this LMK
    /// with exactly this header.
    pub fn unwrap_key(&self, lmk: &Lmk) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let aad = self.header.aad()?;
        lmk.aead()
            .decrypt(&Nonce::from(self.nonce), Payload { msg: &self.wrapped, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| HsmError::Crypto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lmk::Component;

    fn lmk() -> Lmk {
        Lmk::combine(&[Component::generate(), Component::generate()]).unwrap()
    }

    fn header() -> KeyHeader {
        KeyHeader {
            label: "pan-data".into(),
            usage: KeyUsage::PanEncryption,
            algorithm: KeyAlgorithm::Aes256Gcm,
            version: 1,
            created_at: 1_700_000_000,
        }
    }

    #[test]
    fn wrap_unwrap_round_trip() {
        let lmk = lmk();
        let block = KeyBlock::wrap(&lmk, header(), &[7u8; 32]).unwrap();
        assert_ne!(block.wrapped[..32], [7u8; 32]);
        assert_eq!(*block.unwrap_key(&lmk).unwrap(), vec![7u8; 32]);
    }

    #[test]
    fn edited_header_or_other_lmk_is_refused() {
        let lmk = lmk();
        let block = KeyBlock::wrap(&lmk, header(), &[7u8; 32]).unwrap();
        let mut edited = block.clone();
        edited.header.usage = KeyUsage::JwtSigning;
        assert_eq!(edited.unwrap_key(&lmk).unwrap_err(), HsmError::Crypto);
        let mut edited = block.clone();
        edited.header.version = 2;
        assert_eq!(edited.unwrap_key(&lmk).unwrap_err(), HsmError::Crypto);
        assert_eq!(block.unwrap_key(&self::lmk()).unwrap_err(), HsmError::Crypto);
    }

    #[test]
    fn cryptogram_master_keys_are_rotating_hmac_keys_that_cannot_sign() {
        let usage = KeyUsage::CryptogramMaster;
        assert_eq!(usage.algorithm(), KeyAlgorithm::HmacSha256);
        assert!(usage.is_rotating() && !usage.is_signing());
        assert_eq!(serde_json::to_value(usage).unwrap(), "cryptogram_master");
        assert_eq!(usage.to_string(), "cryptogram_master");
        for other in [
            KeyUsage::PanEncryption,
            KeyUsage::PanFingerprint,
            KeyUsage::JwtSigning,
            KeyUsage::TimeSigning,
            KeyUsage::TerminalKeyWrap,
        ] {
            assert!(!other.is_rotating());
        }
    }

    #[test]
    fn terminal_key_wrap_is_a_fixed_aes_key_that_cannot_sign() {
        let usage = KeyUsage::TerminalKeyWrap;
        assert_eq!(usage.algorithm(), KeyAlgorithm::Aes256Gcm);
        assert!(!usage.is_rotating() && !usage.is_signing());
        assert_eq!(serde_json::to_value(usage).unwrap(), "terminal_key_wrap");
        assert_eq!(serde_json::from_value::<KeyUsage>("terminal_key_wrap".into()).unwrap(), usage);
        assert_eq!(usage.to_string(), "terminal_key_wrap");
    }

    #[test]
    fn json_shape_is_stable() {
        let block = KeyBlock::wrap(&lmk(), header(), &[1u8; 32]).unwrap();
        let v = serde_json::to_value(&block).unwrap();
        assert_eq!(v["header"]["usage"], "pan_encryption");
        assert_eq!(v["header"]["algorithm"], "aes256_gcm");
        let back: KeyBlock = serde_json::from_value(v).unwrap();
        assert_eq!(back.nonce, block.nonce);
        assert_eq!(back.wrapped, block.wrapped);
    }
}
