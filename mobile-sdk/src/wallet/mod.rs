//! The wallet: what a driver's app calls. It owns a [`SecureStore`] (keys, tokens,
//! counters) and a [`DeviceClock`], keeps the server-synchronised [`ClockSync`], and turns
//! them into the messages of `docs/API.md` ("The phone") and the payment data of
//! `docs/CRYPTOGRAM.md`.
//!
//! Networking is the app's: the wallet builds request bodies and reads answer bodies, so
//! the same core serves the CLI here and a phone's HTTP stack.

mod error;
mod pay;
mod provision;
mod replenish;
mod time;

pub use error::WalletError;
pub use pay::{GeneratedPayment, FORECOURT_AID, FORECOURT_LABEL};
pub use provision::TokenSummary;
pub use replenish::{
    replenish_message, ReplenishRequest, ReplenishUsage, REPLENISH_BELOW_USES, REPLENISH_DOMAIN,
};
pub use time::{signed_time_message, SignedTime, TIME_DOMAIN};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::Serialize;

use crate::clock::{ClockPolicy, ClockSync, DeviceClock};
use crate::store::{PublicKeySec1, SecureStore, SignatureBytes, StoredToken};

/// Domain separation of the enrolment signature.
pub const ENROL_DOMAIN: &[u8] = b"forecourt/enrol/v1";

/// A phone's wallet. `Debug` shows what the store's `Debug` shows: no secret.
#[derive(Debug)]
pub struct Wallet<S: SecureStore, C: DeviceClock> {
    store: S,
    clock: C,
    sync: ClockSync,
    /// The nonce of the time request in flight; an answer must carry it.
    pending_nonce: Option<[u8; time::NONCE_LEN]>,
    /// The token payments use; `None`: the first one held.
    selected_token: Option<String>,
}

/// Body of `POST /v1/devices`.
#[derive(Clone, Debug, Serialize)]
pub struct EnrolRequest {
    pub public_key: String,
    pub challenge: String,
    pub signature: String,
    pub label: String,
}

impl<S: SecureStore, C: DeviceClock> Wallet<S, C> {
    pub fn new(store: S, clock: C) -> Wallet<S, C> {
        Wallet::with_policy(store, clock, ClockPolicy::default())
    }

    pub fn with_policy(store: S, clock: C, policy: ClockPolicy) -> Wallet<S, C> {
        Wallet {
            store,
            clock,
            sync: ClockSync::new(policy),
            pending_nonce: None,
            selected_token: None,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    pub fn clock_sync(&self) -> &ClockSync {
        &self.sync
    }

    /// The server-synchronised time now, or why it cannot be trusted.
    pub fn now_ms(&self) -> Result<i64, WalletError> {
        Ok(self.sync.now_ms(&self.clock)?)
    }

    /// The device public key (SEC1 uncompressed, 65 bytes), made on first use.
    pub fn public_key_sec1(&mut self) -> Result<PublicKeySec1, WalletError> {
        match self.store.device_public_key()? {
            Some(key) => Ok(key),
            None => Ok(self.store.create_device_key()?),
        }
    }

    /// ECDSA P-256/SHA-256 over `message` with the device key (made on first use).
    pub fn sign(&mut self, message: &[u8]) -> Result<SignatureBytes, WalletError> {
        self.public_key_sec1()?;
        Ok(self.store.sign(message)?)
    }

    /// What the phone signs to enrol: `"forecourt/enrol/v1" ‖ challenge ‖ public key`.
    pub fn enrol_message(&mut self, challenge: &[u8]) -> Result<Vec<u8>, WalletError> {
        let public = self.public_key_sec1()?;
        Ok([ENROL_DOMAIN, challenge, &public].concat())
    }

    /// The enrolment body for a challenge as the server sent it (base64url).
    pub fn enrol_request(
        &mut self,
        challenge_b64: &str,
        label: &str,
    ) -> Result<EnrolRequest, WalletError> {
        let challenge =
            B64.decode(challenge_b64).map_err(|_| WalletError::Provisioning("challenge"))?;
        let message = self.enrol_message(&challenge)?;
        let signature = self.sign(&message)?;
        Ok(EnrolRequest {
            public_key: B64.encode(self.public_key_sec1()?),
            challenge: challenge_b64.to_owned(),
            signature: B64.encode(signature),
            label: label.to_owned(),
        })
    }

    /// Records the device id the server returned for the enrolment.
    pub fn set_device_id(&mut self, id: &str) -> Result<(), WalletError> {
        Ok(self.store.set_device_id(id)?)
    }

    pub fn device_id(&self) -> Result<Option<String>, WalletError> {
        Ok(self.store.device_id()?)
    }

    /// Chooses the token payments use (by token id).
    pub fn select_token(&mut self, token_id: &str) -> Result<(), WalletError> {
        if !self.store.tokens()?.iter().any(|t| t.id == token_id) {
            return Err(WalletError::UnknownToken);
        }
        self.selected_token = Some(token_id.to_owned());
        Ok(())
    }

    /// The token payments use: the selected one, else the first held.
    fn active_token(&self) -> Result<StoredToken, WalletError> {
        let tokens = self.store.tokens()?;
        match &self.selected_token {
            Some(id) => tokens.into_iter().find(|t| &t.id == id).ok_or(WalletError::UnknownToken),
            None => tokens.into_iter().next().ok_or(WalletError::NoToken),
        }
    }
}
