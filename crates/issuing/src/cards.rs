use crate::error::{IssuingError, NotFoundAs, Result};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::principal::Principal;
use crate::service::{now_us, reason, Audit, EventExt, Issuing};
use crate::views::{BindingView, CardView, EventView};
use domain::{CardId, CardStatus, FieldError, OrgId, Role, UserId, VehicleId};
use serde::Deserialize;
use store::{
    ActiveStatus, BindingRecord, CardFilter, CardRecord, Effects, Store, StoreError, UserStatus,
};

/// A fresh random PAN collides with an existing one with negligible probability; a few
/// retries turn "negligible" into "never" without looping forever on a broken HSM.
const PAN_COLLISION_RETRIES: usize = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueCard {
    pub group_id: Option<domain::GroupId>,
    pub driver_id: Option<UserId>,
    pub vehicle_id: Option<VehicleId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeCardStatus {
    pub status: CardStatus,
    pub reason: String,
}

/// The card's binding after the change: absent or `null` fields unbind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindCard {
    pub driver_id: Option<UserId>,
    pub vehicle_id: Option<VehicleId>,
}

struct NewCard {
    card: CardRecord,
    binding: Option<BindingRecord>,
    view: CardView,
    events: Vec<store::AuditEvent>,
}

/// `YYYY-MM` of the month `months` after the one containing `now_us`.
pub fn expiry_month(now_us: i64, months: u32) -> String {
    let now = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_us) * 1_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let index = now.year() * 12 + i32::from(u8::from(now.month())) - 1 + months as i32;
    format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1)
}

impl<S: Store> Issuing<S> {
    /// Issues a card at once: the HSM makes the PAN, the store keeps only its ciphertext,
    /// fingerprint and last four digits.
    pub async fn issue_card(
        &self,
        who: &Principal,
        req: &IssueCard,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<CardView>> {
        who.require(&[Role::Owner, Role::Admin], "only owners and admins issue cards")?;
        let org = who.org()?;
        // A retry answers as the first request did, even if the driver, vehicle or group
        // changed since: the card exists, and the key is this caller's own.
        if let Some(replayed) = idempotency::replay(&self.store, who, key).await? {
            return Ok(replayed);
        }
        let group = self.placement(who, org, req.group_id).await?;
        self.check_binding_targets(who, org, req.driver_id, req.vehicle_id).await?;
        for attempt in 1..=PAN_COLLISION_RETRIES {
            let new = self.new_card(who, org, group, req).await?;
            let record = idempotency::record(who, key, &new.view)?;
            let fx = Effects::audit(new.events).with_idempotency(record).placing_into(org, group);
            match self.store.create_card(&new.card, new.binding.as_ref(), fx).await {
                Err(StoreError::Duplicate("pan")) if attempt < PAN_COLLISION_RETRIES => continue,
                result => {
                    let result = result.map(|()| new.view);
                    return idempotency::settle(&self.store, who, key, result).await;
                }
            }
        }
        Err(IssuingError::Internal("PAN collided on every attempt".into()))
    }

    /// A card with a PAN fresh from the HSM, its first binding and audit events.
    async fn new_card(
        &self,
        who: &Principal,
        org: OrgId,
        group: Option<domain::GroupId>,
        req: &IssueCard,
    ) -> Result<NewCard> {
        let issued = self.hsm.generate_pan(&self.config.issuer_bin, self.config.pan_length).await?;
        let now = now_us();
        let card = CardRecord {
            id: CardId::new(),
            org_id: org,
            group_id: group,
            group_path: None,
            pan_ciphertext: issued.ciphertext,
            pan_fingerprint: issued.fingerprint.to_vec(),
            pan_last4: issued.last4,
            pan_key_version: i64::from(issued.key_version),
            expiry: expiry_month(now, self.config.card_validity_months),
            status: CardStatus::Active,
            status_reason: None,
            driver_id: req.driver_id,
            vehicle_id: req.vehicle_id,
            created_us: now,
            updated_us: now,
            version: 1,
        };
        let binding =
            (req.driver_id.is_some() || req.vehicle_id.is_some()).then(|| BindingRecord {
                id: uuid::Uuid::now_v7(),
                org_id: org,
                card_id: card.id,
                driver_id: req.driver_id,
                vehicle_id: req.vehicle_id,
                bound_us: now,
                unbound_us: None,
                actor_id: who.user_id,
            });
        let view = CardView::from(&card);
        let audit = Audit { actor: who, at_us: now };
        let mut events =
            vec![audit.on(Some(org), "card", card.id.0, "card.issued").card(card.id).after(&view)];
        if let Some(b) = &binding {
            let bound = BindingView::from(b);
            events.push(
                audit.on(Some(org), "binding", b.id, "card.bound").card(card.id).after(&bound),
            );
        }
        Ok(NewCard { card, binding, view, events })
    }

    /// The driver must be an active (or invited) driver and the vehicle an active vehicle,
    /// both inside the caller's scope.
    async fn check_binding_targets(
        &self,
        who: &Principal,
        org: OrgId,
        driver: Option<UserId>,
        vehicle: Option<VehicleId>,
    ) -> Result<()> {
        if let Some(id) = driver {
            let user = self.store.get_user(id).await;
            let ok = matches!(&user, Ok(u) if u.org_id == Some(org) && u.role == Role::Driver
                && u.status != UserStatus::Deactivated && who.manages(org, u.group_path.as_deref()));
            if !ok {
                return Err(FieldError::new(
                    "driver_id",
                    "NOT_FOUND",
                    "no such active driver in your scope",
                )
                .into());
            }
        }
        if let Some(id) = vehicle {
            let found = self.store.get_vehicle(org, id).await;
            let ok = matches!(&found, Ok(v) if v.status == ActiveStatus::Active
                && who.manages(org, v.group_path.as_deref()));
            if !ok {
                return Err(FieldError::new(
                    "vehicle_id",
                    "NOT_FOUND",
                    "no such active vehicle in your scope",
                )
                .into());
            }
        }
        Ok(())
    }

    /// A card the caller may read: owners and admins in scope, its bound driver, and fraud
    /// analysts (any org).
    pub async fn visible_card(&self, who: &Principal, id: CardId) -> Result<CardRecord> {
        let card = match (who.role, who.org_id) {
            (Role::FraudAnalyst, _) => self.store.get_card_any_org(id).await,
            (_, Some(org)) => self.store.get_card(org, id).await,
            _ => return Err(IssuingError::NotFound("card")),
        }
        .or_not_found("card")?;
        let visible = match who.role {
            Role::FraudAnalyst => true,
            Role::Driver => card.driver_id == Some(who.user_id),
            _ => who.manages(card.org_id, card.group_path.as_deref()),
        };
        if visible {
            Ok(card)
        } else {
            Err(IssuingError::NotFound("card"))
        }
    }

    /// A card the caller may change: owners and admins in scope.
    async fn managed_card(&self, who: &Principal, id: CardId) -> Result<CardRecord> {
        let card = self.visible_card(who, id).await?;
        if who.manages(card.org_id, card.group_path.as_deref()) {
            Ok(card)
        } else if matches!(who.role, Role::Driver | Role::FraudAnalyst) {
            // They can read this card; changing it is what their role may never do.
            Err(IssuingError::Forbidden("your role cannot change cards"))
        } else {
            Err(IssuingError::NotFound("card"))
        }
    }

    pub async fn get_card(&self, who: &Principal, id: CardId) -> Result<CardView> {
        Ok(CardView::from(&self.visible_card(who, id).await?))
    }

    pub async fn list_cards(
        &self,
        who: &Principal,
        status: Option<CardStatus>,
    ) -> Result<Vec<CardView>> {
        let org = who.org()?;
        let (scope, driver) = match who.role {
            Role::Driver => (store::Scope::default(), Some(who.user_id)),
            _ => (who.fleet_scope()?, None),
        };
        let filter = CardFilter { driver_id: driver, status };
        let cards = self.store.list_cards(org, &scope, &filter).await?;
        Ok(cards.iter().map(CardView::from).collect())
    }

    /// Moves a card through its life (`domain::CardStatus::transition`). Owners and admins
    /// in scope; only owners unblock; fraud analysts may block any card.
    pub async fn change_card_status(
        &self,
        who: &Principal,
        id: CardId,
        req: &ChangeCardStatus,
    ) -> Result<CardView> {
        let mut card = if who.role == Role::FraudAnalyst {
            if req.status != CardStatus::Blocked {
                return Err(IssuingError::Forbidden("fraud analysts may only block cards"));
            }
            self.visible_card(who, id).await?
        } else {
            self.managed_card(who, id).await?
        };
        let why = reason("reason", Some(&req.reason))?;
        if card.status.needs_owner(req.status) && who.role != Role::Owner {
            return Err(IssuingError::Forbidden("only the fleet owner can unblock a card"));
        }
        let before = CardView::from(&card);
        card.status = card
            .status
            .transition(req.status)
            .map_err(|e| IssuingError::conflict("INVALID_TRANSITION", e.to_string()))?;
        card.status_reason = why.clone();
        card.updated_us = now_us();
        let after = CardView::from(&card);
        let action = format!("card.{}", req.status.as_str());
        let event = Audit { actor: who, at_us: card.updated_us }
            .on(Some(card.org_id), "card", card.id.0, &action)
            .card(card.id)
            .reason(why.as_deref())
            .before(&before)
            .after(&after);
        self.store.update_card(&card, None, Effects::audit(vec![event])).await?;
        Ok(after)
    }

    /// Binds the card to a driver and/or vehicle, replacing the current binding (re-bind).
    /// The previous binding stays in the history.
    pub async fn bind_card(&self, who: &Principal, id: CardId, req: &BindCard) -> Result<CardView> {
        let mut card = self.managed_card(who, id).await?;
        if card.status == CardStatus::Closed {
            return Err(IssuingError::conflict("CARD_CLOSED", "a closed card cannot be re-bound"));
        }
        if card.driver_id == req.driver_id && card.vehicle_id == req.vehicle_id {
            return Err(IssuingError::conflict(
                "BINDING_UNCHANGED",
                "the card is already bound so",
            ));
        }
        self.check_binding_targets(who, card.org_id, req.driver_id, req.vehicle_id).await?;
        let now = now_us();
        let before = CardView::from(&card);
        card.driver_id = req.driver_id;
        card.vehicle_id = req.vehicle_id;
        card.updated_us = now;
        let binding = BindingRecord {
            id: uuid::Uuid::now_v7(),
            org_id: card.org_id,
            card_id: card.id,
            driver_id: req.driver_id,
            vehicle_id: req.vehicle_id,
            bound_us: now,
            unbound_us: None,
            actor_id: who.user_id,
        };
        let after = CardView::from(&card);
        let action = if req.driver_id.is_none() && req.vehicle_id.is_none() {
            "card.unbound"
        } else {
            "card.rebound"
        };
        let event = Audit { actor: who, at_us: now }
            .on(Some(card.org_id), "binding", binding.id, action)
            .card(card.id)
            .before(&before)
            .after(&after);
        self.store.update_card(&card, Some(&binding), Effects::audit(vec![event])).await?;
        Ok(after)
    }

    pub async fn card_bindings(&self, who: &Principal, id: CardId) -> Result<Vec<BindingView>> {
        let card = self.managed_or_analyst(who, id).await?;
        let history = self.store.list_bindings(card.org_id, card.id).await?;
        Ok(history.iter().map(BindingView::from).collect())
    }

    pub async fn card_events(&self, who: &Principal, id: CardId) -> Result<Vec<EventView>> {
        let card = self.managed_or_analyst(who, id).await?;
        let events = self.store.list_card_events(card.org_id, card.id).await?;
        Ok(events.iter().map(EventView::from).collect())
    }

    async fn managed_or_analyst(&self, who: &Principal, id: CardId) -> Result<CardRecord> {
        match who.role {
            Role::FraudAnalyst => self.visible_card(who, id).await,
            _ => self.managed_card(who, id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::expiry_month;

    #[test]
    fn expiry_counts_calendar_months() {
        // 2026-11-23T00:00:00Z
        let now = 1_795_392_000_000_000;
        assert_eq!(expiry_month(now, 36), "2029-11");
        assert_eq!(expiry_month(now, 1), "2026-12");
        assert_eq!(expiry_month(now, 2), "2027-01");
        assert_eq!(expiry_month(now, 14), "2028-01");
    }
}
