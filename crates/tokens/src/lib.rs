//! The token service: enrolled phones (devices), payment tokens, limited-use key batches,
//! the signed clock, and cryptogram validation for the authorizer.
//!
//! A payment token has its own PAN (never the card's); its keys are derived in the HSM
//! and reach only the phone, encrypted to the phone's device key. The server keeps what it
//! needs to check a cryptogram — the token's replay window and each LUK's expiry and
//! budget — and asks the HSM to verify the MAC. See `docs/CRYPTOGRAM.md`.

mod clock;
mod config;
mod devices;
mod provisioning;
mod validation;
pub mod views;

pub use clock::{signed_time_message, SignedTime};
pub use config::TokensConfig;
pub use devices::{enrol_message, Enrol, NewChallenge};
pub use provisioning::{replenish_message, Provision, Replenish, UsageReport};
pub use validation::{Checked, CryptogramDecline, PaymentData, ValidatedPayment, Validation};

use hsm_sim::HsmClient;
use issuing::Issuing;
use store::Store;

/// The token service over a store `S`. Shares the issuing service for scope checks.
#[derive(Clone)]
pub struct Tokens<S> {
    issuing: Issuing<S>,
    hsm: HsmClient,
    config: TokensConfig,
}

impl<S: Store> Tokens<S> {
    pub fn new(issuing: Issuing<S>, hsm: HsmClient, config: TokensConfig) -> Result<Self, String> {
        config.validate()?;
        Ok(Self { issuing, hsm, config })
    }

    pub fn config(&self) -> &TokensConfig {
        &self.config
    }

    fn store(&self) -> &S {
        self.issuing.store()
    }
}

pub(crate) fn now_us() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}
