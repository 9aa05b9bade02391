use super::*;
use crate::features::{sample, LastFill, Vehicle};
use crate::geo::GeoPoint;
use domain::Product;

const HOUR: i64 = 3_600;

fn eval(rule: &Rule, f: &Features) -> Option<Hit> {
    evaluate(rule, f)
}

fn hits(rule: &Rule, f: &Features) -> bool {
    evaluate(rule, f).is_some()
}

#[test]
fn volume_over_tank_fires_only_above_capacity_plus_margin() {
    let rule = Rule::VolumeOverTank { margin_permille: 50 };
    let mut f = sample();
    f.volume_ml = 84_000; // 80 000 ml × 1.05 exactly
    assert!(!hits(&rule, &f));
    f.volume_ml = 84_001;
    let hit = eval(&rule, &f).unwrap();
    assert_eq!(hit.score, VOLUME_OVER_TANK_SCORE);
    assert_eq!(hit.observed["tank_capacity_ml"], 80_000);
    f.volume_ml = 168_000;
    assert_eq!(eval(&rule, &f).unwrap().score, MAX_SCORE);
}

#[test]
fn volume_over_tank_needs_a_fuel_and_a_known_tank() {
    let rule = Rule::VolumeOverTank { margin_permille: 0 };
    let mut f = sample();
    f.volume_ml = 500_000;
    assert!(hits(&rule, &f));
    f.product = Product::Adblue;
    assert!(!hits(&rule, &f), "AdBlue has its own tank");
    f.product = Product::Diesel;
    f.vehicle = Some(Vehicle { tank_capacity_ml: None, products: None });
    assert!(!hits(&rule, &f));
    f.vehicle = None;
    assert!(!hits(&rule, &f));
}

#[test]
fn rapid_refills_counts_this_fill_and_the_window_edge() {
    let rule = Rule::RapidRefills { max_fills: 3, window_secs: 3_600 };
    let mut f = sample();
    f.card.recent_fill_times_s = vec![f.now_s - 3_600, f.now_s - 100, f.now_s - 10 * HOUR];
    let hit = eval(&rule, &f).unwrap();
    assert_eq!(hit.observed["fills_in_window"], 3);
    assert_eq!(hit.score, RAPID_REFILLS_SCORE);
    f.card.recent_fill_times_s = vec![f.now_s - 3_601, f.now_s - 100];
    assert!(!hits(&rule, &f));
    f.card.recent_fill_times_s = vec![];
    assert!(!hits(&rule, &f));
}

#[test]
fn product_not_for_vehicle_checks_fuel_grades_only() {
    let rule = Rule::ProductNotForVehicle {};
    let mut f = sample();
    assert!(!hits(&rule, &f), "diesel into a diesel van");
    f.product = Product::Petrol95;
    assert_eq!(eval(&rule, &f).unwrap().observed["product"], "petrol_95");
    for other in [Product::CarWash, Product::Shop, Product::EvCharging, Product::Adblue] {
        f.product = other;
        assert!(!hits(&rule, &f), "{other} is not a fuel grade");
    }
    f.product = Product::Petrol95;
    f.vehicle = Some(Vehicle { tank_capacity_ml: Some(80_000), products: None });
    assert!(!hits(&rule, &f), "products not recorded");
    f.vehicle = None;
    assert!(!hits(&rule, &f), "no vehicle bound");
}

/// Previous fill in Hamburg `elapsed_s` ago; `sample()` is in Berlin, about 255 km away.
fn from_hamburg(elapsed_s: i64) -> Features {
    let mut f = sample();
    f.card.last_fill =
        Some(LastFill { time_s: f.now_s - elapsed_s, station_location: Some(HAMBURG) });
    f
}

const HAMBURG: GeoPoint = GeoPoint { lat_micro: 53_551_086, lon_micro: 9_993_682 };

#[test]
fn impossible_travel_fires_just_above_max_speed() {
    let rule = Rule::ImpossibleTravel { max_kmh: 200 };
    let d = distance_m(HAMBURG, sample().station_location.unwrap());
    // Shortest elapsed time at which the speed is at most 200 km/h.
    let shortest_legal_s = i64::try_from((d * 3_600).div_ceil(200 * 1_000)).unwrap();
    assert!(!hits(&rule, &from_hamburg(shortest_legal_s)));
    let hit = eval(&rule, &from_hamburg(shortest_legal_s - 1)).unwrap();
    assert_eq!(hit.observed["distance_m"], d);
    assert_eq!(hit.observed["speed_kmh"], 200);
    assert!(!hits(&rule, &from_hamburg(10 * HOUR)));
}

#[test]
fn impossible_travel_at_no_elapsed_time_needs_a_real_distance() {
    let rule = Rule::ImpossibleTravel { max_kmh: 2_000 };
    assert_eq!(eval(&rule, &from_hamburg(0)).unwrap().score, MAX_SCORE);
    assert!(hits(&rule, &from_hamburg(-60)), "clock differences do not hide travel");
    let mut f = sample();
    let mut next_door = f.station_location.unwrap();
    next_door.lat_micro += 9_000; // about 1 km north
    f.card.last_fill = Some(LastFill { time_s: f.now_s, station_location: Some(next_door) });
    assert!(!hits(&rule, &f));
}

#[test]
fn impossible_travel_needs_both_locations() {
    let rule = Rule::ImpossibleTravel { max_kmh: 100 };
    let mut f = from_hamburg(60);
    f.station_location = None;
    assert!(!hits(&rule, &f));
    let mut f = from_hamburg(60);
    f.card.last_fill = Some(LastFill { time_s: f.now_s - 60, station_location: None });
    assert!(!hits(&rule, &f));
    assert!(!hits(&rule, &sample()), "no previous fill");
}

fn with_hours(at_9: u32, at_3: u32) -> Features {
    let mut f = sample();
    f.card.usual_hours = [0; 24];
    f.card.usual_hours[9] = at_9;
    f.card.usual_hours[3] = at_3;
    f.local_hour = 3;
    f
}

#[test]
fn outside_usual_hours_compares_the_share_exactly() {
    let rule = Rule::OutsideUsualHours { min_history_fills: 30, max_share_permille: 10 };
    let hit = eval(&rule, &with_hours(990, 10)).unwrap(); // exactly 10 ‰
    assert_eq!(hit.observed["share_permille"], 10);
    assert!(!hits(&rule, &with_hours(990, 11)), "11 of 1001 is just above 10 ‰");
    assert!(!hits(&rule, &sample()), "the usual hour");
}

#[test]
fn outside_usual_hours_waits_for_enough_history() {
    let rule = Rule::OutsideUsualHours { min_history_fills: 30, max_share_permille: 0 };
    assert!(!hits(&rule, &with_hours(29, 0)));
    assert!(hits(&rule, &with_hours(30, 0)));
    let mut f = with_hours(30, 0);
    f.local_hour = 24;
    assert!(!hits(&rule, &f), "an invalid hour is not judged");
}

#[test]
fn unusual_amount_fires_above_the_multiple_of_the_average() {
    let rule = Rule::UnusualAmount { min_history_fills: 10, multiple_permille: 3_000 };
    let mut f = sample(); // average 7 500
    f.amount_minor = 22_500;
    assert!(!hits(&rule, &f));
    f.amount_minor = 22_501;
    let hit = eval(&rule, &f).unwrap();
    assert_eq!(hit.observed["average_minor"], 7_500);
    assert_eq!(hit.score, UNUSUAL_AMOUNT_SCORE);
}

#[test]
fn unusual_amount_waits_for_enough_history() {
    let rule = Rule::UnusualAmount { min_history_fills: 10, multiple_permille: 3_000 };
    let mut f = sample();
    f.amount_minor = 1_000_000;
    f.card.past_amount_count = 9;
    assert!(!hits(&rule, &f));
    f.card.past_amount_count = 10;
    assert!(hits(&rule, &f));
    f.card.past_amount_sum_minor = 0;
    assert!(!hits(&rule, &f), "no meaningful average");
}

#[test]
fn repeated_failures_adds_both_kinds_within_the_window() {
    let rule = Rule::RepeatedFailures { max_failures: 3, window_secs: 900 };
    let mut f = sample();
    f.card.cryptogram_failure_times_s = vec![f.now_s - 900];
    f.card.limit_decline_times_s = vec![f.now_s - 10, f.now_s - 5];
    let hit = eval(&rule, &f).unwrap();
    assert_eq!(hit.observed["cryptogram_failures"], 1);
    assert_eq!(hit.observed["limit_declines"], 2);
    assert_eq!(hit.score, REPEATED_FAILURES_SCORE);
    f.card.cryptogram_failure_times_s = vec![f.now_s - 901];
    assert!(!hits(&rule, &f));
}

#[test]
fn after_rebind_or_unblock_fires_within_the_window() {
    let rule = Rule::AfterRebindOrUnblock { within_secs: 1_800 };
    let mut f = sample();
    assert!(!hits(&rule, &f));
    f.card.last_rebind_s = Some(f.now_s - 1_800);
    assert!(eval(&rule, &f).unwrap().reason.contains("re-bind"));
    f.card.last_rebind_s = Some(f.now_s - 1_801);
    assert!(!hits(&rule, &f));
    f.card.last_unblock_s = Some(f.now_s - 5);
    assert!(eval(&rule, &f).unwrap().reason.contains("unblock"));
}

#[test]
fn graded_scores_rise_from_base_to_max() {
    assert_eq!(graded(400, 101, 100), 406);
    assert_eq!(graded(400, 150, 100), 700);
    assert_eq!(graded(400, 200, 100), MAX_SCORE);
    assert_eq!(graded(400, u128::MAX, 100), MAX_SCORE);
    assert_eq!(graded(400, 5, 0), MAX_SCORE);
}

fn one_of_each() -> Vec<Rule> {
    vec![
        Rule::VolumeOverTank { margin_permille: 50 },
        Rule::RapidRefills { max_fills: 3, window_secs: 3_600 },
        Rule::ProductNotForVehicle {},
        Rule::ImpossibleTravel { max_kmh: 200 },
        Rule::OutsideUsualHours { min_history_fills: 30, max_share_permille: 10 },
        Rule::UnusualAmount { min_history_fills: 10, multiple_permille: 3_000 },
        Rule::RepeatedFailures { max_failures: 3, window_secs: 900 },
        Rule::AfterRebindOrUnblock { within_secs: 1_800 },
    ]
}

#[test]
fn kind_is_the_serde_tag() {
    for rule in one_of_each() {
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(json["kind"], rule.kind());
        assert_eq!(serde_json::from_value::<Rule>(json).unwrap(), rule);
        assert_eq!(rule.validate(), Ok(()));
    }
}

#[test]
fn unknown_or_missing_params_are_rejected() {
    let bad = [
        r#"{"kind": "rapid_refills", "max_fills": 3, "window_secs": 60, "extra": 1}"#,
        r#"{"kind": "rapid_refills", "max_fills": 3}"#,
        r#"{"kind": "product_not_for_vehicle", "strict": true}"#,
        r#"{"kind": "impossible_travel", "max_kmh": -5}"#,
        r#"{"kind": "teleport", "max_kmh": 5}"#,
    ];
    for json in bad {
        assert!(serde_json::from_str::<Rule>(json).is_err(), "{json}");
    }
    let ok = r#"{"kind": "product_not_for_vehicle"}"#;
    assert_eq!(serde_json::from_str::<Rule>(ok).unwrap(), Rule::ProductNotForVehicle {});
}

#[test]
fn params_are_validated_against_named_limits() {
    let field = |rule: Rule| rule.validate().unwrap_err().field;
    assert_eq!(
        field(Rule::VolumeOverTank { margin_permille: MAX_TANK_MARGIN_PERMILLE + 1 }),
        "margin_permille"
    );
    assert_eq!(field(Rule::RapidRefills { max_fills: 1, window_secs: 60 }), "max_fills");
    assert_eq!(
        field(Rule::RapidRefills { max_fills: MAX_RAPID_FILLS + 1, window_secs: 60 }),
        "max_fills"
    );
    assert_eq!(field(Rule::RapidRefills { max_fills: 3, window_secs: 0 }), "window_secs");
    assert_eq!(field(Rule::RapidRefills { max_fills: 3, window_secs: 86_401 }), "window_secs");
    assert_eq!(field(Rule::ImpossibleTravel { max_kmh: 0 }), "max_kmh");
    assert_eq!(field(Rule::ImpossibleTravel { max_kmh: 2_001 }), "max_kmh");
    assert_eq!(
        field(Rule::OutsideUsualHours { min_history_fills: 0, max_share_permille: 10 }),
        "min_history_fills"
    );
    assert_eq!(
        field(Rule::OutsideUsualHours { min_history_fills: 30, max_share_permille: 1_000 }),
        "max_share_permille"
    );
    assert_eq!(
        field(Rule::UnusualAmount { min_history_fills: 10, multiple_permille: 1_000 }),
        "multiple_permille"
    );
    assert_eq!(field(Rule::RepeatedFailures { max_failures: 0, window_secs: 60 }), "max_failures");
    assert_eq!(
        field(Rule::AfterRebindOrUnblock { within_secs: MAX_WITHIN_SECS + 1 }),
        "within_secs"
    );
    assert_eq!(
        Rule::RapidRefills { max_fills: MAX_RAPID_FILLS, window_secs: 86_400 }.validate(),
        Ok(())
    );
    assert_eq!(Rule::ImpossibleTravel { max_kmh: 2_000 }.validate(), Ok(()));
    let error = Rule::ImpossibleTravel { max_kmh: 0 }.validate().unwrap_err();
    assert_eq!(error.code, "OUT_OF_RANGE");
}
