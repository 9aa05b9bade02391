use super::*;
use crate::features::{sample, CardHistory, LastFill, Vehicle};
use crate::geo::GeoPoint;
use domain::controls::Weekday;
use domain::Product;
use proptest::prelude::*;

fn config(id: &str, rule: Rule, action: Action, mode: Mode) -> RuleConfig {
    RuleConfig { id: id.to_owned(), rule, action, mode, enabled: true }
}

/// Fires on `sample()` when its tank capacity is 80 l; misses when it is larger.
fn tank(id: &str, action: Action, mode: Mode) -> RuleConfig {
    config(id, Rule::VolumeOverTank { margin_permille: 0 }, action, mode)
}

/// Fires on `sample()` with a product the vehicle does not take.
fn grade(id: &str, action: Action, mode: Mode) -> RuleConfig {
    config(id, Rule::ProductNotForVehicle {}, action, mode)
}

/// A fill that trips both `tank` and `grade` rules.
fn suspicious() -> Features {
    let mut f = sample();
    f.volume_ml = 120_000;
    f.product = Product::Petrol95;
    f
}

fn ids(decision: &Decision) -> Vec<&str> {
    decision.trace.iter().map(|e| e.rule_id.as_str()).collect()
}

#[test]
fn default_rules_are_valid_and_pass_a_plain_fill() {
    let rules = default_rules();
    assert_eq!(validate_rule_set(&rules), Ok(()));
    let decision = evaluate(&rules, &sample());
    assert_eq!(decision.outcome, Outcome::Pass);
    assert_eq!(decision.risk, 0);
    assert_eq!(decision.trace.len(), rules.len());
    assert!(decision.trace.iter().all(|e| e.hit.is_none()));
    assert!(decision.alerts().is_empty());
}

#[test]
fn default_rules_flag_a_misfuelled_overfill() {
    let decision = evaluate(&default_rules(), &suspicious());
    assert_eq!(decision.outcome, Outcome::Decline);
    let alerts: Vec<&str> = decision.alerts().iter().map(|e| e.rule_id.as_str()).collect();
    assert_eq!(alerts, ["volume_over_tank", "product_not_for_vehicle"]);
}

#[test]
fn shadow_hits_are_traced_but_never_act() {
    let rules = [tank("shadow-decline", Action::Decline, Mode::Shadow)];
    let decision = evaluate(&rules, &suspicious());
    assert_eq!(decision.outcome, Outcome::Pass);
    assert_eq!(decision.risk, 0);
    assert!(decision.trace[0].hit.is_some(), "the shadow hit is recorded");
    assert!(decision.alerts().is_empty());

    let rules = [
        tank("shadow-decline", Action::Decline, Mode::Shadow),
        grade("review", Action::Review, Mode::Active),
    ];
    let decision = evaluate(&rules, &suspicious());
    assert_eq!(decision.outcome, Outcome::Review);
    assert_eq!(decision.risk, decision.trace[1].hit.as_ref().unwrap().score);
    assert_eq!(decision.alerts().len(), 1);
}

#[test]
fn decline_beats_review_beats_pass() {
    let f = suspicious();
    let outcome = |rules: &[RuleConfig]| evaluate(rules, &f).outcome;
    let review = grade("review", Action::Review, Mode::Active);
    let decline = tank("decline", Action::Decline, Mode::Active);
    let alert = tank("alert", Action::Alert, Mode::Active);
    assert_eq!(outcome(&[]), Outcome::Pass);
    assert_eq!(outcome(std::slice::from_ref(&alert)), Outcome::Pass);
    assert_eq!(outcome(&[alert.clone(), review.clone()]), Outcome::Review);
    assert_eq!(outcome(&[review.clone(), decline.clone()]), Outcome::Decline);
    assert_eq!(outcome(&[decline, review, alert]), Outcome::Decline);
    assert!(Outcome::Pass < Outcome::Review && Outcome::Review < Outcome::Decline);
}

#[test]
fn alert_action_passes_but_opens_an_alert() {
    let decision = evaluate(&[grade("alert", Action::Alert, Mode::Active)], &suspicious());
    assert_eq!(decision.outcome, Outcome::Pass);
    assert!(decision.risk > 0, "an acting alert still carries its risk");
    assert_eq!(decision.alerts()[0].rule_id, "alert");
}

#[test]
fn trace_lists_every_enabled_rule_in_order() {
    let mut off = tank("off", Action::Decline, Mode::Active);
    off.enabled = false;
    let rules = [
        grade("hit", Action::Review, Mode::Active),
        off,
        config("miss", Rule::ImpossibleTravel { max_kmh: 100 }, Action::Decline, Mode::Active),
        tank("shadow", Action::Decline, Mode::Shadow),
    ];
    let decision = evaluate(&rules, &suspicious());
    assert_eq!(ids(&decision), ["hit", "miss", "shadow"]);
    let hit: Vec<bool> = decision.trace.iter().map(|e| e.hit.is_some()).collect();
    assert_eq!(hit, [true, false, true]);
    assert_eq!(decision.trace[2].mode, Mode::Shadow);
    assert_eq!(decision.outcome, Outcome::Review, "the disabled decline never ran");
}

#[test]
fn risk_is_the_highest_acting_score() {
    let mut f = suspicious();
    f.volume_ml = 160_000; // twice the tank: the maximum score
    let rules =
        [grade("grade", Action::Alert, Mode::Active), tank("tank", Action::Alert, Mode::Active)];
    assert_eq!(evaluate(&rules, &f).risk, 1000);
    let rules =
        [grade("grade", Action::Alert, Mode::Active), tank("tank", Action::Alert, Mode::Shadow)];
    assert_eq!(evaluate(&rules, &f).risk, 800);
}

#[test]
fn configs_round_trip_through_serde() {
    let rules = default_rules();
    let json = serde_json::to_string(&rules).unwrap();
    assert_eq!(serde_json::from_str::<Vec<RuleConfig>>(&json).unwrap(), rules);
    let value = serde_json::to_value(&rules[1]).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "id": "rapid_refills",
            "rule": {"kind": "rapid_refills", "max_fills": 3, "window_secs": 3600},
            "action": "review", "mode": "active", "enabled": true,
        })
    );
}

#[test]
fn decisions_round_trip_through_serde() {
    let decision = evaluate(&default_rules(), &suspicious());
    let json = serde_json::to_string(&decision).unwrap();
    assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), decision);
    let value = serde_json::to_value(&decision).unwrap();
    assert_eq!(value["outcome"], "decline");
    assert_eq!(value["trace"][0]["hit"]["observed"]["volume_ml"], 120_000);
    assert_eq!(value["trace"][3]["rule_id"], "impossible_travel");
    assert!(value["trace"][3]["hit"].is_null(), "misses are traced too");
}

#[test]
fn unknown_params_and_fields_are_rejected() {
    let base = serde_json::json!({
        "id": "x", "rule": {"kind": "impossible_travel", "max_kmh": 200},
        "action": "review", "mode": "active", "enabled": true,
    });
    assert!(serde_json::from_value::<RuleConfig>(base.clone()).is_ok());
    let mut extra_param = base.clone();
    extra_param["rule"]["min_distance_m"] = 5.into();
    let mut extra_field = base.clone();
    extra_field["priority"] = 1.into();
    let mut bad_action = base.clone();
    bad_action["action"] = "block".into();
    let mut bad_mode = base;
    bad_mode["mode"] = "dry_run".into();
    for bad in [extra_param, extra_field, bad_action, bad_mode] {
        assert!(serde_json::from_value::<RuleConfig>(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn rule_sets_are_validated_with_paths() {
    let mut rules = default_rules();
    rules[3].rule = Rule::ImpossibleTravel { max_kmh: 0 };
    assert_eq!(validate_rule_set(&rules).unwrap_err().field, "rules[3].rule.max_kmh");

    let mut rules = default_rules();
    rules[5].id = rules[0].id.clone();
    let error = validate_rule_set(&rules).unwrap_err();
    assert_eq!((error.field.as_str(), error.code), ("rules[5].id", "INVALID_VALUE"));

    for bad in ["", "Has Space", "UPPER", &"x".repeat(MAX_RULE_ID_CHARS + 1)] {
        let rule = tank(bad, Action::Alert, Mode::Active);
        assert_eq!(rule.validate().unwrap_err().field, "id", "{bad:?}");
    }
    let too_many = vec![tank("t", Action::Alert, Mode::Active); MAX_RULES + 1];
    assert_eq!(validate_rule_set(&too_many).unwrap_err().field, "rules");
}

const NOW_S: i64 = 1_750_000_000;

/// Mostly times around `NOW_S`, where the windows are, sometimes any i64 at all.
fn any_time() -> impl Strategy<Value = i64> {
    prop_oneof![4 => NOW_S - 200_000..NOW_S + 100, 1 => any::<i64>()]
}

/// Mostly points in Europe, where distances are plausible, sometimes any i32 pair.
fn any_coordinate(near: i32) -> impl Strategy<Value = i32> {
    prop_oneof![4 => near - 5_000_000..near + 5_000_000, 1 => any::<i32>()]
}

fn any_point() -> impl Strategy<Value = Option<GeoPoint>> {
    proptest::option::of(
        (any_coordinate(50_000_000), any_coordinate(10_000_000))
            .prop_map(|(lat_micro, lon_micro)| GeoPoint { lat_micro, lon_micro }),
    )
}

fn any_card() -> impl Strategy<Value = CardHistory> {
    let times = || proptest::collection::vec(any_time(), 0..25);
    (
        times(),
        proptest::option::of((any_time(), any_point())),
        proptest::array::uniform24(any::<u32>()),
        (any::<i64>(), any::<u32>()),
        (times(), times()),
        (proptest::option::of(any_time()), proptest::option::of(any_time())),
    )
        .prop_map(
            |(recent, last, usual_hours, (sum, count), (crypto, limit), (rebind, unblock))| {
                CardHistory {
                    recent_fill_times_s: recent,
                    last_fill: last
                        .map(|(time_s, station_location)| LastFill { time_s, station_location }),
                    usual_hours,
                    past_amount_sum_minor: sum,
                    past_amount_count: count,
                    cryptogram_failure_times_s: crypto,
                    limit_decline_times_s: limit,
                    last_rebind_s: rebind,
                    last_unblock_s: unblock,
                }
            },
        )
}

fn any_features() -> impl Strategy<Value = Features> {
    let vehicle = proptest::option::of(
        (
            any::<Option<i64>>(),
            proptest::option::of(proptest::sample::subsequence(Product::ALL.to_vec(), 0..5)),
        )
            .prop_map(|(tank_capacity_ml, products)| Vehicle { tank_capacity_ml, products }),
    );
    (
        (
            prop_oneof![Just(NOW_S), any::<i64>()],
            any::<u8>(),
            proptest::sample::select(Weekday::ALL.to_vec()),
        ),
        (any::<i64>(), any::<i64>(), proptest::sample::select(Product::ALL.to_vec())),
        any_point(),
        any_card(),
        vehicle,
    )
        .prop_map(
            |(
                (now_s, local_hour, local_weekday),
                (amount_minor, volume_ml, product),
                loc,
                card,
                vehicle,
            )| {
                Features {
                    now_s,
                    local_hour,
                    local_weekday,
                    amount_minor,
                    volume_ml,
                    product,
                    station_id: "st".to_owned(),
                    station_location: loc,
                    card,
                    vehicle,
                }
            },
        )
}

/// Any parameters at all, including ones `validate` would refuse.
fn any_rule() -> impl Strategy<Value = Rule> {
    let n = any::<u32>;
    prop_oneof![
        n().prop_map(|margin_permille| Rule::VolumeOverTank { margin_permille }),
        (n(), n())
            .prop_map(|(max_fills, window_secs)| Rule::RapidRefills { max_fills, window_secs }),
        Just(Rule::ProductNotForVehicle {}),
        n().prop_map(|max_kmh| Rule::ImpossibleTravel { max_kmh }),
        (n(), n()).prop_map(|(min_history_fills, max_share_permille)| {
            Rule::OutsideUsualHours { min_history_fills, max_share_permille }
        }),
        (n(), n()).prop_map(|(min_history_fills, multiple_permille)| {
            Rule::UnusualAmount { min_history_fills, multiple_permille }
        }),
        (n(), n()).prop_map(|(max_failures, window_secs)| Rule::RepeatedFailures {
            max_failures,
            window_secs
        }),
        n().prop_map(|within_secs| Rule::AfterRebindOrUnblock { within_secs }),
    ]
}

proptest! {
    #[test]
    fn evaluate_never_panics_and_risk_is_bounded(
        f in any_features(),
        extra in proptest::collection::vec(any_rule(), 0..8),
    ) {
        let mut rules = default_rules();
        let extra = extra.into_iter().map(|rule| config("x", rule, Action::Review, Mode::Active));
        rules.extend(extra);
        let decision = evaluate(&rules, &f);
        prop_assert!(decision.risk <= 1000);
        prop_assert_eq!(decision.trace.len(), rules.len());
        for hit in decision.trace.iter().filter_map(|e| e.hit.as_ref()) {
            prop_assert!(hit.score <= 1000);
        }
        let only_alerts = decision.alerts().iter().all(|e| e.action == Action::Alert);
        prop_assert_eq!(decision.outcome == Outcome::Pass, only_alerts);
    }
}
