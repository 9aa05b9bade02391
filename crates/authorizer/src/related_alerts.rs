//! Alerts related to one alert through its driver or its station, for the analyst's alert
//! page (the same card's other alerts the page already lists). Read-only, analysts only,
//! within the alert's fleet.

use crate::review::AlertView;
use crate::Authorizer;
use domain::{StationId, UserId};
use issuing::{Principal, Result};
use std::collections::HashSet;
use store::{AlertFilter, AuthorizationFilter, AuthorizerStore, Store};
use uuid::Uuid;

/// Most fills and alerts one look-up reads (the newest first).
const RELATED_LIMIT: i64 = 200;

#[derive(Debug, Clone, serde::Serialize)]
pub struct RelatedAlerts {
    /// The driver who held the card at the alert's fill, when the card's current driver is
    /// that driver (the binding history says so); `None` when unknown or re-bound since.
    pub driver_id: Option<UserId>,
    pub station_id: StationId,
    /// Alerts on the driver's fills on other cards.
    pub by_driver: Vec<AlertView>,
    /// Alerts on other cards' fills at the same station.
    pub by_station: Vec<AlertView>,
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    /// Other alerts of the alert's fleet on fills by the same driver or at the same
    /// station, on other cards, among the newest [`RELATED_LIMIT`]. Analysts only (403),
    /// 404 for an unknown alert, as `GET /v1/alerts/{id}`.
    pub async fn related_alerts(&self, who: &Principal, id: Uuid) -> Result<RelatedAlerts> {
        let detail = self.alert(who, id).await?;
        let alert = &detail.alert;
        let org = alert.org_id;
        let station_id = detail.authorization.station_id;
        let fills_of = |filter: AuthorizationFilter| async move {
            let rows = self.store().search_authorizations(org, &filter, RELATED_LIMIT).await?;
            Ok::<HashSet<_>, issuing::IssuingError>(rows.iter().map(|a| a.id).collect())
        };
        let at_station =
            fills_of(AuthorizationFilter { station_id: Some(station_id), ..Default::default() })
                .await?;
        // The store knows who held a card at each fill (binding history) but not by
        // authorization: the card's current driver is the alert's driver when the fill is
        // among that driver's fills.
        let card = self.store().get_card_any_org(alert.card_id).await?;
        let mut driver_id = None;
        let mut by_driver_fills = HashSet::new();
        if let Some(driver) = card.driver_id {
            let theirs =
                fills_of(AuthorizationFilter { driver_id: Some(driver), ..Default::default() })
                    .await?;
            if theirs.contains(&alert.authorization_id) {
                driver_id = Some(driver);
                by_driver_fills = theirs;
            }
        }
        let filter = AlertFilter { status: None, org_id: Some(org), rule_id: None };
        let alerts = self.store().list_alerts(&filter, RELATED_LIMIT).await?;
        let others = || alerts.iter().filter(|a| a.id != alert.id && a.card_id != alert.card_id);
        Ok(RelatedAlerts {
            driver_id,
            station_id,
            by_driver: others()
                .filter(|a| by_driver_fills.contains(&a.authorization_id))
                .map(AlertView::from)
                .collect(),
            by_station: others()
                .filter(|a| at_station.contains(&a.authorization_id))
                .map(AlertView::from)
                .collect(),
        })
    }
}
