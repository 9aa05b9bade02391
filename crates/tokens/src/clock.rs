//! `GET /v1/time`: the server's time, signed by the HSM's time key over the caller's nonce,
//! so a phone can trust it and cannot be fed an old answer.

use crate::Tokens;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use domain::FieldError;
use hsm_sim::labels;
use issuing::{IssuingError, Result};
use serde::Serialize;
use store::Store;

/// Bytes of the caller's nonce.
pub const TIME_NONCE_BYTES: usize = 16;
const DOMAIN: &[u8] = b"forecourt/time/v1";

#[derive(Debug, Clone, Serialize)]
pub struct SignedTime {
    pub server_time_ms: i64,
    pub nonce: String,
    /// ECDSA P-256 / SHA-256, `r || s`, base64url, over `"forecourt/time/v1" || nonce ||
    /// server_time_ms` (i64 big-endian).
    pub signature: String,
    /// Public key (SEC1 uncompressed, base64url) the signature verifies with.
    pub public_key: String,
}

/// The bytes the time signature covers.
pub fn signed_time_message(nonce: &[u8], server_time_ms: i64) -> Vec<u8> {
    [DOMAIN, nonce, &server_time_ms.to_be_bytes()].concat()
}

impl<S: Store> Tokens<S> {
    pub async fn signed_time(&self, nonce_b64: &str) -> Result<SignedTime> {
        let nonce = B64.decode(nonce_b64).ok().filter(|n| n.len() == TIME_NONCE_BYTES).ok_or_else(
            || {
                FieldError::invalid(
                    "nonce",
                    format!("must be {TIME_NONCE_BYTES} bytes, base64url without padding"),
                )
            },
        )?;
        let now_ms = crate::now_us() / 1_000;
        let signature = self
            .hsm
            .sign(labels::TIME_SIGNING, &signed_time_message(&nonce, now_ms))
            .await
            .map_err(IssuingError::from)?;
        let public_key =
            self.hsm.public_key(labels::TIME_SIGNING).await.map_err(IssuingError::from)?;
        Ok(SignedTime {
            server_time_ms: now_ms,
            nonce: nonce_b64.to_owned(),
            signature: B64.encode(signature),
            public_key: B64.encode(public_key),
        })
    }
}
