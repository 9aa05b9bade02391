//! The fraud rules inside the authorization (DESIGN §6): the features snapshot is built from
//! one per-card row kept by the commits plus the station, the bound vehicle and the card's
//! last re-bind/unblock; the rule set is the org's override or `fraud::default_rules()`.
//! What a fill adds to the row is described here and applied by the same commit.

use crate::Authorizer;
use domain::Product;
use fraud::{CardHistory, Features, GeoPoint, LastFill, RuleConfig, Vehicle};
use issuing::{IssuingError, Result};
use store::{
    AlertRecord, AlertStatus, AuthorizationRecord, AuthorizerStore, CardFeaturesRecord, CardRecord,
    FeatureEvent, FeatureUpdate, StationRecord, Store,
};

/// What the pipeline knows about the fill when it screens it.
pub(crate) struct Fill<'a> {
    pub card: &'a CardRecord,
    /// The card's bound vehicle, read once for the limits and the rules.
    pub vehicle: Option<&'a store::VehicleRecord>,
    pub station: &'a StationRecord,
    pub now_us: i64,
    pub local_hour: u8,
    pub local_weekday: time::Weekday,
    pub amount_minor: i64,
    pub volume_ml: i64,
    pub product: Product,
}

pub(crate) struct Screened {
    pub decision: fraud::Decision,
}

/// Judges a fill with the org's rules on the snapshot already read for its decision
/// (`store::DecisionInputs`): no I/O here.
pub(crate) fn screen(fill: &Fill<'_>, inputs: &store::DecisionInputs) -> Result<Screened> {
    let row = features_row(fill.card, inputs.features.clone());
    let features = features(fill, &row, inputs.rebind_us, inputs.unblock_us);
    let rules = rules_from(&inputs.fraud_rules)?;
    Ok(Screened { decision: fraud::evaluate(&rules, &features) })
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    /// The org's rule set: its stored overrides, or the defaults when it has none.
    pub(crate) async fn rules_of(&self, org: domain::OrgId) -> Result<Vec<RuleConfig>> {
        rules_from(&self.store().fraud_rules(org).await?)
    }
}

fn rules_from(stored: &[store::FraudRuleRecord]) -> Result<Vec<RuleConfig>> {
    if stored.is_empty() {
        return Ok(fraud::default_rules());
    }
    stored
        .iter()
        .map(|r| serde_json::from_str(&r.config))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| IssuingError::Internal(format!("stored fraud rule: {e}")))
}

/// The card's row, or an empty one (the first fill of a card has no history).
fn features_row(card: &CardRecord, row: Option<CardFeaturesRecord>) -> CardFeaturesRecord {
    row.unwrap_or_else(|| CardFeaturesRecord {
        card_id: Some(card.id),
        org_id: Some(card.org_id),
        usual_hours: vec![0; fraud::features::HOURS_PER_DAY],
        ..CardFeaturesRecord::default()
    })
}

fn features(
    fill: &Fill<'_>,
    row: &CardFeaturesRecord,
    rebind_us: Option<i64>,
    unblock_us: Option<i64>,
) -> Features {
    Features {
        now_s: fill.now_us / 1_000_000,
        local_hour: fill.local_hour,
        local_weekday: fill.local_weekday.into(),
        amount_minor: fill.amount_minor,
        volume_ml: fill.volume_ml,
        product: fill.product,
        station_id: fill.station.id.to_string(),
        station_location: geo(fill.station.lat_e6, fill.station.lon_e6),
        card: history(row, rebind_us, unblock_us),
        vehicle: fill.vehicle.map(|v| Vehicle {
            tank_capacity_ml: Some(v.tank_capacity_ml),
            products: Some(v.products.clone()),
        }),
    }
}

fn geo(lat_e6: i64, lon_e6: i64) -> Option<GeoPoint> {
    Some(GeoPoint {
        lat_micro: i32::try_from(lat_e6).ok()?,
        lon_micro: i32::try_from(lon_e6).ok()?,
    })
}

fn history(
    row: &CardFeaturesRecord,
    rebind_us: Option<i64>,
    unblock_us: Option<i64>,
) -> CardHistory {
    let mut usual_hours = [0u32; fraud::features::HOURS_PER_DAY];
    for (slot, n) in usual_hours.iter_mut().zip(&row.usual_hours) {
        *slot = *n;
    }
    CardHistory {
        recent_fill_times_s: row.recent_fills.clone(),
        last_fill: row.last_fill_s.map(|time_s| LastFill {
            time_s,
            station_location: row.last_station.and_then(|(lat, lon)| geo(lat, lon)),
        }),
        usual_hours,
        past_amount_sum_minor: row.amount_sum,
        past_amount_count: u32::try_from(row.amount_count).unwrap_or(u32::MAX),
        cryptogram_failure_times_s: row.failure_times.clone(),
        limit_decline_times_s: row.decline_times.clone(),
        last_rebind_s: rebind_us.map(|us| us / 1_000_000),
        last_unblock_s: unblock_us.map(|us| us / 1_000_000),
    }
}

fn update(org_id: domain::OrgId, card_id: domain::CardId, event: FeatureEvent) -> FeatureUpdate {
    FeatureUpdate {
        card_id,
        org_id,
        event,
        keep: fraud::features::MAX_RECENT_FILLS.min(fraud::features::MAX_RECENT_FAILURES),
        hours: fraud::features::HOURS_PER_DAY,
    }
}

/// What an approved fill adds to the card's features.
pub(crate) fn approval(fill: &Fill<'_>) -> FeatureUpdate {
    let event = FeatureEvent::Fill {
        time_s: fill.now_us / 1_000_000,
        hour: fill.local_hour,
        amount_minor: fill.amount_minor,
        station: (fill.station.lat_e6, fill.station.lon_e6),
    };
    update(fill.card.org_id, fill.card.id, event)
}

/// A limit decline: `RepeatedFailures` counts them.
pub(crate) fn limit_decline(card: &CardRecord, now_us: i64) -> FeatureUpdate {
    update(card.org_id, card.id, FeatureEvent::LimitDecline { time_s: now_us / 1_000_000 })
}

/// A cryptogram failure on a token of the card: `RepeatedFailures` counts them too.
pub(crate) fn cryptogram_failure(
    (org_id, card_id): (domain::OrgId, domain::CardId),
    now_us: i64,
) -> FeatureUpdate {
    update(org_id, card_id, FeatureEvent::CryptogramFailure { time_s: now_us / 1_000_000 })
}

/// One open alert per acting hit of the decision.
pub(crate) fn alerts_of(
    decision: &fraud::Decision,
    record: &AuthorizationRecord,
) -> Vec<AlertRecord> {
    let (Some(org_id), Some(card_id)) = (record.org_id, record.card_id) else { return Vec::new() };
    decision
        .alerts()
        .into_iter()
        .filter_map(|entry| {
            let hit = entry.hit.as_ref()?;
            Some(AlertRecord {
                id: uuid::Uuid::now_v7(),
                org_id,
                authorization_id: record.id,
                card_id,
                rule_id: entry.rule_id.clone(),
                risk: i64::from(hit.score),
                status: AlertStatus::Open,
                assignee_id: None,
                created_us: record.created_us,
                resolved_us: None,
                reason: hit.reason.clone(),
                observed: hit.observed.to_string(),
            })
        })
        .collect()
}
