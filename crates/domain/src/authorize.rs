//! The authorization decision: a pure function of the request and a snapshot of the card,
//! its effective controls, its period usage and the fleet's account. The store only persists
//! what this decides (and re-checks limits with conditional updates when it commits).

use crate::controls::Effective;
use crate::decline::DeclineReason;
use crate::{CardStatus, Product};
use serde::Serialize;

/// A partial approval below this is worth nothing at a pump: decline instead.
pub const MIN_PARTIAL_AMOUNT_MINOR: i64 = 100;
/// Prices are thousandths of a minor unit per litre (1.799 EUR/l = 179_900).
pub const PRICE_SCALE_PER_MINOR: i64 = 1_000;
const ML_PER_LITRE: i64 = 1_000;

/// What the pump asks for: an amount or a volume (preset), at a unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub amount_minor: Option<i64>,
    pub volume_ml: Option<i64>,
    /// Price per litre of the dearest offered product, in thousandths of a minor unit.
    pub price_milli_minor_per_litre: i64,
    pub offered_products: Vec<Product>,
    pub partial_supported: bool,
}

/// Used so far in each period (holds included until released).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub amount_minor: i64,
    pub volume_ml: i64,
    pub count: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PeriodUsage {
    pub day: Usage,
    pub week: Usage,
    pub month: Usage,
}

/// Everything the decision reads, loaded by the authorizer in one go.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub card_status: CardStatus,
    pub card_expired: bool,
    pub controls: &'a Effective,
    pub station_id: &'a str,
    pub local_weekday: time::Weekday,
    pub local_minute_of_day: u16,
    pub usage: PeriodUsage,
    /// Tank capacity of the bound vehicle, if any.
    pub tank_capacity_ml: Option<i64>,
    /// The fleet account's available balance and credit line.
    pub available_minor: i64,
    pub credit_limit_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// The amount held, and the most the pump may dispense for.
    pub amount_minor: i64,
    /// The volume that amount buys at the request's price.
    pub volume_ml: i64,
    pub products: Vec<Product>,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Approved(Approval),
    Declined { reason: DeclineReason },
}

/// One check the decision made, for the stored trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub checks: Vec<Check>,
}

impl Decision {
    pub fn approval(&self) -> Option<&Approval> {
        match &self.outcome {
            Outcome::Approved(a) => Some(a),
            Outcome::Declined { .. } => None,
        }
    }
}

/// Amount (rounded up) of `volume_ml` at `price`.
pub fn amount_for_volume(volume_ml: i64, price_milli_minor_per_litre: i64) -> i64 {
    let scale = i128::from(PRICE_SCALE_PER_MINOR * ML_PER_LITRE);
    let raw = i128::from(volume_ml) * i128::from(price_milli_minor_per_litre);
    i64::try_from((raw + scale - 1).div_euclid(scale)).unwrap_or(i64::MAX)
}

/// Volume (rounded down) that `amount_minor` buys at `price`.
pub fn volume_for_amount(amount_minor: i64, price_milli_minor_per_litre: i64) -> i64 {
    if price_milli_minor_per_litre <= 0 {
        return 0;
    }
    let raw = i128::from(amount_minor) * i128::from(PRICE_SCALE_PER_MINOR * ML_PER_LITRE);
    i64::try_from(raw / i128::from(price_milli_minor_per_litre)).unwrap_or(i64::MAX)
}

struct Trace(Vec<Check>);

impl Trace {
    fn check(&mut self, check: &'static str, passed: bool, detail: String) -> bool {
        self.0.push(Check { check, passed, detail });
        passed
    }
}

/// Decides one pre-authorization.
pub fn decide(req: &Request, snap: &Snapshot<'_>) -> Decision {
    let mut trace = Trace(Vec::new());
    let outcome = match gate(req, snap, &mut trace) {
        Err(reason) => Outcome::Declined { reason },
        Ok(products) => size(req, snap, products, &mut trace),
    };
    Decision { outcome, checks: trace.0 }
}

/// The yes/no checks, in the order a driver would want them explained.
fn gate(
    req: &Request,
    snap: &Snapshot<'_>,
    trace: &mut Trace,
) -> Result<Vec<Product>, DeclineReason> {
    let status = match snap.card_status {
        CardStatus::Active => None,
        CardStatus::Blocked => Some(DeclineReason::CardBlocked),
        CardStatus::Suspended => Some(DeclineReason::CardSuspended),
        CardStatus::Closed => Some(DeclineReason::CardClosed),
    };
    if !trace.check("card_status", status.is_none(), snap.card_status.as_str().to_owned()) {
        return Err(status.unwrap_or(DeclineReason::CardBlocked));
    }
    if !trace.check("card_expiry", !snap.card_expired, format!("expired: {}", snap.card_expired)) {
        return Err(DeclineReason::CardExpired);
    }
    let products: Vec<Product> =
        req.offered_products.iter().copied().filter(|p| snap.controls.allows_product(*p)).collect();
    if !trace.check(
        "products",
        !products.is_empty(),
        format!("offered {:?}, allowed {products:?}", req.offered_products),
    ) {
        return Err(DeclineReason::ProductNotAllowed);
    }
    if !trace.check(
        "station",
        snap.controls.allows_station(snap.station_id),
        snap.station_id.to_owned(),
    ) {
        return Err(DeclineReason::StationNotAllowed);
    }
    let in_window = snap.controls.allows_time(snap.local_weekday, snap.local_minute_of_day);
    let when = format!(
        "{} {:02}:{:02}",
        snap.local_weekday,
        snap.local_minute_of_day / 60,
        snap.local_minute_of_day % 60
    );
    if !trace.check("time_window", in_window, when) {
        return Err(DeclineReason::OutsideTimeWindow);
    }
    let counts = [
        (snap.controls.daily.count.as_ref(), snap.usage.day.count, DeclineReason::LimitDailyCount),
        (
            snap.controls.weekly.count.as_ref(),
            snap.usage.week.count,
            DeclineReason::LimitWeeklyCount,
        ),
        (
            snap.controls.monthly.count.as_ref(),
            snap.usage.month.count,
            DeclineReason::LimitMonthlyCount,
        ),
    ];
    for (limit, used, reason) in counts {
        if let Some(limit) = limit {
            if !trace.check(
                reason.code(),
                used < limit.value,
                format!("{used} of {} fills used", limit.value),
            ) {
                return Err(reason);
            }
        }
    }
    Ok(products)
}

/// How much may be approved: the tightest of every amount and volume cap, converted to
/// money at the request's price.
fn size(req: &Request, snap: &Snapshot<'_>, products: Vec<Product>, trace: &mut Trace) -> Outcome {
    let price = req.price_milli_minor_per_litre;
    let requested = match (req.amount_minor, req.volume_ml) {
        (Some(amount), _) => amount,
        (None, Some(volume)) => amount_for_volume(volume, price),
        (None, None) => 0,
    };
    let mut binding: Option<(DeclineReason, i64)> = None;
    for (reason, cap) in caps(snap, price) {
        let passed = trace.check(
            reason.code(),
            cap >= requested,
            format!("cap {cap}, requested {requested}"),
        );
        if !passed && binding.is_none_or(|(_, tightest)| cap < tightest) {
            binding = Some((reason, cap));
        }
    }
    match binding {
        None => Outcome::Approved(Approval {
            amount_minor: requested,
            volume_ml: req.volume_ml.unwrap_or_else(|| volume_for_amount(requested, price)),
            products,
            partial: false,
        }),
        Some((_, cap)) if req.partial_supported && cap >= MIN_PARTIAL_AMOUNT_MINOR => {
            trace.check("partial", true, format!("approved {cap} of {requested}"));
            Outcome::Approved(Approval {
                amount_minor: cap,
                volume_ml: volume_for_amount(cap, price),
                products,
                partial: true,
            })
        }
        Some((reason, _)) => Outcome::Declined { reason },
    }
}

/// Every cap on the amount, as (reason if it binds, remaining amount).
fn caps(snap: &Snapshot<'_>, price: i64) -> Vec<(DeclineReason, i64)> {
    use DeclineReason::*;
    let c = snap.controls;
    let u = snap.usage;
    let left = |limit: Option<&crate::controls::Sourced<i64>>, used: i64| {
        limit.map(|l| (l.value - used).max(0))
    };
    let volume_cap = |ml: Option<i64>| ml.map(|ml| volume_to_floor_amount(ml, price));
    let amount_caps = [
        (LimitPerAuthAmount, c.per_authorization.amount.as_ref().map(|l| l.value)),
        (LimitDailyAmount, left(c.daily.amount.as_ref(), u.day.amount_minor)),
        (LimitWeeklyAmount, left(c.weekly.amount.as_ref(), u.week.amount_minor)),
        (LimitMonthlyAmount, left(c.monthly.amount.as_ref(), u.month.amount_minor)),
        (InsufficientFunds, Some((snap.available_minor + snap.credit_limit_minor).max(0))),
    ];
    let volume_caps = [
        (LimitPerAuthVolume, volume_cap(c.per_authorization.volume_ml.as_ref().map(|l| l.value))),
        (LimitDailyVolume, volume_cap(left(c.daily.volume_ml.as_ref(), u.day.volume_ml))),
        (LimitWeeklyVolume, volume_cap(left(c.weekly.volume_ml.as_ref(), u.week.volume_ml))),
        (LimitMonthlyVolume, volume_cap(left(c.monthly.volume_ml.as_ref(), u.month.volume_ml))),
        (TankCapacity, volume_cap(snap.tank_capacity_ml)),
    ];
    amount_caps.into_iter().chain(volume_caps).filter_map(|(r, cap)| cap.map(|c| (r, c))).collect()
}

/// The largest amount whose volume (rounded down) stays within `ml`: a volume cap must not
/// be exceeded by rounding.
fn volume_to_floor_amount(ml: i64, price: i64) -> i64 {
    let scale = i128::from(PRICE_SCALE_PER_MINOR * ML_PER_LITRE);
    i64::try_from(i128::from(ml) * i128::from(price) / scale).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::{effective, Controls, Level, LevelRef};

    const DIESEL_PRICE: i64 = 179_900; // 1.799 EUR per litre

    fn controls(json: serde_json::Value) -> Effective {
        let c: Controls = serde_json::from_value(json).unwrap();
        effective(&[(LevelRef { level: Level::Card, id: uuid::Uuid::nil() }, &c)])
    }

    fn snap(c: &Effective) -> Snapshot<'_> {
        Snapshot {
            card_status: CardStatus::Active,
            card_expired: false,
            controls: c,
            station_id: "st-1",
            local_weekday: time::Weekday::Monday,
            local_minute_of_day: 600,
            usage: PeriodUsage::default(),
            tank_capacity_ml: None,
            available_minor: 1_000_000,
            credit_limit_minor: 0,
        }
    }

    fn amount(minor: i64, partial: bool) -> Request {
        Request {
            amount_minor: Some(minor),
            volume_ml: None,
            price_milli_minor_per_litre: DIESEL_PRICE,
            offered_products: vec![Product::Diesel, Product::Adblue],
            partial_supported: partial,
        }
    }

    fn declined(d: &Decision) -> Option<DeclineReason> {
        match d.outcome {
            Outcome::Declined { reason } => Some(reason),
            Outcome::Approved(_) => None,
        }
    }

    #[test]
    fn approves_within_every_limit() {
        let c = controls(serde_json::json!({"per_authorization": {"amount": 15000}}));
        let d = decide(&amount(10_000, false), &snap(&c));
        let a = d.approval().unwrap();
        assert_eq!((a.amount_minor, a.partial), (10_000, false));
        assert_eq!(a.volume_ml, 55_586, "100 EUR at 1.799/l, rounded down");
        assert!(d.checks.iter().all(|c| c.passed));
    }

    #[test]
    fn each_gate_declines_with_its_reason() {
        let c = controls(serde_json::json!({"allowed_products": ["petrol_95"]}));
        assert_eq!(
            declined(&decide(&amount(100, false), &snap(&c))),
            Some(DeclineReason::ProductNotAllowed)
        );
        let c = controls(serde_json::json!({"blocked_stations": ["st-1"]}));
        assert_eq!(
            declined(&decide(&amount(100, false), &snap(&c))),
            Some(DeclineReason::StationNotAllowed)
        );
        let c = controls(
            serde_json::json!({"time_windows": [{"days": ["tue"], "start": "06:00", "end": "22:00"}]}),
        );
        assert_eq!(
            declined(&decide(&amount(100, false), &snap(&c))),
            Some(DeclineReason::OutsideTimeWindow)
        );
        let c = controls(serde_json::json!({"daily": {"count": 2}}));
        let mut s = snap(&c);
        s.usage.day.count = 2;
        assert_eq!(
            declined(&decide(&amount(100, false), &s)),
            Some(DeclineReason::LimitDailyCount)
        );
        let c = controls(serde_json::json!({}));
        for (status, reason) in [
            (CardStatus::Blocked, DeclineReason::CardBlocked),
            (CardStatus::Suspended, DeclineReason::CardSuspended),
            (CardStatus::Closed, DeclineReason::CardClosed),
        ] {
            let mut s = snap(&c);
            s.card_status = status;
            assert_eq!(declined(&decide(&amount(100, false), &s)), Some(reason));
        }
        let mut s = snap(&c);
        s.card_expired = true;
        assert_eq!(declined(&decide(&amount(100, false), &s)), Some(DeclineReason::CardExpired));
    }

    #[test]
    fn the_tightest_cap_names_the_decline_and_sizes_the_partial() {
        let c = controls(
            serde_json::json!({"per_authorization": {"amount": 15000}, "daily": {"amount": 20000}}),
        );
        let mut s = snap(&c);
        s.usage.day.amount_minor = 12_000; // 8,000 left today: tighter than 15,000 per fill
        assert_eq!(
            declined(&decide(&amount(10_000, false), &s)),
            Some(DeclineReason::LimitDailyAmount)
        );
        let d = decide(&amount(10_000, true), &s);
        let a = d.approval().unwrap();
        assert_eq!((a.amount_minor, a.partial), (8_000, true));
        s.usage.day.amount_minor = 19_950; // 50 left: not worth a partial
        assert_eq!(
            declined(&decide(&amount(10_000, true), &s)),
            Some(DeclineReason::LimitDailyAmount)
        );
        s.usage.day.amount_minor = 0;
        s.available_minor = 5_000;
        assert_eq!(
            declined(&decide(&amount(10_000, false), &s)),
            Some(DeclineReason::InsufficientFunds)
        );
        s.credit_limit_minor = 5_000;
        assert!(decide(&amount(10_000, false), &s).approval().is_some(), "the credit line counts");
    }

    #[test]
    fn volume_caps_hold_after_rounding() {
        let c = controls(serde_json::json!({"per_authorization": {"volume_ml": 40000}}));
        let mut s = snap(&c);
        s.tank_capacity_ml = Some(60_000);
        let d = decide(&amount(100_000, true), &s);
        let a = d.approval().unwrap();
        assert!(a.partial && a.volume_ml <= 40_000, "{a:?}");
        assert_eq!(
            declined(&decide(&amount(100_000, false), &s)),
            Some(DeclineReason::LimitPerAuthVolume)
        );
        let preset = Request { amount_minor: None, volume_ml: Some(65_000), ..amount(0, false) };
        let c = controls(serde_json::json!({}));
        let mut s = snap(&c);
        s.tank_capacity_ml = Some(60_000);
        assert_eq!(declined(&decide(&preset, &s)), Some(DeclineReason::TankCapacity));
    }

    #[test]
    fn price_conversions_round_the_safe_way() {
        assert_eq!(amount_for_volume(1_000, DIESEL_PRICE), 180, "179.9 cents rounds up");
        assert_eq!(volume_for_amount(180, DIESEL_PRICE), 1_000);
        assert_eq!(volume_for_amount(100, 0), 0);
    }
}

/// The usage periods a fill on `local_date` (the org's time zone) counts in: day, ISO week,
/// calendar month. Keys sort and read well: `D2026-11-23`, `W2026-48`, `M2026-11`.
pub fn period_keys(local_date: time::Date) -> [String; 3] {
    let (iso_year, week, _) = local_date.to_iso_week_date();
    [
        format!(
            "D{:04}-{:02}-{:02}",
            local_date.year(),
            u8::from(local_date.month()),
            local_date.day()
        ),
        format!("W{iso_year:04}-{week:02}"),
        format!("M{:04}-{:02}", local_date.year(), u8::from(local_date.month())),
    ]
}

#[cfg(test)]
mod period_tests {
    use super::period_keys;
    use time::macros::date;

    #[test]
    fn keys_follow_the_calendar_and_iso_weeks() {
        assert_eq!(period_keys(date!(2026 - 11 - 23)), ["D2026-11-23", "W2026-48", "M2026-11"]);
        // 2027-01-01 is a Friday in ISO week 53 of 2026.
        assert_eq!(period_keys(date!(2027 - 01 - 01)), ["D2027-01-01", "W2026-53", "M2027-01"]);
    }
}
