//! Asking for new LUKs before the batch runs out: a request signed by the device key that
//! reports how often each key was used, so the server can tell this phone from a clone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::Serialize;

use super::{Wallet, WalletError};
use crate::clock::DeviceClock;
use crate::store::{SecureStore, UsageReport};

/// Domain separation of the replenishment signature.
pub const REPLENISH_DOMAIN: &[u8] = b"forecourt/replenish/v1";
/// Replenish when fewer payments than this are left: one key's worth at the server's
/// default budget, so a driver who is offline for a while can still pay a few times.
pub const REPLENISH_BELOW_USES: u32 = 4;

/// Body of `POST /v1/tokens/{token_id}/replenish`.
#[derive(Clone, Debug, Serialize)]
pub struct ReplenishRequest {
    /// The token the request is for (goes in the path, not the body).
    #[serde(skip)]
    pub token_id: String,
    pub issued_at_ms: i64,
    pub reports: Vec<ReplenishUsage>,
    /// ECDSA P-256/SHA-256 by the device key over [`replenish_message`], base64url.
    pub signature: String,
}

/// One report line: key index as 12 hex digits, uses made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplenishUsage {
    pub key_index: String,
    pub used: u16,
}

/// The bytes the device signs: domain ‖ token id (ASCII) ‖ issued_at_ms (i64 BE) ‖ for each
/// report in key-index order: key index (6) ‖ used (u16 BE). The server builds the same
/// bytes (`tokens::replenish_message`); this is an independent implementation of it.
pub fn replenish_message(token_id: &str, issued_at_ms: i64, reports: &[UsageReport]) -> Vec<u8> {
    let mut sorted = reports.to_vec();
    sorted.sort_by_key(|r| (r.key_index, r.used));
    let mut message = [REPLENISH_DOMAIN, token_id.as_bytes(), &issued_at_ms.to_be_bytes()].concat();
    for report in sorted {
        message.extend_from_slice(report.key_index.as_bytes());
        message.extend_from_slice(&report.used.to_be_bytes());
    }
    message
}

impl<S: SecureStore, C: DeviceClock> Wallet<S, C> {
    /// The signed replenishment request for the active token. `now_ms` is the
    /// server-synchronised time ([`Wallet::now_ms`]): the server refuses a request more
    /// than a few minutes old or from the future.
    pub fn replenish_request(&mut self, now_ms: i64) -> Result<ReplenishRequest, WalletError> {
        let token = self.active_token()?;
        let reports = token.usage_reports();
        let signature = self.sign(&replenish_message(&token.id, now_ms, &reports))?;
        Ok(ReplenishRequest {
            token_id: token.id,
            issued_at_ms: now_ms,
            reports: reports
                .iter()
                .map(|r| ReplenishUsage {
                    key_index: hex::encode(r.key_index.as_bytes()),
                    used: r.used,
                })
                .collect(),
            signature: B64.encode(signature),
        })
    }

    /// Whether the active token has fewer than [`REPLENISH_BELOW_USES`] payments left
    /// (at the synchronised time if known). `false` when there is no token.
    pub fn needs_replenish(&self) -> bool {
        self.active_token()
            .map(|t| t.uses_left(self.hint_now_ms()) < REPLENISH_BELOW_USES)
            .unwrap_or(false)
    }
}
