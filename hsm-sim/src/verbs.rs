//! The HSM's verbs as plain request/response values. They are serde types so that the TCP
//! transport (a later issue) can carry them in frames unchanged; byte strings travel as hex.

use serde::{Deserialize, Serialize};

use crate::hexser;
use crate::pan::{self, Pan};

/// One request to the HSM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Request {
    /// Make a new random PAN under `bin`; only its ciphertext, fingerprint and last four
    /// digits come back.
    GeneratePan {
        bin: String,
        length: u8,
    },
    /// Keyed fingerprint of a PAN, to find a card by its number.
    PanFingerprint {
        #[serde(with = "pan::wire")]
        pan: Pan,
    },
    /// Decrypt a PAN ciphertext made by `GeneratePan`.
    DecryptPan {
        #[serde(with = "hexser::vec")]
        ciphertext: Vec<u8>,
    },
    /// ECDSA P-256 / SHA-256 signature with a signing key.
    Sign {
        label: String,
        #[serde(with = "hexser::vec")]
        message: Vec<u8>,
    },
    /// Public half of a signing key.
    PublicKey {
        label: String,
    },
    Health,
}

impl Request {
    /// The verb's name, for logs (requests themselves may hold a PAN).
    pub fn verb(&self) -> &'static str {
        match self {
            Self::GeneratePan { .. } => "generate_pan",
            Self::PanFingerprint { .. } => "pan_fingerprint",
            Self::DecryptPan { .. } => "decrypt_pan",
            Self::Sign { .. } => "sign",
            Self::PublicKey { .. } => "public_key",
            Self::Health => "health",
        }
    }
}

/// The answer to a [`Request`], one variant per verb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Response {
    GeneratePan(IssuedPan),
    PanFingerprint {
        #[serde(with = "hexser::array")]
        fingerprint: [u8; 32],
    },
    DecryptPan {
        #[serde(with = "pan::wire")]
        pan: Pan,
    },
    Sign {
        /// `r || s`, 32 bytes each, big-endian (the JWS ES256 encoding).
        #[serde(with = "hexser::array")]
        signature: [u8; 64],
    },
    PublicKey {
        /// SEC1 uncompressed point: `04 || x || y`, 65 bytes.
        #[serde(with = "hexser::vec")]
        sec1: Vec<u8>,
    },
    Health(HealthReport),
}

impl Response {
    /// The verb this answers, for logs and errors (responses may hold a PAN).
    pub fn verb(&self) -> &'static str {
        match self {
            Self::GeneratePan(_) => "generate_pan",
            Self::PanFingerprint { .. } => "pan_fingerprint",
            Self::DecryptPan { .. } => "decrypt_pan",
            Self::Sign { .. } => "sign",
            Self::PublicKey { .. } => "public_key",
            Self::Health(_) => "health",
        }
    }
}

/// A freshly generated PAN as the issuer may store it: never the clear number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedPan {
    /// Opaque to callers (layout: see the `pan_ops` module): store it as is.
    #[serde(with = "hexser::vec")]
    pub ciphertext: Vec<u8>,
    /// HMAC-SHA256 of the digits under the PAN fingerprint key.
    #[serde(with = "hexser::array")]
    pub fingerprint: [u8; 32],
    pub last4: String,
    /// Version of the PAN encryption key used.
    pub key_version: u32,
}

/// Liveness and identity of the HSM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub status: String,
    pub lmk_kcv: String,
    pub key_count: usize,
}
