use crate::error::{IssuingError, NotFoundAs, Result};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::principal::Principal;
use crate::service::{now_us, Audit, EventExt, Issuing, MAX_NAME_CHARS};
use crate::views::GroupView;
use domain::{validate, FieldError, GroupId, Role};
use serde::Deserialize;
use store::{ActiveStatus, Effects, GroupContents, GroupRecord, Store};

/// Deepest nesting of groups (org → region → depot → shift ...), so paths stay short.
pub const MAX_GROUP_DEPTH: usize = 8;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    /// The parent group; absent for a top-level group (owners only).
    pub parent_id: Option<GroupId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    pub name: String,
}

impl<S: Store> Issuing<S> {
    pub async fn create_group(
        &self,
        who: &Principal,
        req: &CreateGroup,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<GroupView>> {
        who.require(&[Role::Owner, Role::Admin], "only owners and admins manage groups")?;
        if let Some(replayed) = idempotency::replay(&self.store, who, key).await? {
            return Ok(replayed);
        }
        let org = who.org()?;
        let parent_path = match req.parent_id {
            Some(parent) => {
                let id = self.managed_group(who, org, parent, "parent_id").await?;
                Some(self.store.get_group(org, id).await?.path)
            }
            None if who.role == Role::Owner => None,
            None => {
                return Err(FieldError::invalid(
                    "parent_id",
                    "admins create groups inside their own",
                )
                .into())
            }
        };
        let id = GroupId::new();
        let path = format!("{}{id}/", parent_path.as_deref().unwrap_or("/"));
        if path.matches('/').count() > MAX_GROUP_DEPTH + 1 {
            return Err(FieldError::out_of_range(
                "parent_id",
                format!("groups nest at most {MAX_GROUP_DEPTH} deep"),
            )
            .into());
        }
        let now = now_us();
        let group = GroupRecord {
            id,
            org_id: org,
            parent_id: req.parent_id,
            path,
            name: validate::text("name", &req.name, MAX_NAME_CHARS)?,
            status: ActiveStatus::Active,
            created_us: now,
            version: 1,
        };
        let view = GroupView::from(&group);
        let event = Audit { actor: who, at_us: now }
            .on(Some(org), "group", id.0, "group.created")
            .after(&view);
        let fx = Effects::audit(vec![event])
            .with_idempotency(idempotency::record(who, key, &view)?)
            .placing_into(org, req.parent_id);
        let result = self.store.create_group(&group, fx).await.map(|()| view);
        idempotency::settle(&self.store, who, key, result).await
    }

    async fn visible_group(&self, who: &Principal, id: GroupId) -> Result<GroupRecord> {
        let org = who.org().map_err(|_| IssuingError::NotFound("group"))?;
        let group = self.store.get_group(org, id).await.or_not_found("group")?;
        if who.manages(org, Some(&group.path)) {
            Ok(group)
        } else {
            Err(IssuingError::NotFound("group"))
        }
    }

    pub async fn get_group(&self, who: &Principal, id: GroupId) -> Result<GroupView> {
        Ok(GroupView::from(&self.visible_group(who, id).await?))
    }

    pub async fn list_groups(&self, who: &Principal) -> Result<Vec<GroupView>> {
        let groups = self.store.list_groups(who.org()?, &who.fleet_scope()?).await?;
        Ok(groups.iter().map(GroupView::from).collect())
    }

    pub async fn update_group(
        &self,
        who: &Principal,
        id: GroupId,
        req: &UpdateGroup,
    ) -> Result<GroupView> {
        let mut group = self.visible_group(who, id).await?;
        let before = GroupView::from(&group);
        group.name = validate::text("name", &req.name, MAX_NAME_CHARS)?;
        let after = GroupView::from(&group);
        let event = Audit { actor: who, at_us: now_us() }
            .on(Some(group.org_id), "group", id.0, "group.updated")
            .before(&before)
            .after(&after);
        self.store.update_group(&group, Effects::audit(vec![event])).await?;
        Ok(after)
    }

    /// Deactivates a depot the caller manages once nothing in it is live: no child group
    /// still active, no user or vehicle not deactivated, no card not closed (409
    /// `GROUP_NOT_EMPTY` naming what is left). Afterwards it takes nothing new
    /// (`GROUP_DEACTIVATED`); its history (cards, fills, audit) stays readable.
    pub async fn deactivate_group(&self, who: &Principal, id: GroupId) -> Result<GroupView> {
        who.require(&[Role::Owner, Role::Admin], "only owners and admins manage groups")?;
        let mut group = self.visible_group(who, id).await?;
        if group.status == ActiveStatus::Deactivated {
            return Err(IssuingError::conflict(
                "ALREADY_DEACTIVATED",
                "the group is already deactivated",
            ));
        }
        let before = GroupView::from(&group);
        group.status = ActiveStatus::Deactivated;
        let after = GroupView::from(&group);
        let event = Audit { actor: who, at_us: now_us() }
            .on(Some(group.org_id), "group", id.0, "group.deactivated")
            .before(&before)
            .after(&after);
        let stored = &GroupRecord { status: ActiveStatus::Active, ..group };
        match self.store.deactivate_group(stored, Effects::audit(vec![event])).await? {
            Ok(()) => Ok(after),
            Err(left) => Err(IssuingError::conflict("GROUP_NOT_EMPTY", not_empty(&left))),
        }
    }
}

/// "the group still holds 2 cards not closed and 1 user": what to close or move first.
fn not_empty(left: &GroupContents) -> String {
    let parts: Vec<String> = [
        (left.groups, "active child group", "active child groups"),
        (left.users, "user", "users"),
        (left.vehicles, "vehicle", "vehicles"),
        (left.cards, "card not closed", "cards not closed"),
    ]
    .iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
    .collect();
    format!("the group still holds {}; deactivate, move or close them first", parts.join(", "))
}
