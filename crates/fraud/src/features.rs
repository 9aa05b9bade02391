//! The snapshot of facts the rules read. The authorizer loads it before the decision from
//! per-card, per-vehicle and per-station state kept up to date on every authorization, so no
//! rule ever needs a slow query on the hot path. Every value is an integer or an `Option`.

use crate::geo::GeoPoint;
use domain::controls::Weekday;
use domain::Product;
use serde::{Deserialize, Serialize};

/// Most past fill times the authorizer keeps per card (newest first is not required).
pub const MAX_RECENT_FILLS: usize = 20;
/// Most past failure times the authorizer keeps per card, per kind of failure.
pub const MAX_RECENT_FAILURES: usize = 20;
/// Buckets of the usual-hours histogram: one per local hour of the day.
pub const HOURS_PER_DAY: usize = 24;
/// How far back the usual-hours histogram and the amount average look.
pub const HISTORY_DAYS: u32 = 90;

/// Everything the rules know about the fill being authorized. History never includes the
/// fill being authorized itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Server time of the authorization, unix seconds.
    pub now_s: i64,
    /// Hour of day at the station, 0..=23 (station local time, as for time windows).
    pub local_hour: u8,
    pub local_weekday: Weekday,
    /// Requested (or pre-set) amount in minor units of the org's currency.
    pub amount_minor: i64,
    /// Requested volume, or the volume the requested amount buys at the pump price.
    pub volume_ml: i64,
    pub product: Product,
    pub station_id: String,
    /// `None` when the station has no known coordinates.
    pub station_location: Option<GeoPoint>,
    pub card: CardHistory,
    /// `None` when no vehicle is bound to the card.
    pub vehicle: Option<Vehicle>,
}

/// What the card did before this fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardHistory {
    /// Times (unix s) of the card's last ≤ `MAX_RECENT_FILLS` approved fills.
    pub recent_fill_times_s: Vec<i64>,
    pub last_fill: Option<LastFill>,
    /// Approved fills per station-local hour over the last `HISTORY_DAYS` days.
    pub usual_hours: [u32; HOURS_PER_DAY],
    /// Sum and count of approved fill amounts over the last `HISTORY_DAYS` days: the rule
    /// needs the average, and sum + count keep it exact in integers.
    pub past_amount_sum_minor: i64,
    pub past_amount_count: u32,
    /// Times (unix s) of the last ≤ `MAX_RECENT_FAILURES` cryptogram failures. Times rather
    /// than a count over a fixed hour so the rule's own window decides what is recent.
    pub cryptogram_failure_times_s: Vec<i64>,
    /// Times (unix s) of the last ≤ `MAX_RECENT_FAILURES` limit declines.
    pub limit_decline_times_s: Vec<i64>,
    /// When the card was last re-bound to a device, unix s.
    pub last_rebind_s: Option<i64>,
    /// When the card was last unblocked (or unsuspended), unix s.
    pub last_unblock_s: Option<i64>,
}

/// The card's previous approved fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastFill {
    pub time_s: i64,
    /// `None` when that station has no known coordinates.
    pub station_location: Option<GeoPoint>,
}

/// The vehicle bound to the card. `None` fields were not recorded for the vehicle, and the
/// rules that need them do not fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vehicle {
    pub tank_capacity_ml: Option<i64>,
    pub products: Option<Vec<Product>>,
}

/// A plain fill that no default rule flags: a diesel van at its usual hour, nothing recent.
#[cfg(test)]
pub(crate) fn sample() -> Features {
    let mut usual_hours = [0; HOURS_PER_DAY];
    usual_hours[9] = 40;
    Features {
        now_s: 1_750_000_000,
        local_hour: 9,
        local_weekday: Weekday::Tue,
        amount_minor: 8_000,
        volume_ml: 45_000,
        product: Product::Diesel,
        station_id: "st-berlin-1".to_owned(),
        station_location: Some(GeoPoint { lat_micro: 52_520_008, lon_micro: 13_404_954 }),
        card: CardHistory {
            recent_fill_times_s: vec![],
            last_fill: None,
            usual_hours,
            past_amount_sum_minor: 40 * 7_500,
            past_amount_count: 40,
            cryptogram_failure_times_s: vec![],
            limit_decline_times_s: vec![],
            last_rebind_s: None,
            last_unblock_s: None,
        },
        vehicle: Some(Vehicle {
            tank_capacity_ml: Some(80_000),
            products: Some(vec![Product::Diesel, Product::Adblue]),
        }),
    }
}
