//! The terminal authorizer through the HTTP API with real cryptograms: decisions and their
//! reasons, partial approvals, holds and the ledger, completion, reversal, expiry,
//! idempotent retries, signed terminal requests, and limits under concurrency.

mod common;

use axum::http::StatusCode;
use common::phone::{now_ms, Phone};
use common::terminal::{qr_request, stan, transmitted_at, Terminal};
use common::{Backend, TestApp};
use serde_json::{json, Value};

both_backends!(
    approve_complete_and_the_ledger_balances,
    partial_approval_or_a_specific_decline_at_a_limit,
    each_decline_reason_from_a_constructed_case,
    completion_below_equal_and_above_the_approval,
    reversal_and_an_early_reversal_before_its_original,
    expired_hold_then_late_completion,
    retries_get_the_first_answer_and_conflicts_are_refused,
    unsigned_stale_replayed_forged_and_suspended_terminals_are_refused,
    concurrent_preauthorizations_never_exceed_the_daily_count,
    concurrent_preauthorizations_never_hold_more_than_the_account_has,
    a_replayed_request_is_refused_even_when_its_nonce_rides_on_the_write,
    the_sweep_forgets_old_nonces_oldest_first_and_keeps_the_rest,
);

/// A fleet with money, a terminal, and Anna's phone holding a token for her card.
struct Fill {
    app: TestApp,
    terminal: Terminal,
    phone: Phone,
    org: String,
    owner: String,
}

async fn setup(app: TestApp, credit: i64) -> Fill {
    let terminal = Terminal::register(&app).await;
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().unwrap().to_owned();
    let operator = app.operator().await;
    let (status, account) = app
        .post(&format!("/v1/orgs/{org}/account/credits"), &operator, json!({"amount": credit}))
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &app.north_card()).await;
    Fill { app, terminal, phone, org, owner }
}

impl Fill {
    async fn account(&self) -> Value {
        let (status, account) =
            self.app.get(&format!("/v1/orgs/{}/account", self.org), &self.owner).await;
        assert_eq!(status, StatusCode::OK, "{account}");
        let sum = ["available", "held", "spent"]
            .iter()
            .map(|k| account[k].as_i64().unwrap())
            .sum::<i64>();
        assert_eq!(sum, account["credited"].as_i64().unwrap(), "the ledger balances: {account}");
        account
    }

    async fn card_controls(&self, controls: Value) {
        let path = format!("/v1/cards/{}/controls", self.app.north_card());
        assert_eq!(self.app.put(&path, &self.owner, controls).await.0, StatusCode::OK);
    }

    async fn complete(&self, id: &str, amount: i64) -> (StatusCode, Value) {
        let body = json!({"amount": amount, "volume_ml": amount * 5, "product": "diesel"});
        self.terminal
            .send(&self.app, &format!("/v1/terminal/authorizations/{id}/completion"), &body)
            .await
    }
}

fn reason(answer: &Value) -> (&str, &str) {
    (answer["response_code"].as_str().unwrap(), answer["reason"].as_str().unwrap_or(""))
}

async fn approve_complete_and_the_ledger_balances(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app, 100_000).await;
    let answer = f.terminal.authorize(&f.app, &f.phone.qr(0, 1, now_ms()), 10_000, false).await;
    assert_eq!((answer["approved"].as_bool(), reason(&answer)), (Some(true), ("00", "")));
    assert_eq!(answer["approved_amount"], 10_000);
    assert_eq!(answer["allowed_products"], json!(["diesel"]));
    let account = f.account().await;
    assert_eq!(
        (account["available"].as_i64(), account["held"].as_i64()),
        (Some(90_000), Some(10_000))
    );
    let id = answer["authorization_id"].as_str().unwrap();
    let (status, done) = f.complete(id, 7_450).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["status"].as_str(), done["final_amount"].as_i64()),
        (Some("completed"), Some(7_450))
    );
    let account = f.account().await;
    assert_eq!(
        (account["available"].as_i64(), account["held"].as_i64(), account["spent"].as_i64()),
        (Some(92_550), Some(0), Some(7_450))
    );
    let (_, statement) =
        f.app.get(&format!("/v1/orgs/{}/account/statement", f.org), &f.owner).await;
    let kinds: Vec<&str> =
        statement.as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["release", "capture", "hold", "credit"], "newest first");
    let (_, fills) = f.app.get("/v1/authorizations", &f.owner).await;
    assert_eq!(fills[0]["status"], "completed");
    assert!(
        fills[0]["trace"]["checks"].as_array().is_some_and(|c| !c.is_empty()),
        "the decision trace is kept"
    );
}

async fn partial_approval_or_a_specific_decline_at_a_limit(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app, 100_000).await;
    f.card_controls(json!({"daily": {"amount": 15_000}})).await;
    let first = f.terminal.authorize(&f.app, &f.phone.qr(0, 1, now_ms()), 10_000, false).await;
    assert_eq!(reason(&first), ("00", ""));
    // 5,000 left today: without partial support, a specific decline.
    let refused = f.terminal.authorize(&f.app, &f.phone.qr(0, 2, now_ms()), 8_000, false).await;
    assert_eq!(
        (refused["approved"].as_bool(), reason(&refused)),
        (Some(false), ("61", "LIMIT_DAILY_AMOUNT"))
    );
    assert!(refused["message"].as_str().unwrap().contains("Daily limit"));
    // With it, the pump stops at what is left.
    let partial = f.terminal.authorize(&f.app, &f.phone.qr(0, 3, now_ms()), 8_000, true).await;
    assert_eq!(
        (reason(&partial), partial["approved_amount"].as_i64(), partial["partial"].as_bool()),
        (("10", ""), Some(5_000), Some(true))
    );
    let nothing_left = f.terminal.authorize(&f.app, &f.phone.qr(0, 4, now_ms()), 1_000, true).await;
    assert_eq!(reason(&nothing_left), ("61", "LIMIT_DAILY_AMOUNT"));
}

async fn each_decline_reason_from_a_constructed_case(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app, 10_000).await;
    let mut atc = 0u16;
    let mut next_qr = |at: i64| {
        atc += 1;
        f.phone.qr(usize::from(atc / 4), atc, at)
    };
    let check = async |qr: String, body: Option<Value>, expected: (&str, &str)| {
        let body = body.unwrap_or_else(|| qr_request(&qr, 1_000, false));
        let (status, answer) = f.terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(reason(&answer), expected, "{answer}");
    };
    check(next_qr(now_ms()), None, ("00", "")).await;
    let reused = f.phone.qr(0, 1, now_ms());
    check(reused, None, ("94", "REPLAYED")).await;
    check(next_qr(now_ms() - 200_000), None, ("05", "CRYPTOGRAM_EXPIRED")).await;
    check(next_qr(now_ms() + 600_000), None, ("05", "CLOCK_SKEW")).await;
    check("hQVDUFYwMQ==".into(), None, ("63", "CRYPTOGRAM_INVALID")).await;
    // 9,000 left on the account; the vehicle's 70 l tank would allow 12,593.
    let big = next_qr(now_ms());
    check(big.clone(), Some(qr_request(&big, 11_000, false)), ("51", "INSUFFICIENT_FUNDS")).await;
    let operator = f.app.operator().await;
    f.app
        .post(&format!("/v1/orgs/{}/account/credits", f.org), &operator, json!({"amount": 100_000}))
        .await;
    f.card_controls(json!({"allowed_products": ["adblue"]})).await;
    check(next_qr(now_ms()), None, ("57", "PRODUCT_NOT_ALLOWED")).await;
    f.card_controls(json!({"blocked_stations": [f.terminal.station_id]})).await;
    check(next_qr(now_ms()), None, ("58", "STATION_NOT_ALLOWED")).await;
    f.card_controls(json!({"per_authorization": {"amount": 500}})).await;
    check(next_qr(now_ms()), None, ("61", "LIMIT_PER_AUTH_AMOUNT")).await;
    f.card_controls(json!({"daily": {"count": 1}})).await;
    check(next_qr(now_ms()), None, ("65", "LIMIT_DAILY_COUNT")).await;
    f.card_controls(json!({})).await;
    let vehicle_card = next_qr(now_ms());
    let preset = json!({"stan": stan(), "transmitted_at": transmitted_at(), "entry_mode": "qr", "qr": vehicle_card, "pump": 1,
                        "products": ["diesel"], "volume_ml": 90_000, "unit_price": 179_900, "partial_supported": false});
    check(String::new(), Some(preset), ("61", "TANK_CAPACITY")).await;
    let path = format!("/v1/cards/{}/status", f.app.north_card());
    f.app.post(&path, &f.owner, json!({"status": "suspended", "reason": "test"})).await;
    check(next_qr(now_ms()), None, ("62", "CARD_SUSPENDED")).await;
    f.app.post(&path, &f.owner, json!({"status": "blocked", "reason": "test"})).await;
    check(next_qr(now_ms()), None, ("62", "CARD_BLOCKED")).await;
    f.app.post(&path, &f.owner, json!({"status": "closed", "reason": "test"})).await;
    check(next_qr(now_ms()), None, ("62", "CARD_CLOSED")).await;
    let (status, body) =
        f.app.post(&format!("/v1/devices/{}/revoke", f.phone.device_id), &f.owner, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check(next_qr(now_ms()), None, ("62", "TOKEN_INACTIVE")).await;
}

async fn completion_below_equal_and_above_the_approval(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app, 100_000).await;
    for (atc, final_amount) in [(1, 9_999), (2, 10_000)] {
        let answer =
            f.terminal.authorize(&f.app, &f.phone.qr(0, atc, now_ms()), 10_000, false).await;
        let (status, done) =
            f.complete(answer["authorization_id"].as_str().unwrap(), final_amount).await;
        assert_eq!((status, done["final_amount"].as_i64()), (StatusCode::OK, Some(final_amount)));
    }
    let answer = f.terminal.authorize(&f.app, &f.phone.qr(0, 3, now_ms()), 10_000, false).await;
    let id = answer["authorization_id"].as_str().unwrap();
    let (status, err) = f.complete(id, 10_001).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("amount"))
    );
    assert_eq!(f.complete(id, 5_000).await.0, StatusCode::OK);
    assert_eq!(
        f.complete(id, 5_000).await.0,
        StatusCode::OK,
        "a repeated completion answers the same"
    );
    assert_eq!(f.complete(id, 6_000).await.0, StatusCode::CONFLICT, "a different one is refused");
    let account = f.account().await;
    assert_eq!((account["spent"].as_i64(), account["held"].as_i64()), (Some(24_999), Some(0)));
}

async fn reversal_and_an_early_reversal_before_its_original(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app, 100_000).await;
    let answer = f.terminal.authorize(&f.app, &f.phone.qr(0, 1, now_ms()), 10_000, false).await;
    let id = answer["authorization_id"].as_str().unwrap();
    let (status, reversed) = f
        .terminal
        .send(&f.app, &format!("/v1/terminal/authorizations/{id}/reversal"), &json!({}))
        .await;
    assert_eq!((status, reversed["status"].as_str()), (StatusCode::OK, Some("reversed")));
    let account = f.account().await;
    assert_eq!((account["available"].as_i64(), account["held"].as_i64()), (Some(100_000), Some(0)));
    // The reversal overtakes its original: acknowledged, and the original is declined.
    let body = qr_request(&f.phone.qr(0, 2, now_ms()), 10_000, false);
    let reference = json!({"stan": body["stan"], "transmitted_at": body["transmitted_at"]});
    let (status, _) = f.terminal.send(&f.app, "/v1/terminal/reversals", &reference).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, late) = f.terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
    assert_eq!(reason(&late), ("94", "REVERSED_BEFORE_ORIGINAL"));
    assert_eq!(f.account().await["held"].as_i64(), Some(0));
}

async fn expired_hold_then_late_completion(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| c.authorizer.hold_ttl_secs = 0).await else {
        return;
    };
    let f = setup(app, 100_000).await;
    let answer = f.terminal.authorize(&f.app, &f.phone.qr(0, 1, now_ms()), 10_000, false).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(f.app.state.authorizer.expire_holds().await.unwrap(), 1);
    assert_eq!(f.account().await["held"].as_i64(), Some(0), "the hold was released");
    let (status, done) = f.complete(answer["authorization_id"].as_str().unwrap(), 6_000).await;
    assert_eq!(
        (status, done["status"].as_str()),
        (StatusCode::OK, Some("completed")),
        "the fuel was dispensed: still posted"
    );
    let account = f.account().await;
    assert_eq!(
        (account["spent"].as_i64(), account["available"].as_i64()),
        (Some(6_000), Some(94_000))
    );
    // ... and flagged for review.
    let (status, queue) = f.app.get("/v1/alerts", &f.app.analyst().await).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let alerts = queue["alerts"].as_array().unwrap();
    let late: Vec<_> = alerts.iter().filter(|a| a["rule_id"] == "late_completion").collect();
    assert_eq!(late.len(), 1, "{queue}");
    assert_eq!(late[0]["authorization_id"], answer["authorization_id"]);
}

async fn retries_get_the_first_answer_and_conflicts_are_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app, 100_000).await;
    let body = qr_request(&f.phone.qr(0, 1, now_ms()), 10_000, false);
    let (_, first) = f.terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
    let (_, retry) = f.terminal.send(&f.app, "/v1/terminal/authorizations", &body).await;
    assert_eq!(first, retry, "same message, same answer");
    assert_eq!(f.account().await["held"].as_i64(), Some(10_000), "held once");
    let mut other = body.clone();
    other["amount"] = json!(20_000);
    let (_, conflicting) = f.terminal.send(&f.app, "/v1/terminal/authorizations", &other).await;
    assert_eq!(reason(&conflicting), ("94", "DUPLICATE_TRANSMISSION"));
    assert_eq!(f.account().await["held"].as_i64(), Some(10_000));
}

async fn unsigned_stale_replayed_forged_and_suspended_terminals_are_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = setup(app, 100_000).await;
    let path = "/v1/terminal/authorizations";
    let body = qr_request(&f.phone.qr(0, 1, now_ms()), 1_000, false).to_string();
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or("").to_owned();
    let (status, err) = f.terminal.send_with(&f.app, path, body.clone(), &[]).await;
    assert_eq!(
        (status, code(&err).as_str()),
        (StatusCode::UNAUTHORIZED, "TERMINAL_SIGNATURE_INVALID")
    );
    let stale = f.terminal.headers(
        "POST",
        path,
        &body,
        emv::terminal_auth::random_nonce(),
        now_ms() - 600_000,
    );
    let (status, err) = f.terminal.send_with(&f.app, path, body.clone(), &stale).await;
    assert_eq!((status, code(&err).as_str()), (StatusCode::UNAUTHORIZED, "TERMINAL_REQUEST_STALE"));
    let mut forged =
        f.terminal.headers("POST", path, &body, emv::terminal_auth::random_nonce(), now_ms());
    let tampered = body.replace("1000", "9000");
    let (status, err) = f.terminal.send_with(&f.app, path, tampered, &forged).await;
    assert_eq!(
        (status, code(&err).as_str()),
        (StatusCode::UNAUTHORIZED, "TERMINAL_SIGNATURE_INVALID")
    );
    let (status, _) = f.terminal.send_with(&f.app, path, body.clone(), &forged).await;
    assert_eq!(status, StatusCode::OK, "the genuine request with those headers");
    let (status, err) = f.terminal.send_with(&f.app, path, body.clone(), &forged).await;
    assert_eq!(
        (status, code(&err).as_str()),
        (StatusCode::UNAUTHORIZED, "TERMINAL_REQUEST_REPLAYED")
    );
    forged[3].1 = "00".repeat(32);
    let (status, _) = f.terminal.send_with(&f.app, path, body.clone(), &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let operator = f.app.operator().await;
    f.app.post(&format!("/v1/terminals/{}/suspend", f.terminal.id), &operator, json!({})).await;
    let (status, err) =
        f.terminal.send(&f.app, path, &qr_request(&f.phone.qr(0, 2, now_ms()), 1_000, false)).await;
    assert_eq!((status, code(&err).as_str()), (StatusCode::FORBIDDEN, "TERMINAL_SUSPENDED"));
}

/// Concurrent pre-authorizations on one card (from several phones, as pumps at several
/// islands would see them) whose daily count allows exactly `DAILY_FILLS`.
const PHONES: u16 = 10;
const REQUESTS_PER_PHONE: u16 = 20;
const DAILY_FILLS: i64 = 7;

/// `PHONES` phones for Anna's card send `REQUESTS_PER_PHONE` pre-authorizations of 1,000
/// each, all at once; the answers, and how many were approved.
async fn burst(f: &mut Fill) -> (Vec<(StatusCode, Value)>, usize) {
    // Under this burst the declines would trip `repeated_failures` and decline the next
    // approvals as fraud; these tests are about limits and funds, so the rule only watches.
    let rule = format!("/v1/fraud/rules/repeated_failures?org_id={}", f.org);
    let (status, _) = f.app.put(&rule, &f.app.analyst().await, json!({"mode": "shadow"})).await;
    assert_eq!(status, StatusCode::OK);
    let anna = f.app.anna().await;
    let mut phones = vec![std::mem::replace(&mut f.phone, Phone::new())];
    for _ in 1..PHONES {
        let mut phone = Phone::new();
        phone.enrol(&f.app, &anna).await;
        phone.provision(&f.app, &anna, &f.app.north_card()).await;
        phones.push(phone);
    }
    let now = now_ms();
    let bodies: Vec<Value> = phones
        .iter()
        .flat_map(|p| {
            (1..=REQUESTS_PER_PHONE)
                .map(move |atc| qr_request(&p.qr(usize::from(atc / 4), atc, now), 1_000, false))
        })
        .collect();
    assert_eq!(bodies.len(), 200);
    let requests = bodies.iter().map(|b| f.terminal.send(&f.app, "/v1/terminal/authorizations", b));
    let answers = futures_util::future::join_all(requests).await;
    let approved =
        answers.iter().filter(|(s, a)| *s == StatusCode::OK && a["approved"] == true).count();
    (answers, approved)
}

async fn concurrent_preauthorizations_never_exceed_the_daily_count(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let mut f = setup(app, 10_000_000).await;
    f.card_controls(json!({"daily": {"count": DAILY_FILLS}})).await;
    let (answers, approved) = burst(&mut f).await;
    assert_eq!(approved, usize::try_from(DAILY_FILLS).unwrap(), "exactly the daily count");
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert!(
            answer["approved"] == true || reason(answer) == ("65", "LIMIT_DAILY_COUNT"),
            "{answer}"
        );
    }
    let (status, account) = f.app.get(&format!("/v1/orgs/{}/account", f.org), &f.owner).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["held"].as_i64(), Some(DAILY_FILLS * 1_000));
}

/// The account covers 7 of 200 concurrent fills of 1,000. Fills decided on a snapshot
/// that still showed money are refused by the ledger's own CHECK at the hold
/// (`StoreError::CheckFailed("funds")`, with the commit on PostgreSQL) and decided again.
async fn concurrent_preauthorizations_never_hold_more_than_the_account_has(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let mut f = setup(app, 7_000).await;
    let (answers, approved) = burst(&mut f).await;
    assert_eq!(approved, 7, "exactly what the account covers");
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert!(
            (answer["approved"] == true && answer["approved_amount"] == 1_000)
                || reason(answer) == ("51", "INSUFFICIENT_FUNDS"),
            "{answer}"
        );
    }
    let account = f.account().await;
    assert_eq!((account["available"].as_i64(), account["held"].as_i64()), (Some(0), Some(7_000)));
    let (_, statement) =
        f.app.get(&format!("/v1/orgs/{}/account/statement", f.org), &f.owner).await;
    let holds = statement.as_array().unwrap().iter().filter(|p| p["kind"] == "hold").count();
    assert_eq!(holds, 7, "one posting per hold, none for a refused one: {statement}");
}

/// The nonce of a pre-authorization or completion is recorded in the request's own commit.
/// The same signed request sent eight times at once is still answered once and refused as
/// a replay seven times, for each; and a retry with a fresh nonce gets the first answer.
async fn a_replayed_request_is_refused_even_when_its_nonce_rides_on_the_write(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let f = setup(app, 100_000).await;
    let code = |v: &Value| v["error"]["code"].as_str().unwrap_or("").to_owned();
    let f = &f;
    let burst = |path: String, body: String| {
        let headers =
            f.terminal.headers("POST", &path, &body, emv::terminal_auth::random_nonce(), now_ms());
        let sends: Vec<_> = (0..8)
            .map(|_| {
                let (path, body, headers) = (path.clone(), body.clone(), headers.clone());
                async move { f.terminal.send_with(&f.app, &path, body, &headers).await }
            })
            .collect();
        futures_util::future::join_all(sends)
    };
    let path = "/v1/terminal/authorizations".to_owned();
    let body = qr_request(&f.phone.qr(0, 1, now_ms()), 1_000, false).to_string();
    let answers = burst(path.clone(), body.clone()).await;
    let ok: Vec<&Value> =
        answers.iter().filter(|(s, _)| *s == StatusCode::OK).map(|(_, v)| v).collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    assert!(answers.iter().filter(|(s, _)| *s != StatusCode::OK).all(|(s, v)| (
        *s,
        code(v).as_str()
    ) == (
        StatusCode::UNAUTHORIZED,
        "TERMINAL_REQUEST_REPLAYED"
    )));
    assert_eq!(ok[0]["response_code"], "00", "{}", ok[0]);
    let id = ok[0]["authorization_id"].as_str().unwrap().to_owned();
    assert_eq!(f.account().await["held"], 1_000, "held once");
    // A retry with a fresh nonce is the terminal's retry: the first answer again.
    let (status, retried) =
        f.terminal.send(&f.app, &path, &serde_json::from_str(&body).unwrap()).await;
    assert_eq!((status, retried["authorization_id"].as_str()), (StatusCode::OK, Some(id.as_str())));

    let done = format!("/v1/terminal/authorizations/{id}/completion");
    let completion = json!({"amount": 800, "volume_ml": 4_000, "product": "diesel"}).to_string();
    let answers = burst(done, completion).await;
    let completed: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    assert_eq!(completed.len(), 1, "{answers:?}");
    assert_eq!(completed[0].1["status"], "completed");
    assert!(
        answers.iter().filter(|(s, _)| *s != StatusCode::OK).all(|(s, v)| (*s, code(v).as_str())
            == (StatusCode::UNAUTHORIZED, "TERMINAL_REQUEST_REPLAYED")),
        "{answers:?}"
    );
    let account = f.account().await;
    assert_eq!((account["held"].as_i64(), account["spent"].as_i64()), (Some(0), Some(800)));
}

/// Old nonces are forgotten by a sweep, not by the requests: the store forgets at most the
/// limit, oldest first; the sweep forgets, in as many batches as it takes (here of 1),
/// exactly the nonces older than `NONCE_MEMORY_US`; a nonce still remembered stays refused.
async fn the_sweep_forgets_old_nonces_oldest_first_and_keeps_the_rest(backend: Backend) {
    use store::AuthorizerStore;
    let one_at_a_time = |c: &mut server::Config| c.authorizer.nonce_sweep_batch_size = 1;
    let Some(app) = TestApp::start_with(backend, one_at_a_time).await else { return };
    let terminal = Terminal::register(&app).await;
    let id = domain::TerminalId(uuid::Uuid::parse_str(&terminal.id).unwrap());
    let store = app.state.issuing.store();
    let now = 1_000 * now_ms();
    let cutoff = now - authorizer::NONCE_MEMORY_US;
    let aged =
        [("old-a", cutoff - 3_000_000), ("old-b", cutoff - 2_000_000), ("old-c", cutoff - 1_000)];
    let kept = [("recent", cutoff + 60_000_000), ("fresh", now)];
    for (nonce, seen_us) in aged.iter().chain(&kept) {
        assert_eq!(store.remember_nonce(id, nonce, *seen_us).await.ok(), Some(true), "{nonce}");
    }

    assert_eq!(store.forget_nonces(cutoff, 2).await.unwrap(), 2, "at most the limit");
    assert_eq!(
        store.remember_nonce(id, "old-c", aged[2].1).await.ok(),
        Some(false),
        "the newest of the old stays"
    );
    // Forgotten: a request carrying it again would be stale, so recording it succeeds.
    assert_eq!(
        store.remember_nonce(id, "old-a", aged[0].1).await.ok(),
        Some(true),
        "the oldest went"
    );

    assert_eq!(app.state.authorizer.forget_old_nonces().await.unwrap(), 2, "old-a again and old-c");
    for (nonce, seen_us) in kept {
        assert_eq!(
            store.remember_nonce(id, nonce, seen_us).await.ok(),
            Some(false),
            "{nonce} kept"
        );
    }
    assert_eq!(store.remember_nonce(id, "old-c", aged[2].1).await.ok(), Some(true), "old-c went");
    assert_eq!(app.state.authorizer.forget_old_nonces().await.unwrap(), 1, "old-c once more");
}
