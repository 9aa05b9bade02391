use crate::error::{IssuingError, NotFoundAs, Result};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::principal::Principal;
use crate::service::{now_us, Audit, EventExt, Issuing, MAX_NAME_CHARS};
use crate::users::{new_invite, NewOwner};
use crate::views::{CreatedOrgView, OrgView};
use domain::{validate, Currency, OrgId, Role};
use serde::Deserialize;
use store::{Effects, OrgRecord, Store};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    pub name: String,
    pub currency: String,
    pub time_zone: String,
    pub owner: NewOwner,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    pub name: Option<String>,
    pub time_zone: Option<String>,
}

impl<S: Store> Issuing<S> {
    /// Onboards a fleet company with its first owner (invited). Operators only.
    pub async fn create_org(
        &self,
        who: &Principal,
        req: &CreateOrg,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<CreatedOrgView>> {
        who.require(&[Role::Operator], "only platform operators onboard fleets")?;
        if let Some(replayed) = idempotency::replay(&self.store, who, key).await? {
            return Ok(replayed);
        }
        let now = now_us();
        let org = OrgRecord {
            id: OrgId::new(),
            name: validate::text("name", &req.name, MAX_NAME_CHARS)?,
            currency: Currency::parse("currency", &req.currency)?,
            time_zone: validate::time_zone("time_zone", &req.time_zone)?,
            created_us: now,
            version: 1,
        };
        let (owner, invite) = new_invite(
            &req.owner.email,
            &req.owner.name,
            Role::Owner,
            Some(org.id),
            None,
            now,
            self.config.invite_ttl_secs,
        )
        .map_err(|e| IssuingError::Invalid(e.within("owner")))?;
        let view = CreatedOrgView { org: OrgView::from(&org), owner: invite };
        let audit = Audit { actor: who, at_us: now };
        let events = vec![
            audit.on(Some(org.id), "org", org.id.0, "org.created").after(&view.org),
            audit.on(Some(org.id), "user", owner.id.0, "user.created").after(&view.owner.user),
        ];
        // The replay copy withholds the owner's invite token (see `InvitedUserView`).
        let replay = CreatedOrgView { org: view.org.clone(), owner: view.owner.withheld() };
        let fx = Effects::audit(events).with_idempotency(idempotency::record(who, key, &replay)?);
        let result = self.store.create_org(&org, &owner, fx).await.map(|()| view);
        idempotency::settle(&self.store, who, key, result).await
    }

    pub async fn get_org(&self, who: &Principal, id: OrgId) -> Result<OrgView> {
        if who.role != Role::Operator && who.org_id != Some(id) {
            return Err(IssuingError::NotFound("org"));
        }
        Ok(OrgView::from(&self.store.get_org(id).await.or_not_found("org")?))
    }

    pub async fn list_orgs(&self, who: &Principal) -> Result<Vec<OrgView>> {
        match who.role {
            Role::Operator => Ok(self.store.list_orgs().await?.iter().map(OrgView::from).collect()),
            _ => Ok(vec![self.get_org(who, who.org()?).await?]),
        }
    }

    /// Renames an org or moves its time zone. Operators, or the org's owner.
    pub async fn update_org(&self, who: &Principal, id: OrgId, req: &UpdateOrg) -> Result<OrgView> {
        let allowed =
            who.role == Role::Operator || (who.role == Role::Owner && who.org_id == Some(id));
        if !allowed && who.org_id == Some(id) {
            return Err(IssuingError::Forbidden("only the owner changes the org"));
        }
        if !allowed {
            return Err(IssuingError::NotFound("org"));
        }
        let mut org = self.store.get_org(id).await.or_not_found("org")?;
        let before = OrgView::from(&org);
        if let Some(name) = &req.name {
            org.name = validate::text("name", name, MAX_NAME_CHARS)?;
        }
        if let Some(tz) = &req.time_zone {
            org.time_zone = validate::time_zone("time_zone", tz)?;
        }
        let after = OrgView::from(&org);
        let audit = Audit { actor: who, at_us: now_us() };
        let event = audit.on(Some(id), "org", id.0, "org.updated").before(&before).after(&after);
        self.store.update_org(&org, Effects::audit(vec![event])).await?;
        Ok(after)
    }
}
