//! What the token API returns. A token's PAN goes only to the phone that holds the token,
//! at provisioning; LUKs travel only inside the encrypted batch.

use domain::{CardId, DeviceId, TokenId, UserId};
use issuing::views::rfc3339;
use serde::Serialize;
use store::{DeviceRecord, LukRecord, TokenRecord};

#[derive(Debug, Clone, Serialize)]
pub struct ChallengeView {
    pub challenge: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub id: DeviceId,
    pub user_id: UserId,
    pub label: String,
    pub status: &'static str,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&DeviceRecord> for DeviceView {
    fn from(d: &DeviceRecord) -> Self {
        Self {
            id: d.id,
            user_id: d.user_id,
            label: d.label.clone(),
            status: d.status.as_str(),
            created_at: rfc3339(d.created_us),
            revoked_at: d.revoked_us.map(rfc3339),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub id: TokenId,
    pub card_id: CardId,
    pub device_id: DeviceId,
    pub token_last4: String,
    pub expiry: String,
    pub status: &'static str,
    pub imk_version: u32,
    pub created_at: String,
}

impl From<&TokenRecord> for TokenView {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id,
            card_id: t.card_id,
            device_id: t.device_id,
            token_last4: t.token_last4.clone(),
            expiry: t.expiry.clone(),
            status: t.status.as_str(),
            imk_version: t.imk_version,
            created_at: rfc3339(t.created_us),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LukView {
    pub key_index: String,
    pub expires_at: String,
    pub max_uses: i64,
    pub used: i64,
}

impl From<&LukRecord> for LukView {
    fn from(l: &LukRecord) -> Self {
        Self {
            key_index: hex::encode(l.key_index),
            expires_at: rfc3339(l.expires_s.saturating_mul(1_000_000)),
            max_uses: l.max_uses,
            used: l.used_count,
        }
    }
}

/// What the phone gets when a token is provisioned or replenished.
#[derive(Clone, Serialize)]
pub struct ProvisionedView {
    pub token: TokenView,
    /// The token's own PAN, for the phone to put in its payment data. Never the card's.
    pub token_pan: String,
    pub luks: Vec<LukView>,
    /// The LUKs, encrypted to the device key (docs/CRYPTOGRAM.md "LUK batch").
    pub batch: emv::luk_batch::EncryptedBatch,
}

impl std::fmt::Debug for ProvisionedView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisionedView").field("token", &self.token).finish_non_exhaustive()
    }
}
