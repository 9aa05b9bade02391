//! The fuel fraud rules of DESIGN §6. Each rule is a pure function of its parameters and a
//! features snapshot; a hit carries a risk score, the values the rule saw and a reason.

use crate::features::{Features, MAX_RECENT_FAILURES, MAX_RECENT_FILLS};
use crate::geo::distance_m;
use domain::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Largest score, and the risk of a certain fraud.
pub const MAX_SCORE: u16 = 1000;
/// Longest window any rule may look back over: one day.
pub const MAX_WINDOW_SECS: u32 = 86_400;
/// Most a tank may be over-filled before `VolumeOverTank` fires: +100 %.
pub const MAX_TANK_MARGIN_PERMILLE: u32 = 1_000;
/// `RapidRefills` counts this fill plus at most `MAX_RECENT_FILLS` past ones.
pub const MIN_RAPID_FILLS: u32 = 2;
pub const MAX_RAPID_FILLS: u32 = MAX_RECENT_FILLS as u32 + 1;
pub const MIN_TRAVEL_KMH: u32 = 1;
/// Faster than any airliner: above this the rule could never fire.
pub const MAX_TRAVEL_KMH: u32 = 2_000;
/// Stations closer than this never make impossible travel: neighbouring stations, pumps of
/// one station, and geocoding error all stay below it, even at zero elapsed time.
pub const MIN_TRAVEL_DISTANCE_M: u64 = 2_000;
/// Upper bound of `min_history_fills`: more than a card could make in the history window.
pub const MAX_HISTORY_FILLS: u32 = 100_000;
/// At 1000 ‰ every fill would be "outside usual hours".
pub const MAX_HOUR_SHARE_PERMILLE: u32 = 999;
/// A multiple of 1× or less would flag ordinary fills.
pub const MIN_AMOUNT_MULTIPLE_PERMILLE: u32 = 1_001;
pub const MAX_AMOUNT_MULTIPLE_PERMILLE: u32 = 100_000;
/// Both failure kinds together keep at most this many recent times.
pub const MAX_FAILURES: u32 = 2 * MAX_RECENT_FAILURES as u32;
/// A re-bind or unblock is "recent" for at most a week.
pub const MAX_WITHIN_SECS: u32 = 7 * 86_400;

/// One fraud rule with its parameters. Serialized with a `kind` tag, e.g.
/// `{"kind": "rapid_refills", "max_fills": 3, "window_secs": 3600}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Requested volume above the bound vehicle's tank capacity plus a margin (tanks take a
    /// little more than their nominal capacity). Only fuel counts: AdBlue has its own tank.
    VolumeOverTank { margin_permille: u32 },
    /// At least `max_fills` fills, this one included, within `window_secs`.
    RapidRefills { max_fills: u32, window_secs: u32 },
    /// A fuel grade the bound vehicle does not take. Non-fuel products are ignored.
    ProductNotForVehicle {},
    /// The straight line from the previous fill's station implies more than `max_kmh`.
    ImpossibleTravel { max_kmh: u32 },
    /// With at least `min_history_fills` fills in the history, this local hour holds at most
    /// `max_share_permille` ‰ of them.
    OutsideUsualHours { min_history_fills: u32, max_share_permille: u32 },
    /// With at least `min_history_fills` past fills, the amount exceeds their average by
    /// more than `multiple_permille` / 1000 times.
    UnusualAmount { min_history_fills: u32, multiple_permille: u32 },
    /// At least `max_failures` cryptogram failures and limit declines within `window_secs`.
    RepeatedFailures { max_failures: u32, window_secs: u32 },
    /// The fill comes within `within_secs` of the card's last re-bind or unblock.
    AfterRebindOrUnblock { within_secs: u32 },
}

/// A rule that fired: how risky (0..=1000), what it saw, and why, for the analyst.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hit {
    pub score: u16,
    pub observed: Value,
    pub reason: String,
}

impl Rule {
    /// The `kind` tag, stable for storage and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::VolumeOverTank { .. } => "volume_over_tank",
            Self::RapidRefills { .. } => "rapid_refills",
            Self::ProductNotForVehicle {} => "product_not_for_vehicle",
            Self::ImpossibleTravel { .. } => "impossible_travel",
            Self::OutsideUsualHours { .. } => "outside_usual_hours",
            Self::UnusualAmount { .. } => "unusual_amount",
            Self::RepeatedFailures { .. } => "repeated_failures",
            Self::AfterRebindOrUnblock { .. } => "after_rebind_or_unblock",
        }
    }

    /// Reports the first parameter out of its named range.
    pub fn validate(&self) -> Result<(), FieldError> {
        match *self {
            Self::VolumeOverTank { margin_permille } => {
                in_range("margin_permille", margin_permille, 0, MAX_TANK_MARGIN_PERMILLE)
            }
            Self::RapidRefills { max_fills, window_secs } => {
                in_range("max_fills", max_fills, MIN_RAPID_FILLS, MAX_RAPID_FILLS)?;
                in_range("window_secs", window_secs, 1, MAX_WINDOW_SECS)
            }
            Self::ProductNotForVehicle {} => Ok(()),
            Self::ImpossibleTravel { max_kmh } => {
                in_range("max_kmh", max_kmh, MIN_TRAVEL_KMH, MAX_TRAVEL_KMH)
            }
            Self::OutsideUsualHours { min_history_fills, max_share_permille } => {
                in_range("min_history_fills", min_history_fills, 1, MAX_HISTORY_FILLS)?;
                in_range("max_share_permille", max_share_permille, 0, MAX_HOUR_SHARE_PERMILLE)
            }
            Self::UnusualAmount { min_history_fills, multiple_permille } => {
                in_range("min_history_fills", min_history_fills, 1, MAX_HISTORY_FILLS)?;
                let (min, max) = (MIN_AMOUNT_MULTIPLE_PERMILLE, MAX_AMOUNT_MULTIPLE_PERMILLE);
                in_range("multiple_permille", multiple_permille, min, max)
            }
            Self::RepeatedFailures { max_failures, window_secs } => {
                in_range("max_failures", max_failures, 1, MAX_FAILURES)?;
                in_range("window_secs", window_secs, 1, MAX_WINDOW_SECS)
            }
            Self::AfterRebindOrUnblock { within_secs } => {
                in_range("within_secs", within_secs, 1, MAX_WITHIN_SECS)
            }
        }
    }
}

fn in_range(field: &str, value: u32, min: u32, max: u32) -> Result<(), FieldError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(FieldError::out_of_range(field, format!("must be between {min} and {max}")))
    }
}

/// Runs one rule on the snapshot. Never panics, whatever the features hold.
pub fn evaluate(rule: &Rule, f: &Features) -> Option<Hit> {
    match *rule {
        Rule::VolumeOverTank { margin_permille } => volume_over_tank(margin_permille, f),
        Rule::RapidRefills { max_fills, window_secs } => rapid_refills(max_fills, window_secs, f),
        Rule::ProductNotForVehicle {} => product_not_for_vehicle(f),
        Rule::ImpossibleTravel { max_kmh } => impossible_travel(max_kmh, f),
        Rule::OutsideUsualHours { min_history_fills, max_share_permille } => {
            outside_usual_hours(min_history_fills, max_share_permille, f)
        }
        Rule::UnusualAmount { min_history_fills, multiple_permille } => {
            unusual_amount(min_history_fills, multiple_permille, f)
        }
        Rule::RepeatedFailures { max_failures, window_secs } => {
            repeated_failures(max_failures, window_secs, f)
        }
        Rule::AfterRebindOrUnblock { within_secs } => after_rebind_or_unblock(within_secs, f),
    }
}

// Base scores: how strong each signal is on its own, at its threshold. Graded rules rise
// from there to `MAX_SCORE` at twice the threshold; the others stay at their base.
const VOLUME_OVER_TANK_SCORE: u16 = 700;
const RAPID_REFILLS_SCORE: u16 = 500;
const PRODUCT_NOT_FOR_VEHICLE_SCORE: u16 = 800;
const IMPOSSIBLE_TRAVEL_SCORE: u16 = 800;
const OUTSIDE_USUAL_HOURS_SCORE: u16 = 300;
const UNUSUAL_AMOUNT_SCORE: u16 = 400;
const REPEATED_FAILURES_SCORE: u16 = 600;
const AFTER_REBIND_OR_UNBLOCK_SCORE: u16 = 400;

/// `base` at `limit`, rising linearly to `MAX_SCORE` at twice `limit` and staying there.
fn graded(base: u16, observed: u128, limit: u128) -> u16 {
    if limit == 0 {
        return MAX_SCORE;
    }
    let over = observed.saturating_sub(limit).min(limit);
    let extra = u128::from(MAX_SCORE.saturating_sub(base)) * over / limit;
    base.saturating_add(u16::try_from(extra).unwrap_or(MAX_SCORE)).min(MAX_SCORE)
}

fn hit(score: u16, observed: Value, reason: String) -> Option<Hit> {
    Some(Hit { score: score.min(MAX_SCORE), observed, reason })
}

/// Whether an event at `time_s` falls within `window_secs` before `now_s`. Events stamped
/// after `now_s` (clock differences between processes) count as recent.
fn within(now_s: i64, time_s: i64, window_secs: u32) -> bool {
    i128::from(now_s) - i128::from(time_s) <= i128::from(window_secs)
}

fn as_u128(value: i128) -> u128 {
    u128::try_from(value).unwrap_or(0)
}

fn volume_over_tank(margin_permille: u32, f: &Features) -> Option<Hit> {
    let capacity = f.vehicle.as_ref()?.tank_capacity_ml?;
    if !f.product.is_fuel() {
        return None;
    }
    // volume > capacity × (1000 + margin) / 1000, compared exactly in thousandths of a ml.
    let requested = i128::from(f.volume_ml) * 1000;
    let allowed = i128::from(capacity) * (1000 + i128::from(margin_permille));
    if requested <= allowed {
        return None;
    }
    let score = graded(VOLUME_OVER_TANK_SCORE, as_u128(requested), as_u128(allowed));
    let observed = json!({
        "volume_ml": f.volume_ml, "tank_capacity_ml": capacity, "margin_permille": margin_permille,
    });
    let reason = format!(
        "requested {} ml exceeds the tank's {capacity} ml + {margin_permille}‰",
        f.volume_ml
    );
    hit(score, observed, reason)
}

fn rapid_refills(max_fills: u32, window_secs: u32, f: &Features) -> Option<Hit> {
    let recent = f.card.recent_fill_times_s.iter().filter(|&&t| within(f.now_s, t, window_secs));
    let fills = u32::try_from(recent.count()).unwrap_or(u32::MAX).saturating_add(1);
    if fills < max_fills {
        return None;
    }
    let score = graded(RAPID_REFILLS_SCORE, u128::from(fills), u128::from(max_fills));
    let observed = json!({ "fills_in_window": fills, "window_secs": window_secs });
    hit(score, observed, format!("{fills} fills within {window_secs} s, this one included"))
}

fn product_not_for_vehicle(f: &Features) -> Option<Hit> {
    let products = f.vehicle.as_ref()?.products.as_ref()?;
    if !f.product.is_fuel() || products.contains(&f.product) {
        return None;
    }
    let observed = json!({ "product": f.product, "vehicle_products": products });
    let reason = format!("{} is not a fuel the bound vehicle takes", f.product);
    hit(PRODUCT_NOT_FOR_VEHICLE_SCORE, observed, reason)
}

fn impossible_travel(max_kmh: u32, f: &Features) -> Option<Hit> {
    let last = f.card.last_fill?;
    let distance = distance_m(last.station_location?, f.station_location?);
    if distance <= MIN_TRAVEL_DISTANCE_M {
        return None;
    }
    let elapsed = i128::from(f.now_s) - i128::from(last.time_s);
    if elapsed <= 0 {
        let observed = json!({ "distance_m": distance, "elapsed_s": elapsed_json(elapsed) });
        let reason = format!("{distance} m from the previous fill at no elapsed time");
        return hit(MAX_SCORE, observed, reason);
    }
    // speed > max ⇔ distance_m × 3600 / elapsed_s > max_kmh × 1000, without division.
    let travelled = u128::from(distance) * 3600;
    let allowed = u128::from(max_kmh) * 1000 * as_u128(elapsed);
    if travelled <= allowed {
        return None;
    }
    let kmh = travelled / (1000 * as_u128(elapsed));
    let observed = json!({
        "distance_m": distance, "elapsed_s": elapsed_json(elapsed), "speed_kmh": kmh_json(kmh),
        "max_kmh": max_kmh,
    });
    let reason = format!("{distance} m in {elapsed} s is about {kmh} km/h, above {max_kmh}");
    hit(graded(IMPOSSIBLE_TRAVEL_SCORE, travelled, allowed), observed, reason)
}

/// JSON numbers are at most 64-bit; the i128 only guards the subtraction.
fn elapsed_json(elapsed: i128) -> Value {
    i64::try_from(elapsed).map_or(Value::Null, Value::from)
}

fn kmh_json(kmh: u128) -> Value {
    u64::try_from(kmh).map_or(Value::Null, Value::from)
}

fn outside_usual_hours(
    min_history_fills: u32,
    max_share_permille: u32,
    f: &Features,
) -> Option<Hit> {
    let at_hour = *f.card.usual_hours.get(usize::from(f.local_hour))?;
    let total: u64 = f.card.usual_hours.iter().map(|&n| u64::from(n)).sum();
    if total < u64::from(min_history_fills) {
        return None;
    }
    // share ≤ max ⇔ at_hour × 1000 ≤ max × total: exact, no rounded share.
    if u128::from(at_hour) * 1000 > u128::from(max_share_permille) * u128::from(total) {
        return None;
    }
    let share_permille = u64::from(at_hour) * 1000 / total.max(1);
    let observed = json!({
        "local_hour": f.local_hour, "fills_at_hour": at_hour, "fills_total": total,
        "share_permille": share_permille, "max_share_permille": max_share_permille,
    });
    let hour = f.local_hour;
    let reason = format!(
        "{at_hour} of {total} past fills at {hour:02}h: {share_permille}‰, \
         at most {max_share_permille}‰"
    );
    hit(OUTSIDE_USUAL_HOURS_SCORE, observed, reason)
}

fn unusual_amount(min_history_fills: u32, multiple_permille: u32, f: &Features) -> Option<Hit> {
    let (sum, count) = (f.card.past_amount_sum_minor, f.card.past_amount_count);
    // A non-positive sum has no meaningful average (refunds only, or bad data).
    if count < min_history_fills || count == 0 || sum <= 0 {
        return None;
    }
    // amount > sum / count × multiple / 1000 ⇔ amount × count × 1000 > sum × multiple.
    let requested = i128::from(f.amount_minor) * i128::from(count) * 1000;
    let allowed = i128::from(sum) * i128::from(multiple_permille);
    if requested <= allowed {
        return None;
    }
    let average = sum / i64::from(count);
    let observed = json!({
        "amount_minor": f.amount_minor, "average_minor": average, "history_fills": count,
        "multiple_permille": multiple_permille,
    });
    let reason = format!(
        "amount {} is over {multiple_permille}‰ of the card's average {average}",
        f.amount_minor
    );
    hit(graded(UNUSUAL_AMOUNT_SCORE, as_u128(requested), as_u128(allowed)), observed, reason)
}

fn repeated_failures(max_failures: u32, window_secs: u32, f: &Features) -> Option<Hit> {
    let count = |times: &[i64]| times.iter().filter(|&&t| within(f.now_s, t, window_secs)).count();
    let cryptogram = count(&f.card.cryptogram_failure_times_s);
    let limit = count(&f.card.limit_decline_times_s);
    let total = u32::try_from(cryptogram.saturating_add(limit)).unwrap_or(u32::MAX);
    if total < max_failures {
        return None;
    }
    let score = graded(REPEATED_FAILURES_SCORE, u128::from(total), u128::from(max_failures));
    let observed = json!({
        "cryptogram_failures": cryptogram, "limit_declines": limit, "window_secs": window_secs,
    });
    let reason = format!(
        "{cryptogram} cryptogram failures and {limit} limit declines within {window_secs} s"
    );
    hit(score, observed, reason)
}

fn after_rebind_or_unblock(within_secs: u32, f: &Features) -> Option<Hit> {
    let recent = |event: Option<i64>| event.filter(|&t| within(f.now_s, t, within_secs));
    let (rebind, unblock) = (recent(f.card.last_rebind_s), recent(f.card.last_unblock_s));
    let what = match (rebind, unblock) {
        (None, None) => return None,
        (Some(_), None) => "re-bind",
        (None, Some(_)) => "unblock",
        (Some(_), Some(_)) => "re-bind and unblock",
    };
    let observed = json!({
        "now_s": f.now_s, "last_rebind_s": rebind, "last_unblock_s": unblock,
        "within_secs": within_secs,
    });
    let reason = format!("fill within {within_secs} s of the card's {what}");
    hit(AFTER_REBIND_OR_UNBLOCK_SCORE, observed, reason)
}

#[cfg(test)]
mod tests;
