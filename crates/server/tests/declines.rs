//! Every decline reason not already constructed elsewhere, through the HTTP API with real
//! cryptograms on both databases: each test sets the condition up the way a fleet would
//! (controls at some level, a station in another time zone, ...), pays at a signed
//! terminal, and checks the ISO 8583 code and the reason. The last test keeps the list
//! honest: a reason in `DeclineReason::ALL` must be constructed here, named with the test
//! file that constructs it, or listed as unreachable through the terminal API with why.

mod common;

use axum::http::StatusCode;
use common::phone::{now_ms, Phone};
use common::terminal::{qr_request, Terminal};
use common::{Backend, TestApp};
use domain::decline::DeclineReason;
use serde_json::{json, Value};

both_backends!(
    limit_per_auth_volume,
    limit_daily_volume,
    limit_weekly_amount,
    limit_weekly_volume,
    limit_weekly_count,
    limit_monthly_amount,
    limit_monthly_volume,
    limit_monthly_count,
    outside_time_window_in_station_local_time,
    card_expired,
    key_exhausted,
);

/// A 50.00 fill at 1.799/l: 27,793 ml. Below Anna's 70 l tank and far below the balance, so
/// only the control under test can bind.
const FILL: i64 = 5_000;
const FILL_ML: i64 = 27_793;

/// Where a control is set: the effective control is the tightest of the chain, so a limit
/// set at any level must name the decline the same way.
#[derive(Clone, Copy)]
enum Level {
    Card,
    Driver,
    Group,
    Org,
}

/// One limit: set it at `level`, make `approved_first` fills that it still allows, then one
/// more `FILL` that it must decline with `reason`.
struct Case {
    reason: &'static str,
    level: Level,
    controls: fn() -> Value,
    approved_first: usize,
}

/// Weekly and monthly periods are keyed in the org's time zone; a case's fills are
/// milliseconds apart, so only a run straddling a period boundary to the millisecond could
/// see them in two periods.
const CASES: &[Case] = &[
    Case {
        reason: "LIMIT_PER_AUTH_VOLUME",
        level: Level::Card,
        controls: || json!({"per_authorization": {"volume_ml": FILL_ML - 1}}),
        approved_first: 0,
    },
    Case {
        reason: "LIMIT_DAILY_VOLUME",
        level: Level::Card,
        controls: || json!({"daily": {"volume_ml": FILL_ML * 3 / 2}}),
        approved_first: 1,
    },
    Case {
        reason: "LIMIT_WEEKLY_AMOUNT",
        level: Level::Driver,
        controls: || json!({"weekly": {"amount": FILL * 2 + FILL / 2}}),
        approved_first: 2,
    },
    Case {
        reason: "LIMIT_WEEKLY_VOLUME",
        level: Level::Group,
        controls: || json!({"weekly": {"volume_ml": FILL_ML * 3 / 2}}),
        approved_first: 1,
    },
    Case {
        reason: "LIMIT_WEEKLY_COUNT",
        level: Level::Card,
        controls: || json!({"weekly": {"count": 2}}),
        approved_first: 2,
    },
    Case {
        reason: "LIMIT_MONTHLY_AMOUNT",
        level: Level::Org,
        controls: || json!({"monthly": {"amount": FILL + FILL / 2}}),
        approved_first: 1,
    },
    Case {
        reason: "LIMIT_MONTHLY_VOLUME",
        level: Level::Card,
        controls: || json!({"monthly": {"volume_ml": FILL_ML * 5 / 2}}),
        approved_first: 2,
    },
    Case {
        reason: "LIMIT_MONTHLY_COUNT",
        level: Level::Group,
        controls: || json!({"monthly": {"count": 1}}),
        approved_first: 1,
    },
];

/// Reasons the standalone tests of this file construct.
const CONSTRUCTED_BY_STANDALONE_TESTS: &[&str] =
    &["OUTSIDE_TIME_WINDOW", "CARD_EXPIRED", "KEY_EXHAUSTED"];

/// Reasons another test file constructs through the HTTP API with real cryptograms; the
/// coverage test checks the file really asserts the reason.
const CONSTRUCTED_ELSEWHERE: &[(&str, &str, &str)] = &[
    ("CRYPTOGRAM_INVALID", "authorizer.rs", include_str!("authorizer.rs")),
    ("CRYPTOGRAM_EXPIRED", "authorizer.rs", include_str!("authorizer.rs")),
    ("CLOCK_SKEW", "authorizer.rs", include_str!("authorizer.rs")),
    ("REPLAYED", "authorizer.rs", include_str!("authorizer.rs")),
    ("TOKEN_INACTIVE", "authorizer.rs", include_str!("authorizer.rs")),
    ("PRODUCT_NOT_ALLOWED", "authorizer.rs", include_str!("authorizer.rs")),
    ("STATION_NOT_ALLOWED", "authorizer.rs", include_str!("authorizer.rs")),
    ("LIMIT_PER_AUTH_AMOUNT", "authorizer.rs", include_str!("authorizer.rs")),
    ("LIMIT_DAILY_AMOUNT", "authorizer.rs", include_str!("authorizer.rs")),
    ("LIMIT_DAILY_COUNT", "authorizer.rs", include_str!("authorizer.rs")),
    ("TANK_CAPACITY", "authorizer.rs", include_str!("authorizer.rs")),
    ("INSUFFICIENT_FUNDS", "authorizer.rs", include_str!("authorizer.rs")),
    ("REVERSED_BEFORE_ORIGINAL", "authorizer.rs", include_str!("authorizer.rs")),
    ("DUPLICATE_TRANSMISSION", "authorizer.rs", include_str!("authorizer.rs")),
    ("FRAUD_SUSPECTED", "fraud.rs", include_str!("fraud.rs")),
    ("CARD_BLOCKED", "authorizer.rs", include_str!("authorizer.rs")),
    ("CARD_SUSPENDED", "authorizer.rs", include_str!("authorizer.rs")),
    ("CARD_CLOSED", "authorizer.rs", include_str!("authorizer.rs")),
    ("ISSUER_UNAVAILABLE", "faults.rs", include_str!("faults.rs")),
    ("SYSTEM_ERROR", "faults.rs", include_str!("faults.rs")),
];

/// Reasons the terminal API cannot produce today, and why.
const NOT_CONSTRUCTIBLE: &[(&str, &str)] = &[];

/// A funded fleet, a terminal, and Anna's phone holding a token for her card.
struct Fleet {
    app: TestApp,
    terminal: Terminal,
    phone: Phone,
    org: String,
    owner: String,
    atc: std::cell::Cell<u16>,
}

async fn fleet(app: TestApp) -> Fleet {
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
    Fleet { app, terminal, phone, org, owner, atc: std::cell::Cell::new(0) }
}

impl Fleet {
    /// A fresh QR cryptogram: a new ATC each time, four per key as the helpers do.
    fn qr(&self) -> String {
        let atc = self.atc.get() + 1;
        self.atc.set(atc);
        self.phone.qr(usize::from(atc / 4), atc, now_ms())
    }

    async fn fill(&self) -> Value {
        self.terminal.authorize(&self.app, &self.qr(), FILL, false).await
    }

    /// The controls path of Anna's card at `level`.
    async fn controls_path(&self, level: Level) -> String {
        match level {
            Level::Card => format!("/v1/cards/{}/controls", self.app.north_card()),
            Level::Driver => {
                let anna = self.app.user_id_by_email("anna@demo-taxi.example").await;
                format!("/v1/drivers/{anna}/controls")
            }
            Level::Group => {
                format!("/v1/groups/{}/controls", self.app.group_id("North depot").await)
            }
            Level::Org => format!("/v1/orgs/{}/controls", self.org),
        }
    }

    async fn set_controls(&self, level: Level, controls: Value) {
        let path = self.controls_path(level).await;
        let (status, body) = self.app.put(&path, &self.owner, controls).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

fn reason(answer: &Value) -> (Option<bool>, &str, &str) {
    (
        answer["approved"].as_bool(),
        answer["response_code"].as_str().unwrap_or(""),
        answer["reason"].as_str().unwrap_or(""),
    )
}

fn reason_named(code: &str) -> DeclineReason {
    DeclineReason::ALL
        .into_iter()
        .find(|r| r.code() == code)
        .unwrap_or_else(|| panic!("{code} is not a decline reason"))
}

/// Runs the table's case for `code`.
async fn run_case(b: Backend, code: &str) {
    let case = CASES.iter().find(|c| c.reason == code).expect("a case for the reason");
    let Some(app) = TestApp::start(b).await else { return };
    let f = fleet(app).await;
    f.set_controls(case.level, (case.controls)()).await;
    for n in 0..case.approved_first {
        let answer = f.fill().await;
        assert_eq!(reason(&answer), (Some(true), "00", ""), "fill {n} is within the limit");
    }
    let expected = reason_named(code);
    let refused = f.fill().await;
    assert_eq!(reason(&refused), (Some(false), expected.iso8583(), code), "{refused}");
    assert_eq!(refused["message"], expected.driver_message());
    assert_eq!(refused["approved_amount"], 0);
}

async fn limit_per_auth_volume(b: Backend) {
    run_case(b, "LIMIT_PER_AUTH_VOLUME").await;
}
async fn limit_daily_volume(b: Backend) {
    run_case(b, "LIMIT_DAILY_VOLUME").await;
}
async fn limit_weekly_amount(b: Backend) {
    run_case(b, "LIMIT_WEEKLY_AMOUNT").await;
}
async fn limit_weekly_volume(b: Backend) {
    run_case(b, "LIMIT_WEEKLY_VOLUME").await;
}
async fn limit_weekly_count(b: Backend) {
    run_case(b, "LIMIT_WEEKLY_COUNT").await;
}
async fn limit_monthly_amount(b: Backend) {
    run_case(b, "LIMIT_MONTHLY_AMOUNT").await;
}
async fn limit_monthly_volume(b: Backend) {
    run_case(b, "LIMIT_MONTHLY_VOLUME").await;
}
async fn limit_monthly_count(b: Backend) {
    run_case(b, "LIMIT_MONTHLY_COUNT").await;
}

/// Kiritimati is UTC+14 all year (no daylight saving), so its local day is known exactly
/// from UTC, and it differs from the UTC day for 14 hours of every day.
const FAR_EAST_ZONE: &str = "Pacific/Kiritimati";
const FAR_EAST_OFFSET_HOURS: i8 = 14;

async fn far_east_terminal(app: &TestApp) -> Terminal {
    let operator = app.operator().await;
    let station = json!({"name": "Kiritimati Fuel", "merchant_id": "M-3003", "lat_e6": 1_870_000,
                         "lon_e6": -157_430_000, "time_zone": FAR_EAST_ZONE, "products": ["diesel"]});
    let (status, station) = app.post("/v1/stations", &operator, station).await;
    assert_eq!(status, StatusCode::CREATED, "{station}");
    let station_id = station["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/stations/{station_id}/terminals");
    let (status, created) = app.post(&path, &operator, json!({"label": "Pump 1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = hex::decode(created["secret"].as_str().unwrap()).unwrap().try_into().unwrap();
    Terminal { id: created["terminal"]["id"].as_str().unwrap().to_owned(), station_id, secret }
}

/// The station's weekday `days_ahead` days from now, as the controls spell it.
fn station_weekday(days_ahead: u8) -> &'static str {
    let offset = time::UtcOffset::from_hms(FAR_EAST_OFFSET_HOURS, 0, 0).unwrap();
    let mut day = time::OffsetDateTime::now_utc().to_offset(offset).weekday();
    for _ in 0..days_ahead {
        day = day.next();
    }
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][usize::from(day.number_days_from_monday())]
}

fn whole_days(days: &[&str]) -> Value {
    json!({"time_windows": [{"days": days, "start": "00:00", "end": "24:00"}]})
}

/// Windows are whole station-local days, so the test does not depend on the hour: today
/// and tomorrow (in case midnight passes mid-test) allow the fill; two and three days ahead
/// exclude today whatever the hour. The UTC day differs from Kiritimati's most of the day,
/// so reading the window in UTC or the org's zone would fail here often.
async fn outside_time_window_in_station_local_time(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let mut f = fleet(app).await;
    f.terminal = far_east_terminal(&f.app).await;
    f.set_controls(Level::Card, whole_days(&[station_weekday(0), station_weekday(1)])).await;
    assert_eq!(reason(&f.fill().await), (Some(true), "00", ""), "inside the local day");
    f.set_controls(Level::Card, whole_days(&[station_weekday(2), station_weekday(3)])).await;
    let refused = f.fill().await;
    assert_eq!(reason(&refused), (Some(false), "57", "OUTSIDE_TIME_WINDOW"), "{refused}");
    assert_eq!(refused["message"], "Your card cannot be used at this time.");
}

/// No API makes an expired card (issuance sets the expiry at least a month ahead, and
/// nothing edits it), so the test moves the stored expiry into the past as time would.
async fn card_expired(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = fleet(app).await;
    assert_eq!(reason(&f.fill().await), (Some(true), "00", ""));
    set_card_expiry(&f.app, &f.app.north_card(), "2020-01").await;
    let refused = f.fill().await;
    assert_eq!(reason(&refused), (Some(false), "54", "CARD_EXPIRED"), "{refused}");
    let (_, card) = f.app.get(&format!("/v1/cards/{}", f.app.north_card()), &f.owner).await;
    assert_eq!(card["expiry"], "2020-01", "{card}");
}

async fn set_card_expiry(app: &TestApp, card: &str, expiry: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("db");
    let done = sqlx::query("UPDATE cards SET expiry = $1 WHERE id = $2")
        .bind(expiry)
        .bind(card)
        .execute(&mut db)
        .await
        .expect("update");
    assert_eq!(done.rows_affected(), 1);
}

/// A LUK allows four cryptograms: the fifth made with it is refused through the terminal,
/// and the next key still works.
async fn key_exhausted(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = fleet(app).await;
    for atc in 1..=4 {
        let qr = f.phone.qr(0, atc, now_ms());
        let answer = f.terminal.authorize(&f.app, &qr, 1_000, false).await;
        assert_eq!(reason(&answer), (Some(true), "00", ""), "use {atc} of the key");
    }
    let fifth = f.phone.qr(0, 5, now_ms());
    let refused = f.terminal.authorize(&f.app, &fifth, 1_000, false).await;
    assert_eq!(reason(&refused), (Some(false), "05", "KEY_EXHAUSTED"), "{refused}");
    let next_key = f.phone.qr(1, 6, now_ms());
    let body = qr_request(&next_key, 1_000, false);
    let (status, answer) = f.terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
    assert_eq!((status, reason(&answer)), (StatusCode::OK, (Some(true), "00", "")), "{answer}");
}

/// Every reason is constructed by a test (here or in the named file), or listed with why
/// it cannot be; the lists name only real reasons, and no reason twice.
#[test]
fn every_decline_reason_is_constructed_or_explained() {
    let here =
        CASES.iter().map(|c| c.reason).chain(CONSTRUCTED_BY_STANDALONE_TESTS.iter().copied());
    let elsewhere = CONSTRUCTED_ELSEWHERE.iter().map(|(code, _, _)| *code);
    let unreachable = NOT_CONSTRUCTIBLE.iter().map(|(code, _)| *code);
    let listed: Vec<&str> = here.chain(elsewhere).chain(unreachable).collect();
    for code in &listed {
        reason_named(code);
        assert_eq!(listed.iter().filter(|c| *c == code).count(), 1, "{code} listed twice");
    }
    for r in DeclineReason::ALL {
        assert!(listed.contains(&r.code()), "{} is neither constructed nor explained", r.code());
    }
    for (code, file, text) in CONSTRUCTED_ELSEWHERE {
        assert!(text.contains(&format!("\"{code}\"")), "{file} does not assert {code}");
    }
}
