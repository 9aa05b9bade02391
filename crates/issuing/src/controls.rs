//! Spending controls per level, and the effective control of a card: the tightest of its
//! chain org → groups (root to leaf) → driver → vehicle → card.

use crate::error::{IssuingError, NotFoundAs, Result};
use crate::principal::Principal;
use crate::service::{now_us, Audit, EventExt, Issuing};
use crate::views::{rfc3339, ControlsView, EffectiveControlsView};
use domain::controls::{effective, Controls, Level, LevelRef};
use domain::{CardId, GroupId, OrgId, Role, UserId, VehicleId};
use store::{ControlsRecord, Effects, Store};

/// The object a controls document is attached to.
#[derive(Debug, Clone, Copy)]
pub struct SubjectRef {
    pub level: Level,
    pub id: uuid::Uuid,
}

fn parse_document(record: &ControlsRecord) -> Result<Controls> {
    serde_json::from_str(&record.document)
        .map_err(|e| IssuingError::Internal(format!("stored controls do not parse: {e}")))
}

impl<S: Store> Issuing<S> {
    /// The org a subject lives in, if the caller may read (or, with `write`, set) controls
    /// on it. Admins work inside their subtree; only owners at org level and on an admin's
    /// own group.
    async fn controllable(
        &self,
        who: &Principal,
        subject: SubjectRef,
        write: bool,
    ) -> Result<(OrgId, Option<CardId>)> {
        who.require(&[Role::Owner, Role::Admin], "only owners and admins set controls")?;
        let org = who.org()?;
        match subject.level {
            Level::Org if who.role == Role::Owner && subject.id == org.0 => Ok((org, None)),
            Level::Org => Err(IssuingError::NotFound("org")),
            Level::Group => {
                self.get_group(who, GroupId(subject.id)).await?;
                // An admin's own group is capped by the owner: an admin tightens below it.
                if write && who.role == Role::Admin && who.group_id == Some(GroupId(subject.id)) {
                    return Err(IssuingError::Forbidden(
                        "only the owner sets your own group's controls",
                    ));
                }
                Ok((org, None))
            }
            Level::Driver => {
                let user = self.get_user(who, UserId(subject.id)).await?;
                if user.role != Role::Driver || user.id == who.user_id {
                    return Err(IssuingError::NotFound("driver"));
                }
                Ok((org, None))
            }
            Level::Vehicle => {
                self.visible_vehicle(who, VehicleId(subject.id)).await.map(|_| (org, None))
            }
            Level::Card => {
                let card = self.visible_card(who, CardId(subject.id)).await?;
                if !who.manages(card.org_id, card.group_path.as_deref()) {
                    return Err(IssuingError::NotFound("card"));
                }
                Ok((org, Some(card.id)))
            }
        }
    }

    pub async fn get_controls(&self, who: &Principal, subject: SubjectRef) -> Result<ControlsView> {
        let (org, _) = self.controllable(who, subject, false).await?;
        let stored = self.store.get_controls(org, &[(subject.level, subject.id)]).await?;
        let (controls, updated) = match stored.first() {
            Some(r) => (parse_document(r)?, Some(rfc3339(r.updated_us))),
            None => (Controls::default(), None),
        };
        Ok(ControlsView {
            level: subject.level,
            subject_id: subject.id,
            controls,
            updated_at: updated,
        })
    }

    /// Replaces the controls of one level (validated first; an empty document lifts them).
    pub async fn set_controls(
        &self,
        who: &Principal,
        subject: SubjectRef,
        controls: Controls,
    ) -> Result<ControlsView> {
        controls.validate()?;
        let (org, card) = self.controllable(who, subject, true).await?;
        let stored = self.store.get_controls(org, &[(subject.level, subject.id)]).await?;
        let before = stored.first().map(parse_document).transpose()?;
        let now = now_us();
        let record = ControlsRecord {
            org_id: org,
            level: subject.level,
            subject_id: subject.id,
            document: serde_json::to_string(&controls)
                .map_err(|e| IssuingError::Internal(format!("json: {e}")))?,
            updated_us: now,
            version: stored.first().map_or(0, |r| r.version),
        };
        let view = ControlsView {
            level: subject.level,
            subject_id: subject.id,
            controls,
            updated_at: Some(rfc3339(now)),
        };
        let action = format!("controls.{}.set", subject.level.as_str());
        let mut event = Audit { actor: who, at_us: now }
            .on(Some(org), "controls", subject.id, &action)
            .after(&view.controls);
        if let Some(before) = &before {
            event = event.before(before);
        }
        if let Some(card) = card {
            event = event.card(card);
        }
        self.store.put_controls(&record, Effects::audit(vec![event])).await?;
        Ok(view)
    }

    /// The effective control of a card with the level each part comes from. Readable by
    /// whoever may read the card, its driver included ("how much can I still fuel?").
    pub async fn effective_controls(
        &self,
        who: &Principal,
        id: CardId,
    ) -> Result<EffectiveControlsView> {
        let card = self.visible_card(who, id).await?;
        let org = self.store.get_org(card.org_id).await.or_not_found("org")?;
        let (chain, effective) = self.effective_of(&card).await?;
        Ok(EffectiveControlsView { card_id: card.id, currency: org.currency, chain, effective })
    }

    /// The effective control of a card and the chain it was read from, with no caller
    /// checks: for the authorizer, which has authenticated the terminal instead.
    pub async fn effective_of(
        &self,
        card: &store::CardRecord,
    ) -> Result<(Vec<LevelRef>, domain::controls::Effective)> {
        let stored = self.store.get_controls(card.org_id, &control_subjects(card)).await?;
        effective_from_stored(card, &stored)
    }
}

/// The subjects whose stored controls make up a card's effective control, broadest first;
/// for a caller that reads them together with the rest of its snapshot (the authorizer).
pub fn control_subjects(card: &store::CardRecord) -> Vec<(Level, uuid::Uuid)> {
    chain_of(card).iter().map(|l| (l.level, l.id)).collect()
}

/// The effective control of a card from the stored controls of its [`control_subjects`].
pub fn effective_from_stored(
    card: &store::CardRecord,
    stored: &[store::ControlsRecord],
) -> Result<(Vec<LevelRef>, domain::controls::Effective)> {
    let chain = chain_of(card);
    let mut documents = Vec::with_capacity(chain.len());
    for link in &chain {
        let found = stored.iter().find(|r| r.level == link.level && r.subject_id == link.id);
        if let Some(record) = found {
            documents.push((*link, parse_document(record)?));
        }
    }
    let links: Vec<_> = documents.iter().map(|(l, c)| (*l, c)).collect();
    let effective = effective(&links);
    Ok((chain, effective))
}

/// Broadest first: org, its groups from the root down to the card's, the bound driver and
/// vehicle, the card.
fn chain_of(card: &store::CardRecord) -> Vec<LevelRef> {
    let mut chain = vec![LevelRef { level: Level::Org, id: card.org_id.0 }];
    let groups = card.group_path.as_deref().unwrap_or_default().split('/');
    chain.extend(
        groups.filter_map(|g| g.parse().ok()).map(|id| LevelRef { level: Level::Group, id }),
    );
    chain.extend(card.driver_id.map(|d| LevelRef { level: Level::Driver, id: d.0 }));
    chain.extend(card.vehicle_id.map(|v| LevelRef { level: Level::Vehicle, id: v.0 }));
    chain.push(LevelRef { level: Level::Card, id: card.id.0 });
    chain
}
