use crate::auth::tokens::{hash_opaque_token, new_opaque_token};
use crate::error::{IssuingError, NotFoundAs, Result};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::principal::Principal;
use crate::service::{now_us, Audit, EventExt, Issuing, MAX_NAME_CHARS};
use crate::views::{rfc3339, InvitedUserView, UserView};
use domain::{validate, FieldError, GroupId, Language, OrgId, Role, UserId};
use serde::Deserialize;
use store::{Effects, Scope, Store, UserFilter, UserRecord, UserStatus};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOwner {
    pub email: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub group_id: Option<GroupId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    /// Moves the user to another group (`null` is not accepted: use the org's owner
    /// account for org-wide roles).
    pub group_id: Option<GroupId>,
}

/// What a user may change on their own account (`PATCH /v1/me`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// `en` or `ru`; anything else is a 422 naming the field.
    pub language: Option<String>,
}

/// A new invited user and the view that shows its one-time invite token.
pub(crate) fn new_invite(
    email: &str,
    name: &str,
    role: Role,
    org: Option<OrgId>,
    group: Option<GroupId>,
    now: i64,
    invite_ttl_secs: i64,
) -> Result<(UserRecord, InvitedUserView), FieldError> {
    let token = new_opaque_token();
    let expires = now + invite_ttl_secs * 1_000_000;
    let user = UserRecord {
        id: UserId::new(),
        org_id: org,
        email: validate::email("email", email)?,
        name: validate::text("name", name, MAX_NAME_CHARS)?,
        role,
        group_id: group,
        group_path: None,
        status: UserStatus::Invited,
        password_hash: None,
        invite_hash: Some(hash_opaque_token(&token)),
        invite_expires_us: Some(expires),
        language: Language::En,
        created_us: now,
        version: 1,
    };
    let view = InvitedUserView {
        user: UserView::from(&user),
        invite_token: Some(token),
        invite_expires_at: rfc3339(expires),
    };
    Ok((user, view))
}

impl<S: Store> Issuing<S> {
    pub async fn create_user(
        &self,
        who: &Principal,
        req: &CreateUser,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<InvitedUserView>> {
        // A retry answers as the first request did, even if scope changed since.
        if let Some(replayed) = idempotency::replay(&self.store, who, key).await? {
            return Ok(replayed);
        }
        let (org, group) = self.placement_for_new_user(who, req).await?;
        let now = now_us();
        let ttl = self.config.invite_ttl_secs;
        let (user, view) = new_invite(&req.email, &req.name, req.role, org, group, now, ttl)?;
        let event = Audit { actor: who, at_us: now }
            .on(org, "user", user.id.0, "user.created")
            .after(&view.user);
        let replay = idempotency::record(who, key, &view.withheld())?;
        let fx = Effects::audit(vec![event]).with_idempotency(replay);
        let fx = match org {
            Some(org) => fx.placing_into(org, group),
            None => fx,
        };
        let result = self.store.create_user(&user, fx).await.map(|()| view);
        idempotency::settle(&self.store, who, key, result).await
    }

    /// Who may create whom, and where the new user lands.
    async fn placement_for_new_user(
        &self,
        who: &Principal,
        req: &CreateUser,
    ) -> Result<(Option<OrgId>, Option<GroupId>)> {
        match (who.role, req.role) {
            (Role::Operator, Role::Operator | Role::FraudAnalyst) => {
                if req.group_id.is_some() {
                    return Err(FieldError::invalid("group_id", "staff have no group").into());
                }
                Ok((None, None))
            }
            (Role::Owner, Role::Owner) => {
                if req.group_id.is_some() {
                    return Err(
                        FieldError::invalid("group_id", "owners manage the whole org").into()
                    );
                }
                Ok((Some(who.org()?), None))
            }
            (Role::Owner, Role::Admin) | (Role::Owner | Role::Admin, Role::Driver) => {
                let org = who.org()?;
                let group = match req.group_id {
                    Some(g) => Some(self.managed_group(who, org, g, "group_id").await?),
                    None if req.role == Role::Admin => {
                        return Err(FieldError::invalid("group_id", "an admin needs a group").into())
                    }
                    None if who.role == Role::Admin => {
                        return Err(
                            FieldError::invalid("group_id", "must be a group you manage").into()
                        )
                    }
                    None => None,
                };
                Ok((Some(org), group))
            }
            _ => Err(IssuingError::Forbidden("your role cannot create users of this role")),
        }
    }

    /// A group of `org` that the caller manages; otherwise a field error (the id came in a
    /// body, so the field is named).
    pub(crate) async fn managed_group(
        &self,
        who: &Principal,
        org: OrgId,
        id: GroupId,
        field: &str,
    ) -> Result<GroupId> {
        let group = self.store.get_group(org, id).await;
        match group {
            Ok(g) if who.manages(org, Some(&g.path)) => match g.status {
                store::ActiveStatus::Active => Ok(g.id),
                store::ActiveStatus::Deactivated => Err(group_deactivated()),
            },
            Ok(_) | Err(store::StoreError::NotFound) => {
                Err(FieldError::new(field, "NOT_FOUND", "no such group in your scope").into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A user the caller may see: themselves, staff for operators, org users for owners,
    /// users of their subtree for admins.
    async fn visible_user(&self, who: &Principal, id: UserId) -> Result<UserRecord> {
        let user = self.store.get_user(id).await.or_not_found("user")?;
        let visible = user.id == who.user_id
            || match (who.role, user.org_id) {
                (Role::Operator, None) => true,
                (Role::Owner | Role::Admin, Some(org)) => {
                    who.manages(org, user.group_path.as_deref())
                }
                _ => false,
            };
        if visible {
            Ok(user)
        } else {
            Err(IssuingError::NotFound("user"))
        }
    }

    /// A user the caller may change: admins only drivers, nobody themselves here.
    async fn managed_user(&self, who: &Principal, id: UserId) -> Result<UserRecord> {
        let user = self.visible_user(who, id).await?;
        if user.id == who.user_id {
            return Err(IssuingError::Forbidden("you cannot change your own account here"));
        }
        if who.role == Role::Admin && user.role != Role::Driver {
            return Err(IssuingError::Forbidden("admins manage drivers only"));
        }
        Ok(user)
    }

    pub async fn get_user(&self, who: &Principal, id: UserId) -> Result<UserView> {
        Ok(UserView::from(&self.visible_user(who, id).await?))
    }

    pub async fn list_users(&self, who: &Principal, role: Option<Role>) -> Result<Vec<UserView>> {
        let filter = UserFilter { role, include_deactivated: true };
        let users = match who.role {
            Role::Operator => self.store.list_users(None, &Scope::default(), &filter).await?,
            _ => self.store.list_users(Some(who.org()?), &who.fleet_scope()?, &filter).await?,
        };
        Ok(users.iter().map(UserView::from).collect())
    }

    pub async fn update_user(
        &self,
        who: &Principal,
        id: UserId,
        req: &UpdateUser,
    ) -> Result<UserView> {
        let mut user = self.managed_user(who, id).await?;
        let before = UserView::from(&user);
        if let Some(name) = &req.name {
            user.name = validate::text("name", name, MAX_NAME_CHARS)?;
        }
        if let (Some(group), Some(org)) = (req.group_id, user.org_id) {
            if user.role == Role::Owner {
                return Err(FieldError::invalid("group_id", "owners manage the whole org").into());
            }
            if user.group_id != Some(group) {
                user.group_id = Some(self.managed_group(who, org, group, "group_id").await?);
                return self.save_user(who, &user, &before, Some(group)).await;
            }
        }
        self.save_updated_user(who, &user, &before).await
    }

    /// Changes the caller's own account: today only the language (any role may; audited as
    /// `user.updated` like other user changes, nothing written when nothing changes).
    pub async fn update_me(&self, who: &Principal, req: &UpdateMe) -> Result<UserView> {
        let mut user = self.store.get_user(who.user_id).await?;
        let before = UserView::from(&user);
        if let Some(code) = &req.language {
            user.language =
                code.parse().map_err(|()| FieldError::invalid("language", "must be en or ru"))?;
        }
        if UserView::from(&user) == before {
            return Ok(before);
        }
        self.save_updated_user(who, &user, &before).await
    }

    /// Writes a changed user with its `user.updated` audit event (before and after).
    async fn save_updated_user(
        &self,
        who: &Principal,
        user: &UserRecord,
        before: &UserView,
    ) -> Result<UserView> {
        self.save_user(who, user, before, None).await
    }

    /// `moved_to`: the group the user moves into, which must still be active at commit.
    async fn save_user(
        &self,
        who: &Principal,
        user: &UserRecord,
        before: &UserView,
        moved_to: Option<GroupId>,
    ) -> Result<UserView> {
        let after = UserView::from(user);
        let event = Audit { actor: who, at_us: now_us() }
            .on(user.org_id, "user", user.id.0, "user.updated")
            .before(before)
            .after(&after);
        let mut fx = Effects::audit(vec![event]);
        if let Some(org) = user.org_id {
            fx = fx.placing_into(org, moved_to);
        }
        self.store.update_user(user, fx).await?;
        Ok(after)
    }

    /// Sets the caller's own language (the console's EN/RU switch).
    pub async fn set_my_language(&self, who: &Principal, language: Language) -> Result<UserView> {
        let req = UpdateMe { language: Some(language.as_str().to_owned()) };
        self.update_me(who, &req).await
    }

    /// Deactivates a user: they cannot log in, and their sessions end now.
    pub async fn deactivate_user(&self, who: &Principal, id: UserId) -> Result<UserView> {
        let mut user = self.managed_user(who, id).await?;
        if user.status == UserStatus::Deactivated {
            return Err(IssuingError::conflict(
                "ALREADY_DEACTIVATED",
                "the user is already deactivated",
            ));
        }
        let before = UserView::from(&user);
        user.status = UserStatus::Deactivated;
        user.invite_hash = None;
        user.invite_expires_us = None;
        let after = UserView::from(&user);
        let now = now_us();
        let event = Audit { actor: who, at_us: now }
            .on(user.org_id, "user", user.id.0, "user.deactivated")
            .before(&before)
            .after(&after);
        self.store.update_user(&user, Effects::audit(vec![event])).await?;
        self.store.revoke_user_sessions(user.id, now).await?;
        Ok(after)
    }
}

/// The one refusal for a write that would put something into a deactivated group, whether
/// the service saw it first or the store's check at commit did.
pub(crate) fn group_deactivated() -> IssuingError {
    IssuingError::conflict("GROUP_DEACTIVATED", "the group is deactivated and takes nothing new")
}
