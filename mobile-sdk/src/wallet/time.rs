//! Setting the clock from the server's signed time (`docs/CRYPTOGRAM.md`, "Signed time").
//!
//! The answer is trusted only if it carries the nonce this wallet just sent (so an old
//! answer cannot be replayed to set the clock back) and verifies with the pinned time key.
//! The key is pinned on first contact (trust on first use) unless the app pinned one it
//! ships with ([`Wallet::pin_time_key`]); a different key later is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::Deserialize;

use super::{Wallet, WalletError};
use crate::clock::{ClockSample, DeviceClock};
use crate::store::SecureStore;

/// Bytes of the nonce sent with `GET /v1/time`.
pub(crate) const NONCE_LEN: usize = 16;
/// Domain separation of the time signature.
pub const TIME_DOMAIN: &[u8] = b"forecourt/time/v1";

/// The answer of `GET /v1/time`. Fields it does not know (e.g. a key id) are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct SignedTime {
    pub server_time_ms: i64,
    /// The nonce as sent, base64url.
    pub nonce: String,
    /// ECDSA P-256/SHA-256 `r ‖ s`, base64url.
    pub signature: String,
    /// The time key, SEC1 uncompressed, base64url.
    pub public_key: String,
}

/// The bytes the time signature covers: domain ‖ nonce ‖ server time (i64 big-endian).
pub fn signed_time_message(nonce: &[u8], server_time_ms: i64) -> Vec<u8> {
    [TIME_DOMAIN, nonce, &server_time_ms.to_be_bytes()].concat()
}

impl<S: SecureStore, C: DeviceClock> Wallet<S, C> {
    /// A fresh nonce for `GET /v1/time?nonce=…` (base64url). Only the latest one is
    /// accepted by [`Wallet::sync`], once.
    pub fn time_nonce(&mut self) -> Result<String, WalletError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| WalletError::Random)?;
        self.pending_nonce = Some(nonce);
        Ok(B64.encode(nonce))
    }

    /// Pins the server's time key (SEC1), e.g. one the app ships with.
    pub fn pin_time_key(&mut self, key_sec1: &[u8]) -> Result<(), WalletError> {
        VerifyingKey::from_sec1_bytes(key_sec1).map_err(|_| WalletError::TimeSignature)?;
        Ok(self.store.pin_time_key(key_sec1)?)
    }

    /// Sets the clock from a time answer. `sent` and `received` are
    /// [`ClockSample::take`] just before the request and just after the answer.
    pub fn sync(
        &mut self,
        sent: ClockSample,
        received: ClockSample,
        answer: &SignedTime,
    ) -> Result<(), WalletError> {
        // Taken, not read: whatever the outcome, this nonce has had its answer.
        let nonce = self.pending_nonce.take().ok_or(WalletError::TimeNonce)?;
        if B64.decode(&answer.nonce).ok().as_deref() != Some(nonce.as_slice()) {
            return Err(WalletError::TimeNonce);
        }
        let key = B64.decode(&answer.public_key).map_err(|_| WalletError::TimeSignature)?;
        let pinned = self.store.pinned_time_key()?;
        if pinned.as_ref().is_some_and(|p| *p != key) {
            return Err(WalletError::TimeKeyMismatch);
        }
        verify(&key, &signed_time_message(&nonce, answer.server_time_ms), &answer.signature)?;
        self.sync.record(sent, received, answer.server_time_ms)?;
        if pinned.is_none() {
            self.store.pin_time_key(&key)?;
        }
        Ok(())
    }
}

fn verify(key_sec1: &[u8], message: &[u8], signature_b64: &str) -> Result<(), WalletError> {
    let key = VerifyingKey::from_sec1_bytes(key_sec1).map_err(|_| WalletError::TimeSignature)?;
    let bytes = B64.decode(signature_b64).map_err(|_| WalletError::TimeSignature)?;
    let signature = Signature::from_slice(&bytes).map_err(|_| WalletError::TimeSignature)?;
    key.verify(message, &signature).map_err(|_| WalletError::TimeSignature)
}
