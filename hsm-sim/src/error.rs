//! The one error type of every verb. Messages never carry key material, PANs or components:
//! they travel to callers (and later over the wire) and end up in logs.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::keyblock::KeyUsage;

/// Why the HSM refused or failed a request.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub enum HsmError {
    /// Authentication or decryption failed. Deliberately opaque: telling a caller *why*
    /// (bad tag, wrong key, truncated input) would make the HSM an oracle.
    #[error("cryptographic operation failed")]
    Crypto,
    /// No key with this label (and version, when the message says so).
    #[error("key not found: {0}")]
    KeyNotFound(String),
    /// The key exists but its usage does not allow this verb (e.g. signing with the PAN key).
    #[error("key {label:?} with usage {usage} may not be used for this operation")]
    UsageNotPermitted { label: String, usage: KeyUsage },
    /// The request is malformed; the message names the field, never its secret value.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The key store could not be read or written, or its content is not acceptable.
    #[error("key store: {0}")]
    Storage(String),
    /// The components given do not combine to the LMK the store was created under.
    #[error("LMK check value mismatch: expected {expected}, got {got}; a component is wrong")]
    LmkMismatch { expected: String, got: String },
    /// The HSM cannot be reached or answered out of protocol (used by remote transports).
    #[error("HSM unavailable: {0}")]
    Unavailable(String),
}

impl HsmError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidRequest(msg.into())
    }

    pub(crate) fn storage(msg: impl Into<String>) -> Self {
        Self::Storage(msg.into())
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    #[test]
    fn every_variant_round_trips_through_json() {
        let all = [
            HsmError::Crypto,
            HsmError::KeyNotFound("pan-data".into()),
            HsmError::InvalidRequest("bad".into()),
            HsmError::Storage("disk".into()),
            HsmError::LmkMismatch { expected: "AAAAAA".into(), got: "BBBBBB".into() },
            HsmError::Unavailable("down".into()),
        ];
        for e in all {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<HsmError>(&json).unwrap(), e, "{json}");
        }
    }
}
