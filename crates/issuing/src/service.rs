use crate::auth::tokens::{TokenSigner, MAX_ACCESS_TOKEN_TTL_SECS};
use crate::error::{IssuingError, Result};
use crate::principal::Principal;
use domain::{CardId, FieldError, OrgId};
use hsm_sim::HsmClient;
use serde::Serialize;
use store::{AuditEvent, Store};

/// Settings of the issuing service, each with its unit in the name.
#[derive(Debug, Clone)]
pub struct IssuingConfig {
    /// Issuer identification number cards are issued under (6 to 8 digits).
    pub issuer_bin: String,
    pub pan_length: u8,
    pub card_validity_months: u32,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub invite_ttl_secs: i64,
    pub jwt_issuer: String,
    pub jwt_audience: String,
}

impl Default for IssuingConfig {
    fn default() -> Self {
        Self {
            // MII 7 is the petroleum industry (ISO/IEC 7812).
            issuer_bin: "700123".into(),
            pan_length: 16,
            card_validity_months: 36,
            access_token_ttl_secs: MAX_ACCESS_TOKEN_TTL_SECS,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            invite_ttl_secs: 72 * 3600,
            jwt_issuer: "forecourt".into(),
            jwt_audience: "forecourt-api".into(),
        }
    }
}

impl IssuingConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        let bin_ok = (6..=8).contains(&self.issuer_bin.len())
            && self.issuer_bin.bytes().all(|b| b.is_ascii_digit());
        if !bin_ok {
            return Err("issuer_bin must be 6 to 8 digits".into());
        }
        if !(16..=19).contains(&self.pan_length) {
            return Err("pan_length must be 16 to 19".into());
        }
        if !(1..=MAX_ACCESS_TOKEN_TTL_SECS).contains(&self.access_token_ttl_secs) {
            return Err(format!("access_token_ttl_secs must be 1 to {MAX_ACCESS_TOKEN_TTL_SECS}"));
        }
        if !(1..=120).contains(&self.card_validity_months) {
            return Err("card_validity_months must be 1 to 120".into());
        }
        Ok(())
    }
}

/// The issuing service over a store `S`.
#[derive(Clone)]
pub struct Issuing<S> {
    pub(crate) store: S,
    pub(crate) hsm: HsmClient,
    pub(crate) tokens: TokenSigner,
    pub(crate) config: IssuingConfig,
}

impl<S: Store> Issuing<S> {
    pub async fn new(store: S, hsm: HsmClient, config: IssuingConfig) -> Result<Self> {
        config.validate().map_err(IssuingError::Internal)?;
        let tokens =
            TokenSigner::new(hsm.clone(), &config.jwt_issuer, &config.jwt_audience).await?;
        Ok(Self { store, hsm, tokens, config })
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn config(&self) -> &IssuingConfig {
        &self.config
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.tokens.jwks()
    }
}

pub(crate) fn now_us() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| IssuingError::Internal(format!("json: {e}")))
}

/// Builds audit events with the actor and time filled in.
pub(crate) struct Audit<'a> {
    pub actor: &'a Principal,
    pub at_us: i64,
}

impl Audit<'_> {
    pub fn on(
        &self,
        org: Option<OrgId>,
        subject_type: &'static str,
        subject_id: uuid::Uuid,
        action: &str,
    ) -> AuditEvent {
        AuditEvent {
            id: uuid::Uuid::now_v7(),
            org_id: org,
            subject_type,
            subject_id,
            card_id: None,
            action: action.to_owned(),
            actor_id: Some(self.actor.user_id),
            actor_role: Some(self.actor.role),
            at_us: self.at_us,
            reason: None,
            before: None,
            after: None,
        }
    }
}

/// Fluent additions to an audit event.
pub trait EventExt: Sized {
    fn card(self, card: CardId) -> Self;
    fn reason(self, reason: Option<&str>) -> Self;
    fn before<T: Serialize>(self, doc: &T) -> Self;
    fn after<T: Serialize>(self, doc: &T) -> Self;
}

impl EventExt for AuditEvent {
    fn card(mut self, card: CardId) -> Self {
        self.card_id = Some(card);
        self
    }
    fn reason(mut self, reason: Option<&str>) -> Self {
        self.reason = reason.map(str::to_owned);
        self
    }
    fn before<T: Serialize>(mut self, doc: &T) -> Self {
        self.before = Some(audit_doc(doc));
        self
    }
    fn after<T: Serialize>(mut self, doc: &T) -> Self {
        self.after = Some(audit_doc(doc));
        self
    }
}

/// Views are plain structs with string keys, which serde_json always serialises; the
/// fallback keeps the event (and the change) rather than failing the request.
fn audit_doc<T: Serialize>(doc: &T) -> String {
    serde_json::to_string(doc).unwrap_or_else(|_| "null".to_owned())
}

/// Parses an optional reason text (bounded, trimmed).
pub(crate) fn reason(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    value.map(|r| domain::validate::text(field, r, MAX_REASON_CHARS)).transpose()
}

pub(crate) const MAX_NAME_CHARS: usize = 120;
pub(crate) const MAX_REASON_CHARS: usize = 500;
