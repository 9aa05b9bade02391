//! Taking a token and its LUK batch from the answer of `POST /v1/cards/{id}/tokens`
//! (provisioning) or `POST /v1/tokens/{id}/replenish` (same shape).

use emv::luk_batch::EncryptedBatch;
use serde::Deserialize;

use super::{Wallet, WalletError};
use crate::clock::DeviceClock;
use crate::secret::TokenPan;
use crate::store::{SecureStore, StoredToken};

/// What an app may show about a token: no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSummary {
    pub token_id: String,
    pub card_id: String,
    pub last4: String,
    pub imk_version: u8,
    /// Last ATC spent.
    pub atc: u16,
    /// Keys that can still pay, and the payments they allow, at the time given.
    pub usable_keys: usize,
    pub uses_left: u32,
}

/// The parts of the answer the phone needs; the rest (LUK metadata, expiry) is ignored.
#[derive(Deserialize)]
struct Provisioned {
    token: TokenMeta,
    token_pan: String,
    batch: EncryptedBatch,
}

#[derive(Deserialize)]
struct TokenMeta {
    id: String,
    card_id: String,
    imk_version: u32,
}

impl TokenSummary {
    pub(crate) fn of(token: &StoredToken, now_ms: i64) -> TokenSummary {
        TokenSummary {
            token_id: token.id.clone(),
            card_id: token.card_id.clone(),
            last4: token.token_pan.last4().to_owned(),
            imk_version: token.imk_version,
            atc: token.atc,
            usable_keys: token.luks.iter().filter(|l| l.uses_left(now_ms) > 0).count(),
            uses_left: token.uses_left(now_ms),
        }
    }
}

impl<S: SecureStore, C: DeviceClock> Wallet<S, C> {
    /// Stores the token of a provisioning answer (JSON) with the LUKs of its batch, opened
    /// with the device key. The caller should wipe `answer_json`: it holds the token PAN.
    pub fn accept_provisioning(&mut self, answer_json: &str) -> Result<TokenSummary, WalletError> {
        let (meta, pan, entries) = self.open_answer(answer_json)?;
        let existing = self.store.tokens()?.into_iter().find(|t| t.id == meta.id);
        let token = match existing {
            // The same answer twice: merge, never reset counters.
            Some(mut token) => {
                token.add_luks(entries);
                token
            }
            None => StoredToken::new(meta.id, meta.card_id, pan, imk(meta.imk_version)?, entries),
        };
        self.save(token)
    }

    /// Adds the LUKs of a replenishment answer (JSON) to the token they are for. The
    /// token keeps its ATC and the use counts of its older keys.
    pub fn accept_replenishment(&mut self, answer_json: &str) -> Result<TokenSummary, WalletError> {
        let (meta, _pan, entries) = self.open_answer(answer_json)?;
        let mut token = self
            .store
            .tokens()?
            .into_iter()
            .find(|t| t.id == meta.id)
            .ok_or(WalletError::UnknownToken)?;
        token.add_luks(entries);
        self.save(token)
    }

    fn open_answer(
        &self,
        answer_json: &str,
    ) -> Result<(TokenMeta, TokenPan, Vec<emv::luk_batch::LukEntry>), WalletError> {
        // serde's message may quote a value (the PAN): report the shape only.
        let answer: Provisioned =
            serde_json::from_str(answer_json).map_err(|_| WalletError::Provisioning("body"))?;
        let pan = TokenPan::parse(answer.token_pan)
            .map_err(|_| WalletError::Provisioning("token_pan"))?;
        imk(answer.token.imk_version)?;
        let entries = self.store.open_batch(&answer.token.id, &answer.batch)?;
        Ok((answer.token, pan, entries))
    }

    /// Persists `token`, first dropping keys already expired if the synchronised clock
    /// is known (a wrong wall clock must not destroy good keys).
    fn save(&mut self, mut token: StoredToken) -> Result<TokenSummary, WalletError> {
        if let Ok(now) = self.now_ms() {
            token.retire_expired(now);
        }
        self.store.save_token(token.clone())?;
        Ok(TokenSummary::of(&token, self.hint_now_ms()))
    }

    /// Summaries of every token held, at the synchronised time if known.
    pub fn tokens(&self) -> Result<Vec<TokenSummary>, WalletError> {
        let now = self.hint_now_ms();
        Ok(self.store.tokens()?.iter().map(|t| TokenSummary::of(t, now)).collect())
    }

    /// The synchronised time, or the device's wall clock when there is none. For
    /// housekeeping and hints only (expiries are days long); payments use [`Wallet::now_ms`].
    pub(crate) fn hint_now_ms(&self) -> i64 {
        self.now_ms().unwrap_or_else(|_| self.clock.wall_ms())
    }
}

/// The IAD carries the issuer key version in one byte, 1 to 255.
fn imk(version: u32) -> Result<u8, WalletError> {
    u8::try_from(version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or(WalletError::Provisioning("token.imk_version"))
}
