//! After the pump stops: completion with the real amount, reversal, and hold expiry.

use crate::network::write_failed;
use crate::request::{self, CompleteRequest, ReverseByReference};
use crate::views::AuthorizationView;
use crate::{now_us, Authorizer};
use domain::{AuthorizationId, FieldError};
use issuing::{IssuingError, Result};
use store::{
    AuthStatus, AuthorizationRecord, AuthorizerStore, CompletionCommit, NonceClaim, Store,
    StoreError, TerminalRecord,
};

impl<S: Store + AuthorizerStore> Authorizer<S> {
    /// An authorization of this terminal (another terminal's is "not found").
    async fn own(
        &self,
        terminal: &TerminalRecord,
        id: AuthorizationId,
    ) -> Result<AuthorizationRecord> {
        match self.store().get_authorization(id).await {
            Ok(a) if a.terminal_id == terminal.id => Ok(a),
            Ok(_) | Err(StoreError::NotFound) => Err(IssuingError::NotFound("authorization")),
            Err(e) => Err(e.into()),
        }
    }

    /// Posts the final amount and releases the rest of the hold. A completion after the
    /// hold expired is still posted (the fuel was dispensed). Repeating the same completion
    /// answers the same; a different one is refused.
    pub async fn complete(
        &self,
        terminal: &TerminalRecord,
        id: AuthorizationId,
        req: &CompleteRequest,
    ) -> Result<AuthorizationView> {
        self.complete_once(terminal, None, id, req).await.map(|(view, _)| view)
    }

    /// [`Self::complete`] for a request whose nonce was not recorded yet: the completion's
    /// write records it (one commit per request), or it is recorded alone when nothing is
    /// written; a replay is refused as one.
    pub async fn complete_deferred(
        &self,
        terminal: &TerminalRecord,
        nonce: &NonceClaim,
        id: AuthorizationId,
        req: &CompleteRequest,
    ) -> Result<Result<AuthorizationView, crate::TerminalAuthError>> {
        let outcome = self.complete_once(terminal, Some(nonce), id, req).await;
        let written = matches!(outcome, Ok((_, true)));
        self.settle_nonce(nonce, written, outcome.map(|(view, _)| view)).await
    }

    /// The completion, and whether a write carrying `nonce` landed.
    async fn complete_once(
        &self,
        terminal: &TerminalRecord,
        nonce: Option<&NonceClaim>,
        id: AuthorizationId,
        req: &CompleteRequest,
    ) -> Result<(AuthorizationView, bool)> {
        let auth = self.own(terminal, id).await?;
        if req.amount < 0 || req.volume_ml < 0 {
            return Err(FieldError::out_of_range(
                "amount",
                "the final amount and volume cannot be negative",
            )
            .into());
        }
        if req.amount > auth.approved_amount {
            return Err(FieldError::out_of_range(
                "amount",
                format!("exceeds the approved amount {}", auth.approved_amount),
            )
            .into());
        }
        let product = req.product.as_str();
        if auth.status == AuthStatus::Completed {
            let same = auth.final_amount == Some(req.amount)
                && auth.final_volume_ml == Some(req.volume_ml);
            return if same {
                Ok((AuthorizationView::from(&auth), false))
            } else {
                Err(conflict("ALREADY_COMPLETED", "completed with other values"))
            };
        }
        let now = now_us();
        let late_alert = late_completion_alert(&auth, req.amount, now);
        let completion = CompletionCommit {
            id,
            final_amount: req.amount,
            final_volume_ml: req.volume_ml,
            product: product.to_owned(),
            now_us: now,
            late_alert,
            nonce: nonce.cloned(),
        };
        let store = self.store();
        if !store.complete_authorization(&completion).await.map_err(write_failed)? {
            return Err(conflict(
                "NOT_COMPLETABLE",
                "only an approved authorization can be completed",
            ));
        }
        if auth.status == AuthStatus::Expired {
            tracing::warn!(authorization_id = %id, "completion after the hold expired; posted and flagged");
        }
        // What the completion wrote, without reading it back (one trip less per fill).
        let completed = AuthorizationRecord {
            status: AuthStatus::Completed,
            final_amount: Some(req.amount),
            final_volume_ml: Some(req.volume_ml),
            product: Some(product.to_owned()),
            settled_us: Some(now),
            version: auth.version + 1,
            ..auth
        };
        Ok((AuthorizationView::from(&completed), nonce.is_some()))
    }

    /// Releases the whole hold. Repeating it answers the same.
    pub async fn reverse(
        &self,
        terminal: &TerminalRecord,
        id: AuthorizationId,
    ) -> Result<AuthorizationView> {
        let auth = self.own(terminal, id).await?;
        match auth.status {
            AuthStatus::Reversed | AuthStatus::Declined => Ok(AuthorizationView::from(&auth)),
            AuthStatus::Approved => {
                self.store().release_authorization(id, AuthStatus::Reversed, now_us()).await?;
                Ok(AuthorizationView::from(&self.store().get_authorization(id).await?))
            }
            AuthStatus::Completed | AuthStatus::Expired => {
                Err(conflict("NOT_REVERSIBLE", "the fill was already settled or expired"))
            }
        }
    }

    /// A reversal by message identity. For a message never seen, it is acknowledged and
    /// remembered, so the late original is declined.
    pub async fn reverse_by_reference(
        &self,
        terminal: &TerminalRecord,
        req: &ReverseByReference,
    ) -> Result<Option<AuthorizationView>> {
        request::check_stan(&req.stan)?;
        request::check_transmitted_at(&req.transmitted_at)?;
        match self.store().find_authorization(terminal.id, &req.stan, &req.transmitted_at).await? {
            Some(auth) => self.reverse(terminal, auth.id).await.map(Some),
            None => {
                self.store()
                    .remember_early_reversal(terminal.id, &req.stan, &req.transmitted_at, now_us())
                    .await?;
                // The original may have landed between our look and our note: reverse it.
                match self
                    .store()
                    .find_authorization(terminal.id, &req.stan, &req.transmitted_at)
                    .await?
                {
                    Some(auth) => self.reverse(terminal, auth.id).await.map(Some),
                    None => Ok(None),
                }
            }
        }
    }

    /// Releases holds whose time ran out; returns how many. Run periodically.
    pub async fn expire_holds(&self) -> Result<usize> {
        let now = now_us();
        let due = self.store().expired_holds(now, self.config.expiry_batch_size).await?;
        let mut released = 0;
        for id in due {
            if self.store().release_authorization(id, AuthStatus::Expired, now).await? {
                released += 1;
            }
        }
        Ok(released)
    }
}

/// The alert a completion after its hold expired opens: the fuel was dispensed without a
/// hold backing it, so a person looks at it.
fn late_completion_alert(
    auth: &AuthorizationRecord,
    amount: i64,
    now_us: i64,
) -> store::AlertRecord {
    store::AlertRecord {
        id: uuid::Uuid::now_v7(),
        org_id: auth.org_id.unwrap_or(domain::OrgId(uuid::Uuid::nil())),
        authorization_id: auth.id,
        card_id: auth.card_id.unwrap_or(domain::CardId(uuid::Uuid::nil())),
        rule_id: LATE_COMPLETION_RULE.to_owned(),
        risk: LATE_COMPLETION_RISK,
        status: store::AlertStatus::Open,
        assignee_id: None,
        created_us: now_us,
        resolved_us: None,
        reason: "completed after its hold expired".to_owned(),
        observed:
            serde_json::json!({"final_amount": amount, "hold_expires_us": auth.hold_expires_us})
                .to_string(),
    }
}

/// The rule id and risk (of 1000) of alerts for completions after the hold expired.
pub const LATE_COMPLETION_RULE: &str = "late_completion";
const LATE_COMPLETION_RISK: i64 = 300;

fn conflict(code: &'static str, message: &str) -> IssuingError {
    IssuingError::conflict(code, message)
}
