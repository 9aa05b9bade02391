//! The fleet's read-only view of the alerts on its own cards, for the owner's or admin's
//! dashboard ("open alerts on their cards"). Working the alerts stays with the fraud team
//! (`review.rs`); a fleet only sees that its cards are under review.

use crate::review::AlertView;
use crate::Authorizer;
use domain::CardId;
use issuing::{Principal, Result};
use std::collections::HashSet;
use store::{AlertFilter, AlertStatus, AuthorizerStore, Store};

/// Most alerts of each status one fleet listing reads.
const FLEET_ALERTS_LIMIT: i64 = 200;

impl<S: Store + AuthorizerStore> Authorizer<S> {
    /// Open and taken alerts on the cards the caller manages (owners: the org's; admins:
    /// their depots'), highest risk first. Owners and admins only (403 otherwise).
    pub async fn fleet_open_alerts(&self, who: &Principal) -> Result<Vec<AlertView>> {
        who.fleet_scope()?;
        let org = who.org()?;
        let cards: HashSet<CardId> =
            self.issuing.list_cards(who, None).await?.iter().map(|c| c.id).collect();
        let mut alerts = Vec::new();
        for status in [AlertStatus::Open, AlertStatus::Taken] {
            let filter = AlertFilter { status: Some(status), org_id: Some(org), rule_id: None };
            let rows = self.store().list_alerts(&filter, FLEET_ALERTS_LIMIT).await?;
            alerts.extend(rows.iter().filter(|a| cards.contains(&a.card_id)).map(AlertView::from));
        }
        alerts.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| a.created_at.cmp(&b.created_at)));
        Ok(alerts)
    }
}
