//! Labels of the base keys every store holds (created on first open). Callers name keys by
//! label; they never see the keys themselves.

use crate::keyblock::{KeyAlgorithm, KeyUsage};

/// AES-256-GCM key encrypting PANs at rest.
pub const PAN_DATA: &str = "pan-data";
/// HMAC-SHA256 key for PAN fingerprints (lookup by card number).
pub const PAN_FINGERPRINT: &str = "pan-fingerprint";
/// P-256 key signing the server's ES256 JWTs.
pub const JWT_SIGNING: &str = "jwt-signing";
/// P-256 key signing server time for the phones' clock sync.
pub const TIME_SIGNING: &str = "time-signing";

/// HMAC-SHA256 issuer master key (IMK) of the cryptogram key hierarchy. Versioned: version 1
/// is made with the base keys, `GenerateIssuerKey` adds the next.
pub const ISSUER_MASTER_KEY: &str = "issuer-master-key";

/// AES-256-GCM key wrapping the per-terminal request-signing secrets, which the server stores
/// only in this wrapped form (`docs/TERMINAL-API.md`).
pub const TERMINAL_KEY_WRAP: &str = "terminal-key-wrap";

/// Highest IMK version: the issuer application data carries the version in one byte.
pub const MAX_ISSUER_KEY_VERSION: u32 = 255;

/// The base keys: label, usage, algorithm. Opening a store generates each one it lacks, so a
/// store made before a key was added here gains it on its next open.
pub(crate) const BASE_KEYS: [(&str, KeyUsage, KeyAlgorithm); 6] = [
    (PAN_DATA, KeyUsage::PanEncryption, KeyAlgorithm::Aes256Gcm),
    (PAN_FINGERPRINT, KeyUsage::PanFingerprint, KeyAlgorithm::HmacSha256),
    (JWT_SIGNING, KeyUsage::JwtSigning, KeyAlgorithm::EcdsaP256),
    (TIME_SIGNING, KeyUsage::TimeSigning, KeyAlgorithm::EcdsaP256),
    (ISSUER_MASTER_KEY, KeyUsage::CryptogramMaster, KeyAlgorithm::HmacSha256),
    (TERMINAL_KEY_WRAP, KeyUsage::TerminalKeyWrap, KeyAlgorithm::Aes256Gcm),
];
