//! The terminal authorizer: stations and terminals, signed terminal requests, the
//! authorization pipeline (payment data → cryptogram check → snapshot → pure decision →
//! one atomic commit), completions, reversals and hold expiry, and the fleet accounts.
//!
//! The database is the arbiter: the decision is made on a snapshot, and the commit re-checks
//! funds, period limits and the token's replay window with conditional updates. When the
//! snapshot went stale under a concurrent request, the commit is refused and the pipeline
//! decides again on fresh data.

mod accounts;
mod config;
mod fleet_alerts;
mod limits_left;
mod network;
mod pipeline;
mod related_alerts;
mod request;
pub mod review;
mod screening;
mod settle;
pub mod views;

pub use accounts::{Credit, CreditLimit};
pub use config::{
    AuthorizerConfig, DEFAULT_AUTHORIZATION_DEADLINE_MS, DEFAULT_MAX_PENDING_AUTHORIZATIONS,
};
pub use limits_left::{Gauge, LimitsLeft, PeriodLeft};
pub use network::{
    CreateStation, CreateTerminal, SignedRequest, TerminalAuthError, NONCE_MEMORY_US,
};
pub use pipeline::{local as local_time, Gate};
pub use related_alerts::RelatedAlerts;
pub use request::{AuthorizeRequest, CompleteRequest, NfcData, ReverseByReference};

use hsm_sim::HsmClient;
use issuing::Issuing;
use store::{AuthorizerStore, Store};
use tokens::Tokens;

#[derive(Clone)]
pub struct Authorizer<S> {
    issuing: Issuing<S>,
    tokens: Tokens<S>,
    hsm: HsmClient,
    config: AuthorizerConfig,
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    pub fn new(
        issuing: Issuing<S>,
        tokens: Tokens<S>,
        hsm: HsmClient,
        config: AuthorizerConfig,
    ) -> Self {
        Self { issuing, tokens, hsm, config }
    }

    fn store(&self) -> &S {
        self.issuing.store()
    }

    pub fn config(&self) -> &AuthorizerConfig {
        &self.config
    }
}

pub(crate) fn now_us() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}
