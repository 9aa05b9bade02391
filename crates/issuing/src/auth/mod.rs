//! Login, token refresh with rotation, logout, invite acceptance, and turning a bearer
//! token into a [`Principal`].

pub mod passwords;
pub mod tokens;

use crate::error::{IssuingError, NotFoundAs, Result};
use crate::principal::Principal;
use crate::service::{now_us, Issuing};
use crate::views::{TokenPairView, UserView};
use domain::SessionId;
use serde::Deserialize;
use store::{
    Effects, RefreshOutcome, RefreshTokenRecord, SessionRecord, Store, StoreError, UserRecord,
    UserStatus,
};
use tokens::{hash_opaque_token, new_opaque_token, Claims};

const US_PER_SEC: i64 = 1_000_000;
const BAD_LOGIN: IssuingError = IssuingError::Unauthenticated("email or password is wrong");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub invite_token: String,
    pub password: String,
}

impl<S: Store> Issuing<S> {
    pub async fn login(&self, req: &Login) -> Result<TokenPairView> {
        let email = req.email.trim().to_lowercase();
        let user = match self.store.get_user_by_email(&email).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => {
                passwords::verify_off_runtime(&req.password, None).await;
                return Err(BAD_LOGIN);
            }
            Err(e) => return Err(e.into()),
        };
        let stored = user.password_hash.clone().unwrap_or_default();
        let verified = passwords::verify_off_runtime(&req.password, Some(stored)).await;
        if !verified || user.status != UserStatus::Active {
            tracing::info!(user_id = %user.id, "login refused");
            return Err(BAD_LOGIN);
        }
        let now = now_us();
        let session = SessionRecord {
            id: SessionId::new(),
            user_id: user.id,
            org_id: user.org_id,
            created_us: now,
            expires_us: now + self.config.refresh_token_ttl_secs * US_PER_SEC,
            revoked_us: None,
        };
        let (refresh, record) = self.new_refresh(session.id, now);
        self.store.create_session(&session, &record).await?;
        tracing::info!(user_id = %user.id, session_id = %session.id, "login");
        self.token_pair(&user, session.id, refresh).await
    }

    /// Exchanges a refresh token for a new pair. A refresh token works once: presenting a
    /// used one means it was copied, so the whole session is revoked.
    pub async fn refresh(&self, req: &Refresh) -> Result<TokenPairView> {
        let presented = hash_opaque_token(&req.refresh_token);
        let now = now_us();
        let refresh = new_opaque_token();
        let next_hash = hash_opaque_token(&refresh);
        let next_expires = now + self.config.refresh_token_ttl_secs * US_PER_SEC;
        match self.store.rotate_refresh(&presented, &next_hash, next_expires, now).await? {
            RefreshOutcome::Rotated(session) => {
                let user = self.store.get_user(session.user_id).await?;
                if user.status != UserStatus::Active {
                    return Err(IssuingError::Unauthenticated("user is deactivated"));
                }
                self.token_pair(&user, session.id, refresh).await
            }
            RefreshOutcome::ReuseDetected => {
                tracing::warn!("refresh token reused; its session is revoked");
                Err(IssuingError::Unauthenticated("refresh token was already used"))
            }
            RefreshOutcome::Invalid => Err(IssuingError::Unauthenticated("invalid refresh token")),
        }
    }

    pub async fn logout(&self, who: &Principal) -> Result<()> {
        self.store.revoke_session(who.session_id, now_us()).await?;
        tracing::info!(user_id = %who.user_id, session_id = %who.session_id, "logout");
        Ok(())
    }

    /// Sets the first password of an invited user. The invite works once.
    pub async fn accept_invite(&self, req: &AcceptInvite) -> Result<UserView> {
        passwords::validate("password", &req.password)?;
        let hash = hash_opaque_token(&req.invite_token);
        let mut user = self.store.get_user_by_invite(&hash).await.or_not_found("invite")?;
        let expired = user.invite_expires_us.is_none_or(|exp| exp <= now_us());
        if user.status != UserStatus::Invited || expired {
            return Err(IssuingError::NotFound("invite"));
        }
        let before = UserView::from(&user);
        user.password_hash = Some(passwords::hash_off_runtime(&req.password).await?);
        user.invite_hash = None;
        user.invite_expires_us = None;
        user.status = UserStatus::Active;
        let after = UserView::from(&user);
        let event = store::AuditEvent {
            id: uuid::Uuid::now_v7(),
            org_id: user.org_id,
            subject_type: "user",
            subject_id: user.id.0,
            card_id: None,
            action: "user.invite_accepted".into(),
            actor_id: Some(user.id),
            actor_role: Some(user.role),
            at_us: now_us(),
            reason: None,
            before: serde_json::to_string(&before).ok(),
            after: serde_json::to_string(&after).ok(),
        };
        self.store.update_user(&user, Effects::audit(vec![event])).await?;
        Ok(after)
    }

    /// Verifies a bearer token and loads the caller. The token alone is not trusted: the
    /// session must be live and the user active with the same role and org.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        let claims = self.tokens.verify(bearer)?;
        let unauthenticated = IssuingError::Unauthenticated("session is no longer valid");
        let session = match self.store.get_session(claims.sid).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(unauthenticated),
            Err(e) => return Err(e.into()),
        };
        let live = session.revoked_us.is_none() && session.expires_us > now_us();
        if !live || session.user_id != claims.sub {
            return Err(unauthenticated);
        }
        let user = self.store.get_user(claims.sub).await?;
        if user.status != UserStatus::Active
            || user.role != claims.role
            || user.org_id != claims.org
        {
            return Err(unauthenticated);
        }
        Ok(Principal {
            user_id: user.id,
            role: user.role,
            org_id: user.org_id,
            group_id: user.group_id,
            group_path: user.group_path,
            session_id: session.id,
        })
    }

    pub async fn me(&self, who: &Principal) -> Result<UserView> {
        Ok(UserView::from(&self.store.get_user(who.user_id).await?))
    }

    fn new_refresh(&self, session: SessionId, now: i64) -> (String, RefreshTokenRecord) {
        let token = new_opaque_token();
        let record = RefreshTokenRecord {
            token_hash: hash_opaque_token(&token),
            session_id: session,
            issued_us: now,
            expires_us: now + self.config.refresh_token_ttl_secs * US_PER_SEC,
            used_us: None,
        };
        (token, record)
    }

    async fn token_pair(
        &self,
        user: &UserRecord,
        session: SessionId,
        refresh_token: String,
    ) -> Result<TokenPairView> {
        let now_s = now_us() / US_PER_SEC;
        let ttl = self.config.access_token_ttl_secs;
        let claims = Claims {
            iss: self.config.jwt_issuer.clone(),
            aud: self.config.jwt_audience.clone(),
            sub: user.id,
            iat: now_s,
            exp: now_s + ttl,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session,
            org: user.org_id,
            role: user.role,
            scope: user.group_id.map(|g| g.to_string()),
        };
        Ok(TokenPairView {
            access_token: self.tokens.sign(&claims).await?,
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token,
        })
    }
}
