//! Fraud rules inside the authorization, the alert queue and its resolution, through the
//! HTTP API with real cryptograms: review and decline actions, shadow mode, rapid refills,
//! a fuel grade the vehicle does not take, confirmed fraud blocking the card, the rules'
//! false-positive counts, and the analysts-only guard.

mod common;

use axum::http::StatusCode;
use common::phone::{now_ms, Phone};
use common::terminal::{qr_request, Terminal};
use common::{Backend, TestApp};
use serde_json::{json, Value};

both_backends!(
    rapid_refills_open_a_review_alert_on_the_third_fill,
    an_active_decline_rule_answers_59_and_opens_an_alert,
    a_shadow_rule_changes_nothing_but_is_in_the_trace,
    a_fuel_grade_the_vehicle_does_not_take_is_declined,
    confirmed_fraud_blocks_the_card_and_the_next_fill_declines,
    a_false_positive_is_counted_in_the_rule_stats,
    repeated_limit_declines_trip_the_failure_rule,
    replayed_cryptograms_trip_the_failure_rule_but_expired_ones_do_not,
    non_analysts_get_403,
);

/// A funded fleet, a terminal, Anna's phone with a token for her card, and the analyst.
struct Fraud {
    app: TestApp,
    terminal: Terminal,
    phone: Phone,
    org: String,
    owner: String,
    analyst: String,
    atc: std::cell::Cell<u16>,
}

async fn setup(app: TestApp) -> Fraud {
    let terminal = Terminal::register(&app).await;
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().unwrap().to_owned();
    let operator = app.operator().await;
    let path = format!("/v1/orgs/{org}/account/credits");
    let (status, account) = app.post(&path, &operator, json!({"amount": 1_000_000})).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &app.north_card()).await;
    let analyst = app.analyst().await;
    Fraud { app, terminal, phone, org, owner, analyst, atc: std::cell::Cell::new(0) }
}

impl Fraud {
    /// A fresh QR cryptogram: a new ATC each time, four per key as the helpers do.
    fn qr(&self) -> String {
        let atc = self.atc.get() + 1;
        self.atc.set(atc);
        self.phone.qr(usize::from(atc / 4), atc, now_ms())
    }

    /// A 50.00 diesel fill at this fixture's terminal.
    async fn fill(&self) -> Value {
        self.terminal.authorize(&self.app, &self.qr(), 5_000, false).await
    }

    async fn edit_rule(&self, rule_id: &str, edit: Value) -> Value {
        let path = format!("/v1/fraud/rules/{rule_id}?org_id={}", self.org);
        let (status, rules) = self.app.put(&path, &self.analyst, edit).await;
        assert_eq!(status, StatusCode::OK, "{rules}");
        rules
    }

    async fn queue(&self, query: &str) -> Value {
        let (status, queue) = self.app.get(&format!("/v1/alerts?{query}"), &self.analyst).await;
        assert_eq!(status, StatusCode::OK, "{queue}");
        queue
    }

    /// Three fills within the hour: the third trips `rapid_refills` (review). Returns its
    /// alert id.
    async fn rapid_refill_alert(&self) -> String {
        for _ in 0..3 {
            assert_eq!(reason(&self.fill().await), ("00", ""));
        }
        let queue = self.queue("rule_id=rapid_refills").await;
        assert_eq!(queue["alerts"].as_array().unwrap().len(), 1, "{queue}");
        queue["alerts"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn resolve(&self, alert: &str, resolution: &str) -> Value {
        let path = format!("/v1/alerts/{alert}/resolve");
        let body = json!({"resolution": resolution, "note": "checked with the fleet"});
        let (status, resolved) = self.app.post(&path, &self.analyst, body).await;
        assert_eq!(status, StatusCode::OK, "{resolved}");
        resolved
    }
}

fn reason(answer: &Value) -> (&str, &str) {
    (answer["response_code"].as_str().unwrap(), answer["reason"].as_str().unwrap_or(""))
}

/// The fraud trace entry of `rule_id` in the stored authorization.
async fn fraud_entry(f: &Fraud, authorization_id: &str, rule_id: &str) -> Value {
    let (_, fills) = f.app.get("/v1/authorizations", &f.owner).await;
    let fill = fills.as_array().unwrap().iter().find(|a| a["id"] == authorization_id).unwrap();
    let trace = fill["trace"]["fraud"]["trace"].as_array().expect("fraud trace stored");
    trace.iter().find(|e| e["rule_id"] == rule_id).cloned().unwrap_or(Value::Null)
}

async fn rapid_refills_open_a_review_alert_on_the_third_fill(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    for _ in 0..2 {
        assert_eq!(reason(&f.fill().await), ("00", ""));
    }
    assert_eq!(f.queue("").await["alerts"], json!([]), "two fills are not rapid");
    let third = f.fill().await;
    assert_eq!((third["approved"].as_bool(), reason(&third)), (Some(true), ("00", "")));
    let queue = f.queue("status=open").await;
    let alert = &queue["alerts"][0];
    assert_eq!(
        (alert["rule_id"].as_str(), alert["status"].as_str(), &alert["authorization_id"]),
        (Some("rapid_refills"), Some("open"), &third["authorization_id"])
    );
    assert_eq!(alert["observed"]["fills_in_window"], 3, "{alert}");
    assert_eq!(queue["counts"]["open"], 1);
    let id = third["authorization_id"].as_str().unwrap();
    let entry = fraud_entry(&f, id, "rapid_refills").await;
    assert!(entry["hit"].is_object(), "{entry}");
}

async fn an_active_decline_rule_answers_59_and_opens_an_alert(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    f.edit_rule(
        "rapid_refills",
        json!({"rule": {"kind": "rapid_refills", "max_fills": 2, "window_secs": 3600},
               "action": "decline"}),
    )
    .await;
    assert_eq!(reason(&f.fill().await), ("00", ""));
    let second = f.fill().await;
    assert_eq!(
        (second["approved"].as_bool(), reason(&second)),
        (Some(false), ("59", "FRAUD_SUSPECTED"))
    );
    let queue = f.queue("rule_id=rapid_refills").await;
    assert_eq!(queue["alerts"][0]["authorization_id"], second["authorization_id"]);
    let account = f.app.get(&format!("/v1/orgs/{}/account", f.org), &f.owner).await.1;
    assert_eq!(account["held"], 5_000, "the declined fill holds nothing");
}

async fn a_shadow_rule_changes_nothing_but_is_in_the_trace(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    f.edit_rule(
        "rapid_refills",
        json!({"rule": {"kind": "rapid_refills", "max_fills": 2, "window_secs": 3600},
               "action": "decline", "mode": "shadow"}),
    )
    .await;
    assert_eq!(reason(&f.fill().await), ("00", ""));
    let second = f.fill().await;
    assert_eq!(reason(&second), ("00", ""), "a shadow rule never declines");
    assert_eq!(f.queue("").await["alerts"], json!([]), "nor opens alerts");
    let id = second["authorization_id"].as_str().unwrap();
    let entry = fraud_entry(&f, id, "rapid_refills").await;
    assert_eq!(entry["mode"], "shadow");
    assert!(entry["hit"].is_object(), "the shadow hit is traced: {entry}");
}

/// A terminal at a station that also sells petrol.
async fn petrol_terminal(app: &TestApp) -> Terminal {
    let operator = app.operator().await;
    let station = json!({"name": "Tankstelle Süd", "merchant_id": "M-2002", "lat_e6": 53_551_086,
                         "lon_e6": 9_993_682, "time_zone": "Europe/Berlin",
                         "products": ["diesel", "petrol_95"]});
    let (status, station) = app.post("/v1/stations", &operator, station).await;
    assert_eq!(status, StatusCode::CREATED, "{station}");
    let station_id = station["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/stations/{station_id}/terminals");
    let (status, created) = app.post(&path, &operator, json!({"label": "Pump 2"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = hex::decode(created["secret"].as_str().unwrap()).unwrap().try_into().unwrap();
    Terminal { id: created["terminal"]["id"].as_str().unwrap().to_owned(), station_id, secret }
}

async fn a_fuel_grade_the_vehicle_does_not_take_is_declined(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    let terminal = petrol_terminal(&f.app).await;
    let mut body = qr_request(&f.qr(), 5_000, false);
    body["products"] = json!(["petrol_95"]);
    let (status, answer) = terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(reason(&answer), ("59", "FRAUD_SUSPECTED"), "the van takes diesel and AdBlue");
    let queue = f.queue("rule_id=product_not_for_vehicle").await;
    assert_eq!(queue["alerts"][0]["observed"]["product"], "petrol_95", "{queue}");
    // Diesel at the same pump is fine.
    let mut body = qr_request(&f.qr(), 5_000, false);
    body["products"] = json!(["diesel"]);
    let (_, answer) = terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
    assert_eq!(reason(&answer), ("00", ""));
}

async fn confirmed_fraud_blocks_the_card_and_the_next_fill_declines(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    let alert = f.rapid_refill_alert().await;
    let (status, taken) =
        f.app.post(&format!("/v1/alerts/{alert}/take"), &f.analyst, json!({})).await;
    assert_eq!((status, taken["status"].as_str()), (StatusCode::OK, Some("taken")), "{taken}");
    let again = f.app.post(&format!("/v1/alerts/{alert}/take"), &f.analyst, json!({})).await;
    assert_eq!(again.0, StatusCode::CONFLICT, "taken once");
    let path = format!("/v1/alerts/{alert}/comments");
    let (status, _) = f.app.post(&path, &f.analyst, json!({"body": "driver unreachable"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let resolved = f.resolve(&alert, "confirmed_fraud").await;
    assert_eq!(resolved["status"], "confirmed_fraud");
    let (_, card) = f.app.get(&format!("/v1/cards/{}", f.app.north_card()), &f.owner).await;
    assert_eq!(card["status"], "blocked", "{card}");
    let (_, events) =
        f.app.get(&format!("/v1/cards/{}/events", f.app.north_card()), &f.owner).await;
    assert!(events.to_string().contains("card.blocked"), "the block is audited: {events}");
    let next = f.fill().await;
    assert!(matches!(reason(&next), ("62", "TOKEN_INACTIVE") | (_, "CARD_BLOCKED")), "{next}");
    let (status, detail) = f.app.get(&format!("/v1/alerts/{alert}"), &f.analyst).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(detail["authorization"]["trace"]["fraud"]["trace"].is_array(), "{detail}");
    assert!(detail["recent_fills"].as_array().unwrap().len() >= 3);
    let comments = detail["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2, "the comment and the resolution note: {detail}");
}

async fn a_false_positive_is_counted_in_the_rule_stats(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    let alert = f.rapid_refill_alert().await;
    assert_eq!(f.resolve(&alert, "false_positive").await["status"], "false_positive");
    let again = f
        .app
        .post(
            &format!("/v1/alerts/{alert}/resolve"),
            &f.analyst,
            json!({"resolution": "confirmed_fraud"}),
        )
        .await;
    assert_eq!(again.0, StatusCode::CONFLICT, "resolved once");
    let (status, rules) = f.app.get(&format!("/v1/fraud/rules?org_id={}", f.org), &f.analyst).await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    let rule = rules.as_array().unwrap().iter().find(|r| r["id"] == "rapid_refills").unwrap();
    for window in ["last_7_days", "last_30_days"] {
        assert_eq!(rule[window], json!({"hits": 1, "confirmed": 0, "false_positives": 1}));
    }
    let (_, card) = f.app.get(&format!("/v1/cards/{}", f.app.north_card()), &f.owner).await;
    assert_eq!(card["status"], "active", "a false positive leaves the card alone");
    assert_eq!(f.queue("").await["counts"]["false_positive"], 1);
}

async fn repeated_limit_declines_trip_the_failure_rule(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    let path = format!("/v1/cards/{}/controls", f.app.north_card());
    let (status, _) =
        f.app.put(&path, &f.owner, json!({"per_authorization": {"amount": 1_000}})).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(reason(&f.fill().await), ("61", "LIMIT_PER_AUTH_AMOUNT"));
    }
    let (status, _) = f.app.put(&path, &f.owner, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let probe = f.fill().await;
    assert_eq!(reason(&probe), ("59", "FRAUD_SUSPECTED"), "three limit declines in 15 min");
    assert_eq!(f.queue("rule_id=repeated_failures").await["counts"]["open"], 1);
}

async fn replayed_cryptograms_trip_the_failure_rule_but_expired_ones_do_not(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    for atc in 1..=3 {
        let stale = f.phone.qr(0, atc, now_ms() - 200_000);
        let answer = f.terminal.authorize(&f.app, &stale, 5_000, false).await;
        assert_eq!(reason(&answer), ("05", "CRYPTOGRAM_EXPIRED"));
    }
    f.atc.set(3);
    let first = f.qr();
    assert_eq!(reason(&f.terminal.authorize(&f.app, &first, 5_000, false).await), ("00", ""));
    for _ in 0..3 {
        let replayed = f.terminal.authorize(&f.app, &first, 5_000, false).await;
        assert_eq!(reason(&replayed), ("94", "REPLAYED"));
    }
    let probe = f.fill().await;
    assert_eq!(reason(&probe), ("59", "FRAUD_SUSPECTED"), "three replays in 15 min: {probe}");
    let queue = f.queue("rule_id=repeated_failures").await;
    assert_eq!(queue["alerts"][0]["observed"]["cryptogram_failures"], 3, "{queue}");
}

async fn non_analysts_get_403(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    let alert = f.rapid_refill_alert().await;
    let others = [f.owner.clone(), f.app.operator().await, f.app.anna().await];
    for token in &others {
        let rules = format!("/v1/fraud/rules?org_id={}", f.org);
        assert_eq!(f.app.get("/v1/alerts", token).await.0, StatusCode::FORBIDDEN);
        assert_eq!(f.app.get(&format!("/v1/alerts/{alert}"), token).await.0, StatusCode::FORBIDDEN);
        assert_eq!(f.app.get(&rules, token).await.0, StatusCode::FORBIDDEN);
        let take = f.app.post(&format!("/v1/alerts/{alert}/take"), token, json!({})).await;
        assert_eq!(take.0, StatusCode::FORBIDDEN);
        let resolve = json!({"resolution": "false_positive"});
        let resolved = f.app.post(&format!("/v1/alerts/{alert}/resolve"), token, resolve).await;
        assert_eq!(resolved.0, StatusCode::FORBIDDEN);
        let edit = json!({"mode": "shadow"});
        let path = format!("/v1/fraud/rules/rapid_refills?org_id={}", f.org);
        assert_eq!(f.app.put(&path, token, edit).await.0, StatusCode::FORBIDDEN);
    }
    let bad = json!({"rule": {"kind": "rapid_refills", "max_fills": 0, "window_secs": 60}});
    let path = format!("/v1/fraud/rules/rapid_refills?org_id={}", f.org);
    let (status, err) = f.app.put(&path, &f.analyst, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["error"]["field"], "rule.max_fills");
}
