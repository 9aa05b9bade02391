//! Cryptogram validation, for the authorizer: resolve the token from its PAN, rebuild the
//! cryptogram input from the payload, have the HSM verify the MAC, then check status, time,
//! key budget and replay — each failure with its own reason (docs/CRYPTOGRAM.md).

use crate::Tokens;
use domain::payment_time::{self, TimeVerdict};
use domain::{CardId, CardStatus, OrgId, TokenId};
use emv::cryptogram::{CryptogramInput, EntryMode, Iad, KeyIndex};
use hsm_sim::Pan;
use issuing::IssuingError;
use serde::Serialize;
use store::{CommitRefusal, DeviceStatus, Store, StoreError, TokenRecord, TokenStatus, UserStatus};

pub use emv::payment::PaymentData;

/// Why payment data was refused. One machine-readable code each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CryptogramDecline {
    CryptogramInvalid,
    CryptogramExpired,
    ClockSkew,
    Replayed,
    KeyExhausted,
    TokenInactive,
    /// The token is fine but its card is not active: the driver is told which.
    CardSuspended,
    CardBlocked,
    CardClosed,
}

impl CryptogramDecline {
    pub fn code(self) -> &'static str {
        match self {
            Self::CryptogramInvalid => "CRYPTOGRAM_INVALID",
            Self::CryptogramExpired => "CRYPTOGRAM_EXPIRED",
            Self::ClockSkew => "CLOCK_SKEW",
            Self::Replayed => "REPLAYED",
            Self::KeyExhausted => "KEY_EXHAUSTED",
            Self::TokenInactive => "TOKEN_INACTIVE",
            Self::CardSuspended => "CARD_SUSPENDED",
            Self::CardBlocked => "CARD_BLOCKED",
            Self::CardClosed => "CARD_CLOSED",
        }
    }
}

/// Payment data that passed every check; its ATC is now spent.
#[derive(Debug, Clone)]
pub struct ValidatedPayment {
    pub token_id: TokenId,
    pub card_id: CardId,
    pub org_id: OrgId,
    pub atc: u16,
    pub generated_at_ms: i64,
    pub cdcvm: bool,
}

/// Payment data that passed every check, with the claim that spends it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub payment: ValidatedPayment,
    pub claim: store::CryptogramClaim,
    /// The card as read for the token's standing: the authorizer decides on this read.
    pub card: store::CardRecord,
    key_index: KeyIndex,
    token: TokenRecord,
}

/// A validation outcome: the decline, or an internal failure (database, HSM) that is
/// nobody's decline (the authorizer answers "try again", ISO 8583 91/96).
pub type Validation = Result<Result<ValidatedPayment, CryptogramDecline>, issuing::IssuingError>;

impl<S: Store> Tokens<S> {
    /// Checks payment data and spends its ATC and LUK use (standalone validation).
    pub async fn validate(&self, data: &PaymentData, now_ms: i64) -> Validation {
        let checked = match self.check(data, now_ms).await? {
            Ok(checked) => checked,
            Err(decline) => return Ok(Err(decline)),
        };
        if let Err(decline) = self.claim(checked.token.clone(), data.atc, checked.key_index).await?
        {
            return Ok(Err(decline));
        }
        Ok(Ok(checked.payment))
    }

    /// The card whose token the payment data names, when the token exists. Nothing is
    /// verified: the authorizer uses it only to count a failed check against the card (a
    /// fraud feature), never to approve.
    pub async fn named_card(
        &self,
        data: &PaymentData,
    ) -> Result<Option<(OrgId, CardId)>, IssuingError> {
        let Ok(pan) = Pan::parse(&data.token_pan) else { return Ok(None) };
        let fingerprint = self.hsm.pan_fingerprint(&pan).await?;
        match self.store().get_token_by_fingerprint(&fingerprint).await {
            Ok(t) => Ok(Some((t.org_id, t.card_id))),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every check but the spending: the caller (the authorizer) spends the ATC and LUK use
    /// in its own transaction with [`Checked::claim`], and re-checks on a moved window.
    pub async fn check(
        &self,
        data: &PaymentData,
        now_ms: i64,
    ) -> Result<Result<Checked, CryptogramDecline>, IssuingError> {
        use CryptogramDecline::*;
        let Ok(pan) = Pan::parse(&data.token_pan) else { return Ok(Err(CryptogramInvalid)) };
        let Ok(iad) = Iad::parse(&data.iad) else { return Ok(Err(CryptogramInvalid)) };
        let fingerprint = self.hsm.pan_fingerprint(&pan).await?;
        let found = self.store().get_token_with_luk(&fingerprint, iad.key_index.0).await?;
        let Some((token, luk)) = found else { return Ok(Err(CryptogramInvalid)) };
        if u32::from(iad.imk_version) != token.imk_version {
            return Ok(Err(CryptogramInvalid));
        }
        let Some(luk) = luk else { return Ok(Err(CryptogramInvalid)) };
        if !self.mac_verifies(&token, &pan, data, &iad).await? {
            return Ok(Err(CryptogramInvalid));
        }
        let card = match self.token_standing(&token).await? {
            Ok(card) => card,
            Err(decline) => return Ok(Err(decline)),
        };
        let window = match data.entry_mode {
            EntryMode::Qr => payment_time::QR_VALIDITY_MS,
            EntryMode::Nfc => payment_time::NFC_VALIDITY_MS,
        };
        match payment_time::classify(now_ms, iad.generated_at_ms, iad.sync_age_s, window) {
            TimeVerdict::Fresh => {}
            TimeVerdict::Expired => return Ok(Err(CryptogramExpired)),
            TimeVerdict::ClockSkew => return Ok(Err(ClockSkew)),
        }
        if iad.generated_at_ms / 1_000 > luk.expires_s || luk.used_count >= luk.max_uses {
            return Ok(Err(KeyExhausted));
        }
        if token.atc.accept(data.atc).is_err() {
            return Ok(Err(Replayed));
        }
        let claim =
            store::CryptogramClaim { token: token.id, atc: data.atc, key_index: iad.key_index.0 };
        let payment = ValidatedPayment {
            token_id: token.id,
            card_id: token.card_id,
            org_id: token.org_id,
            atc: data.atc,
            generated_at_ms: iad.generated_at_ms,
            cdcvm: iad.cdcvm,
        };
        Ok(Ok(Checked { payment, claim, card, key_index: iad.key_index, token }))
    }

    async fn mac_verifies(
        &self,
        token: &TokenRecord,
        pan: &Pan,
        data: &PaymentData,
        iad: &Iad,
    ) -> Result<bool, issuing::IssuingError> {
        let input = CryptogramInput {
            entry_mode: data.entry_mode,
            token_pan: pan.expose_digits().to_owned(),
            key_index: iad.key_index,
            atc: data.atc,
            generated_at_ms: iad.generated_at_ms,
            sync_age_s: iad.sync_age_s,
            cdcvm: iad.cdcvm,
            terminal: data.terminal,
            card_unpredictable_number: data.card_unpredictable_number,
        };
        let Ok(bytes) = input.to_bytes() else { return Ok(false) };
        let valid = self
            .hsm
            .verify_cryptogram(token.imk_version, pan, iad.key_index, &bytes, &data.cryptogram)
            .await?;
        Ok(valid)
    }

    /// The token and its card are both active (a blocked card blocks its tokens at once,
    /// without touching them).
    /// Whether a token whose cryptogram verified may pay: its card active, and the phone
    /// still its driver's. Tokens are never rewritten when a card is re-bound, a device
    /// revoked or a driver deactivated, so this is where those take effect.
    async fn token_standing(
        &self,
        token: &TokenRecord,
    ) -> Result<Result<store::CardRecord, CryptogramDecline>, issuing::IssuingError> {
        use CryptogramDecline::*;
        if token.status != TokenStatus::Active {
            return Ok(Err(TokenInactive));
        }
        let (card, device, holder) =
            self.store().get_card_with_device(token.org_id, token.card_id, token.device_id).await?;
        match card.status {
            CardStatus::Active => {}
            CardStatus::Suspended => return Ok(Err(CardSuspended)),
            CardStatus::Blocked => return Ok(Err(CardBlocked)),
            CardStatus::Closed => return Ok(Err(CardClosed)),
        }
        if device.status != DeviceStatus::Active || card.driver_id != Some(device.user_id) {
            return Ok(Err(TokenInactive));
        }
        Ok(if holder == UserStatus::Active { Ok(card) } else { Err(TokenInactive) })
    }

    /// Spends the ATC and one use of the LUK, re-reading the window when a concurrent
    /// validation moved it first.
    async fn claim(
        &self,
        token: TokenRecord,
        atc: u16,
        key_index: KeyIndex,
    ) -> Result<Result<(), CryptogramDecline>, issuing::IssuingError> {
        let claim = store::CryptogramClaim { token: token.id, atc, key_index: key_index.0 };
        Ok(match self.store().claim_cryptogram(&claim).await? {
            Ok(()) => Ok(()),
            Err(CommitRefusal::BudgetSpent) => Err(CryptogramDecline::KeyExhausted),
            Err(_) => Err(CryptogramDecline::Replayed),
        })
    }
}
