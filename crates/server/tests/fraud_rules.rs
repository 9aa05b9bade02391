//! Each fraud rule of DESIGN §6 firing through the HTTP API with real cryptograms, once in
//! `active` mode (its default action: `decline` answers 59 and opens an alert, `review` and
//! `alert` approve and open one) and once in `shadow` mode (approved, no alert, the hit is
//! in the authorization's decision trace). Analysts tune the rules' parameters through the
//! API so each scenario needs two or three fills. Confirmed fraud blocking the card is in
//! `fraud.rs`.

mod common;

use axum::http::StatusCode;
use common::phone::{now_ms, Phone};
use common::terminal::{qr_request, stan, transmitted_at, Terminal};
use common::{Backend, TestApp};
use serde_json::{json, Value};

both_backends!(
    volume_over_tank_active,
    volume_over_tank_shadow,
    rapid_refills_active,
    rapid_refills_shadow,
    product_not_for_vehicle_active,
    product_not_for_vehicle_shadow,
    impossible_travel_active,
    impossible_travel_shadow,
    outside_usual_hours_active,
    outside_usual_hours_shadow,
    unusual_amount_active,
    unusual_amount_shadow,
    repeated_failures_active,
    repeated_failures_shadow,
    after_rebind_or_unblock_active,
    after_rebind_or_unblock_shadow,
);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Active,
    Shadow,
}

/// One rule: the parameters that make its scenario cheap (`None`: the defaults do) and
/// the action its default configuration takes when active.
struct RuleCase {
    id: &'static str,
    params: Option<fn() -> Value>,
    action: &'static str,
}

const RULES: &[RuleCase] = &[
    RuleCase { id: "volume_over_tank", params: None, action: "review" },
    RuleCase {
        id: "rapid_refills",
        params: Some(|| json!({"kind": "rapid_refills", "max_fills": 2, "window_secs": 3_600})),
        action: "review",
    },
    RuleCase { id: "product_not_for_vehicle", params: None, action: "decline" },
    RuleCase { id: "impossible_travel", params: None, action: "review" },
    RuleCase {
        id: "outside_usual_hours",
        params: Some(
            || json!({"kind": "outside_usual_hours", "min_history_fills": 1, "max_share_permille": 0}),
        ),
        action: "alert",
    },
    RuleCase {
        id: "unusual_amount",
        params: Some(
            || json!({"kind": "unusual_amount", "min_history_fills": 1, "multiple_permille": 2_000}),
        ),
        action: "review",
    },
    RuleCase {
        id: "repeated_failures",
        params: Some(
            || json!({"kind": "repeated_failures", "max_failures": 1, "window_secs": 900}),
        ),
        action: "decline",
    },
    RuleCase { id: "after_rebind_or_unblock", params: None, action: "review" },
];

/// Hamburg and Munich: 612 km apart.
const HAMBURG: (i64, i64) = (53_551_086, 9_993_682);
const MUNICH: (i64, i64) = (48_137_154, 11_576_124);

/// A funded fleet, a terminal in Hamburg, Anna's phone with a token for her card, and the
/// analyst.
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
    let path = format!("/v1/orgs/{org}/account/credits");
    let (status, account) =
        app.post(&path, &app.operator().await, json!({"amount": 1_000_000})).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &app.north_card()).await;
    let analyst = app.analyst().await;
    Fraud { app, terminal, phone, org, owner, analyst, atc: std::cell::Cell::new(0) }
}

impl Fraud {
    fn qr(&self) -> String {
        let atc = self.atc.get() + 1;
        self.atc.set(atc);
        self.phone.qr(usize::from(atc / 4), atc, now_ms())
    }

    /// A diesel fill of `amount` at `terminal`.
    async fn fill_at(&self, terminal: &Terminal, amount: i64) -> Value {
        terminal.authorize(&self.app, &self.qr(), amount, false).await
    }

    async fn fill(&self) -> Value {
        self.fill_at(&self.terminal, 5_000).await
    }

    async fn edit_rule(&self, rule_id: &str, edit: Value) {
        let path = format!("/v1/fraud/rules/{rule_id}?org_id={}", self.org);
        let (status, rules) = self.app.put(&path, &self.analyst, edit).await;
        assert_eq!(status, StatusCode::OK, "{rules}");
    }

    async fn alerts_of(&self, rule_id: &str) -> Vec<Value> {
        let path = format!("/v1/alerts?rule_id={rule_id}");
        let (status, queue) = self.app.get(&path, &self.analyst).await;
        assert_eq!(status, StatusCode::OK, "{queue}");
        queue["alerts"].as_array().unwrap().clone()
    }

    /// The trace entry of `rule_id` in the stored authorization, as the fleet reads it.
    async fn trace_entry(&self, authorization: &Value, rule_id: &str) -> Value {
        let (status, fills) = self.app.get("/v1/authorizations", &self.owner).await;
        assert_eq!(status, StatusCode::OK, "{fills}");
        let id = &authorization["authorization_id"];
        let fill = fills.as_array().unwrap().iter().find(|a| a["id"] == *id).expect("stored");
        let trace = fill["trace"]["fraud"]["trace"].as_array().expect("fraud trace");
        trace.iter().find(|e| e["rule_id"] == rule_id).cloned().expect("rule evaluated")
    }

    /// A terminal at a new station selling diesel and petrol.
    async fn station(&self, (lat, lon): (i64, i64), time_zone: &str) -> Terminal {
        let operator = self.app.operator().await;
        let station = json!({"name": "Elsewhere", "merchant_id": "M-4004", "lat_e6": lat,
                             "lon_e6": lon, "time_zone": time_zone,
                             "products": ["diesel", "petrol_95"]});
        let (status, station) = self.app.post("/v1/stations", &operator, station).await;
        assert_eq!(status, StatusCode::CREATED, "{station}");
        let station_id = station["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/stations/{station_id}/terminals");
        let (status, created) = self.app.post(&path, &operator, json!({"label": "Pump"})).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = hex::decode(created["secret"].as_str().unwrap()).unwrap().try_into().unwrap();
        Terminal { id: created["terminal"]["id"].as_str().unwrap().to_owned(), station_id, secret }
    }

    async fn card_status(&self, status: &str) {
        let path = format!("/v1/cards/{}/status", self.app.north_card());
        let body = json!({"status": status, "reason": "driver called"});
        let (code, card) = self.app.post(&path, &self.owner, body).await;
        assert_eq!(code, StatusCode::OK, "{card}");
    }
}

/// Makes `rule` fire: returns the fills before (which must not hit it) and the probe that
/// must.
async fn scenario(f: &Fraud, rule: &str) -> (Vec<Value>, Value) {
    match rule {
        // A 90 l preset on a 70 l tank: the limits approve the tank's worth (partial), the
        // rule judges the 90 l asked for (above 70 l + 10 %).
        "volume_over_tank" => {
            let before = f.fill().await;
            let body = json!({"stan": stan(), "transmitted_at": transmitted_at(), "entry_mode": "qr",
                              "qr": f.qr(), "pump": 1, "products": ["diesel"], "volume_ml": 90_000,
                              "unit_price": 179_900, "partial_supported": true});
            let (status, probe) =
                f.terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
            assert_eq!(status, StatusCode::OK, "{probe}");
            (vec![before], probe)
        }
        "rapid_refills" => (vec![f.fill().await], f.fill().await),
        "product_not_for_vehicle" => {
            let petrol = f.station(HAMBURG, "Europe/Berlin").await;
            let before = f.fill_at(&petrol, 5_000).await;
            let mut body = qr_request(&f.qr(), 5_000, false);
            body["products"] = json!(["petrol_95"]);
            let (status, probe) = petrol.send(&f.app, "/v1/terminal/authorizations", &body).await;
            assert_eq!(status, StatusCode::OK, "{probe}");
            (vec![before], probe)
        }
        "impossible_travel" => {
            let munich = f.station(MUNICH, "Europe/Berlin").await;
            (vec![f.fill().await], f.fill_at(&munich, 5_000).await)
        }
        // The same place, but a station whose local hour is 12 or 13 hours from Berlin's:
        // the card's only past fill is at another hour of the day.
        "outside_usual_hours" => {
            let far_zone = f.station(HAMBURG, "Pacific/Kiritimati").await;
            (vec![f.fill().await], f.fill_at(&far_zone, 5_000).await)
        }
        "unusual_amount" => {
            let before = f.fill_at(&f.terminal, 1_000).await;
            (vec![before], f.fill_at(&f.terminal, 5_000).await)
        }
        "repeated_failures" => {
            let qr = f.qr();
            let before = f.terminal.authorize(&f.app, &qr, 5_000, false).await;
            let replayed = f.terminal.authorize(&f.app, &qr, 5_000, false).await;
            assert_eq!(replayed["reason"], "REPLAYED", "{replayed}");
            (vec![before], f.fill().await)
        }
        "after_rebind_or_unblock" => {
            let before = f.fill().await;
            f.card_status("suspended").await;
            f.card_status("active").await;
            (vec![before], f.fill().await)
        }
        other => panic!("no scenario for {other}"),
    }
}

/// Runs `rule`'s scenario with the rule in `mode`, then checks the answer, the queue and
/// the trace.
async fn run(b: Backend, rule: &str, mode: Mode) {
    let case = RULES.iter().find(|r| r.id == rule).expect("a case for the rule");
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app).await;
    let mode_name = if mode == Mode::Active { "active" } else { "shadow" };
    let mut edit = json!({"mode": mode_name, "action": case.action});
    if let Some(params) = case.params {
        edit["rule"] = params();
    }
    f.edit_rule(rule, edit).await;
    let (before, probe) = scenario(&f, rule).await;
    for fill in &before {
        assert_eq!(fill["approved"], true, "{fill}");
        assert!(f.trace_entry(fill, rule).await["hit"].is_null(), "no hit before: {fill}");
    }
    let declines = mode == Mode::Active && case.action == "decline";
    let expected_reason = if declines { json!("FRAUD_SUSPECTED") } else { Value::Null };
    assert_eq!((&probe["approved"], &probe["reason"]), (&json!(!declines), &expected_reason));
    if declines {
        assert_eq!(probe["response_code"], "59", "{probe}");
    }
    let entry = f.trace_entry(&probe, rule).await;
    assert_eq!(entry["mode"], mode_name, "{entry}");
    assert!(entry["hit"].is_object(), "the hit is traced: {entry}");
    let alerts = f.alerts_of(rule).await;
    match mode {
        Mode::Shadow => assert!(alerts.is_empty(), "a shadow hit opens no alert: {alerts:?}"),
        Mode::Active => {
            assert_eq!(alerts.len(), 1, "{alerts:?}");
            assert_eq!(alerts[0]["authorization_id"], probe["authorization_id"]);
            assert_eq!(alerts[0]["status"], "open");
            assert_eq!(
                alerts[0]["observed"], entry["hit"]["observed"],
                "the queue shows what it saw"
            );
        }
    }
}

async fn volume_over_tank_active(b: Backend) {
    run(b, "volume_over_tank", Mode::Active).await;
}
async fn volume_over_tank_shadow(b: Backend) {
    run(b, "volume_over_tank", Mode::Shadow).await;
}
async fn rapid_refills_active(b: Backend) {
    run(b, "rapid_refills", Mode::Active).await;
}
async fn rapid_refills_shadow(b: Backend) {
    run(b, "rapid_refills", Mode::Shadow).await;
}
async fn product_not_for_vehicle_active(b: Backend) {
    run(b, "product_not_for_vehicle", Mode::Active).await;
}
async fn product_not_for_vehicle_shadow(b: Backend) {
    run(b, "product_not_for_vehicle", Mode::Shadow).await;
}
async fn impossible_travel_active(b: Backend) {
    run(b, "impossible_travel", Mode::Active).await;
}
async fn impossible_travel_shadow(b: Backend) {
    run(b, "impossible_travel", Mode::Shadow).await;
}
async fn outside_usual_hours_active(b: Backend) {
    run(b, "outside_usual_hours", Mode::Active).await;
}
async fn outside_usual_hours_shadow(b: Backend) {
    run(b, "outside_usual_hours", Mode::Shadow).await;
}
async fn unusual_amount_active(b: Backend) {
    run(b, "unusual_amount", Mode::Active).await;
}
async fn unusual_amount_shadow(b: Backend) {
    run(b, "unusual_amount", Mode::Shadow).await;
}
async fn repeated_failures_active(b: Backend) {
    run(b, "repeated_failures", Mode::Active).await;
}
async fn repeated_failures_shadow(b: Backend) {
    run(b, "repeated_failures", Mode::Shadow).await;
}
async fn after_rebind_or_unblock_active(b: Backend) {
    run(b, "after_rebind_or_unblock", Mode::Active).await;
}
async fn after_rebind_or_unblock_shadow(b: Backend) {
    run(b, "after_rebind_or_unblock", Mode::Shadow).await;
}

/// Every default rule has a case here, so a new rule cannot go untested.
#[test]
fn every_default_rule_has_a_scenario() {
    for rule in fraud::default_rules() {
        let id = rule.id;
        assert!(RULES.iter().any(|r| r.id == id), "no scenario for {id}");
    }
}
