//! A terminal always gets an authorization answer: a broken database answers 96, a closed
//! one 91, both as HTTP 200 with the decline body; completion and reversal answer a
//! retryable 503. The driver's message follows `Accept-Language`.

mod common;

use axum::http::{Method, StatusCode};
use common::phone::{now_ms, Phone};
use common::terminal::{qr_request, Terminal};
use common::{Backend, TestApp};
use serde_json::{json, Value};
use sqlx::Connection;

both_backends!(
    faults_answer_91_or_96_and_follow_the_drivers_language,
    the_deadline_never_cancels_a_commit,
    past_the_pending_limit_a_pre_authorization_is_answered_91_at_once,
    a_write_that_may_have_committed_keeps_its_failure_not_a_replay
);

const AUTHORIZE: &str = "/v1/terminal/authorizations";

async fn authorize(app: &TestApp, terminal: &Terminal, body: &Value, lang: &str) -> Value {
    let body = body.to_string();
    let mut headers =
        terminal.headers("POST", AUTHORIZE, &body, emv::terminal_auth::random_nonce(), now_ms());
    headers.push(("accept-language".to_owned(), lang.to_owned()));
    let (status, answer) = terminal.send_with(app, AUTHORIZE, body, &headers).await;
    assert_eq!(status, StatusCode::OK, "a terminal always gets an answer: {answer}");
    answer
}

async fn faults_answer_91_or_96_and_follow_the_drivers_language(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let Funded { terminal, owner, org, phone } = funded(&app).await;

    // Russian approval text, English by default, and q-values decide.
    let ok = authorize(
        &app,
        &terminal,
        &qr_request(&phone.qr(0, 1, now_ms()), 5_000, false),
        "en;q=0.3, ru-RU;q=0.8",
    )
    .await;
    assert_eq!(
        (ok["approved"].as_bool(), ok["message"].as_str()),
        (Some(true), Some("Одобрено.")),
        "{ok}"
    );
    let ok = authorize(&app, &terminal, &qr_request(&phone.qr(0, 2, now_ms()), 5_000, false), "de")
        .await;
    assert_eq!(ok["message"], "Approved.", "{ok}");
    let approved_id = ok["authorization_id"].as_str().unwrap().to_owned();

    // A failing query (a table gone) is an unexpected fault: 96, nothing approved.
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("db");
    sqlx::query("ALTER TABLE fraud_rules RENAME TO fraud_rules_gone")
        .execute(&mut db)
        .await
        .expect("rename");
    let answer =
        authorize(&app, &terminal, &qr_request(&phone.qr(0, 3, now_ms()), 5_000, false), "ru")
            .await;
    assert_eq!(
        (answer["approved"].as_bool(), answer["response_code"].as_str(), answer["reason"].as_str()),
        (Some(false), Some("96"), Some("SYSTEM_ERROR")),
        "{answer}"
    );
    assert_eq!(answer["message"], "Сервис недоступен. Повторите попытку чуть позже.");
    sqlx::query("ALTER TABLE fraud_rules_gone RENAME TO fraud_rules")
        .execute(&mut db)
        .await
        .expect("rename back");
    let (_, account) = app.get(&format!("/v1/orgs/{org}/account"), &owner).await;
    assert_eq!(
        account["held"].as_i64(),
        Some(10_000),
        "only the two approvals hold money: {account}"
    );
    db.close().await.expect("close");

    // The database goes away (the pool is closed): 91 at once, not a 5xx.
    app.state.issuing.store().close().await;
    let started = std::time::Instant::now();
    let answer =
        authorize(&app, &terminal, &qr_request(&phone.qr(1, 4, now_ms()), 5_000, false), "").await;
    assert_eq!(
        (answer["approved"].as_bool(), answer["response_code"].as_str(), answer["reason"].as_str()),
        (Some(false), Some("91"), Some("ISSUER_UNAVAILABLE")),
        "{answer}"
    );
    assert_eq!(answer["message"], "Service unavailable. Please try again shortly.");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "no wait for a closed pool");

    // Completion cannot be answered with a decline: a retryable 503 with Retry-After.
    let body = json!({"amount": 4_000, "volume_ml": 22_000, "product": "diesel"}).to_string();
    let path = format!("/v1/terminal/authorizations/{approved_id}/completion");
    let headers =
        terminal.headers("POST", &path, &body, emv::terminal_auth::random_nonce(), now_ms());
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, response_headers, error) =
        app.call_with(Method::POST, &path, None, Some(body), &headers).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("DEPENDENCY_UNAVAILABLE")),
        "{error}"
    );
    assert_eq!(response_headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
}

/// A registered terminal, the demo fleet's account funded, and Anna's phone holding a
/// token of the North card.
struct Funded {
    terminal: Terminal,
    owner: String,
    org: String,
    phone: Phone,
}

async fn funded(app: &TestApp) -> Funded {
    let terminal = Terminal::register(app).await;
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(
        app.post(&path, &app.operator().await, json!({"amount": 1_000_000})).await.0,
        StatusCode::OK
    );
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(app, &anna).await;
    phone.provision(app, &anna, &app.north_card()).await;
    Funded { terminal, owner, org, phone }
}

/// The pipeline under a deadline (`authorizer::Gate`): past the deadline no commit starts
/// (nothing is stored, the terminal's 91 is the whole truth); a commit that lands after
/// the caller gave up keeps its hold for the terminal's timeout reversal to release.
async fn the_deadline_never_cancels_a_commit(backend: Backend) {
    use store::AuthorizerStore;
    let Some(app) = TestApp::start(backend).await else { return };
    let Funded { terminal, owner, org, phone } = funded(&app).await;
    let store = app.state.issuing.store();
    let id = domain::TerminalId(uuid::Uuid::parse_str(&terminal.id).unwrap());
    let record = store.get_terminal(id).await.expect("terminal");
    let authorizer = &app.state.authorizer;
    let held = || async {
        let (_, account) = app.get(&format!("/v1/orgs/{org}/account"), &owner).await;
        account["held"].as_i64().unwrap()
    };

    // The deadline passed before the commit: an error the route answers 91; nothing stored.
    let body = qr_request(&phone.qr(0, 1, now_ms()), 5_000, false);
    let req: authorizer::AuthorizeRequest = serde_json::from_value(body.clone()).unwrap();
    let past = authorizer::Gate::until(std::time::Instant::now());
    let nonce =
        |n: &str| store::NonceClaim { terminal: id, nonce: n.to_owned(), now_us: 1_000 * now_ms() };
    let refused = authorizer.authorize_gated(&record, &nonce("n1"), "h1", &req, &past).await;
    assert!(matches!(refused, Err(issuing::IssuingError::Unavailable(_))), "{refused:?}");
    let (stan, at) = (body["stan"].as_str().unwrap(), body["transmitted_at"].as_str().unwrap());
    assert!(store.find_authorization(id, stan, at).await.unwrap().is_none(), "nothing stored");
    assert_eq!(held().await, 0);
    // Nothing was written, yet the nonce was recorded: the same request again is a replay.
    let open =
        authorizer::Gate::until(std::time::Instant::now() + std::time::Duration::from_secs(30));
    let again = authorizer.authorize_gated(&record, &nonce("n1"), "h1", &req, &open).await;
    assert!(matches!(again, Ok(Err(authorizer::TerminalAuthError::Replayed))), "{again:?}");
    assert!(store.find_authorization(id, stan, at).await.unwrap().is_none(), "still nothing");

    // The caller gave up (told the terminal 91) while the pipeline ran: the commit still
    // lands whole, and the hold stands until the terminal's timeout reversal.
    let body = qr_request(&phone.qr(0, 2, now_ms()), 5_000, false);
    let req: authorizer::AuthorizeRequest = serde_json::from_value(body.clone()).unwrap();
    let gate =
        authorizer::Gate::until(std::time::Instant::now() + std::time::Duration::from_secs(30));
    assert!(gate.abandon(), "nothing was delivered yet");
    let late = authorizer.authorize_gated(&record, &nonce("n2"), "h2", &req, &gate).await;
    let late = late.expect("committed").expect("not a replay");
    assert_eq!(late.response_code, "00");
    assert_eq!(held().await, 5_000, "the late approval holds its amount");
    let reversal = json!({"stan": body["stan"], "transmitted_at": body["transmitted_at"]});
    let (status, reversed) = terminal.send(&app, "/v1/terminal/reversals", &reversal).await;
    assert_eq!(
        (status, reversed["status"].as_str()),
        (StatusCode::OK, Some("reversed")),
        "{reversed}"
    );
    assert_eq!(held().await, 0, "the timeout reversal released it");
}

/// Overload: with `max_pending_authorizations` pre-authorizations in progress, one more is
/// answered 91 at once and leaves nothing behind; once one finishes, the next is decided.
async fn past_the_pending_limit_a_pre_authorization_is_answered_91_at_once(backend: Backend) {
    const LIMIT: u32 = 2;
    let Some(app) = TestApp::start_with(backend, |config| {
        config.authorizer.max_pending_authorizations = LIMIT;
    })
    .await
    else {
        return;
    };
    let Funded { terminal, phone, .. } = funded(&app).await;

    // Two pre-authorizations in progress (their permits, held here).
    let in_progress =
        app.state.pending_authorizations.clone().acquire_many_owned(LIMIT).await.expect("permits");
    let body = qr_request(&phone.qr(0, 1, now_ms()), 5_000, false);
    let shed = authorize(&app, &terminal, &body, "").await;
    assert_eq!(
        (shed["approved"].as_bool(), shed["response_code"].as_str(), shed["reason"].as_str()),
        (Some(false), Some("91"), Some("ISSUER_UNAVAILABLE")),
        "{shed}"
    );
    let (stan, at) = (body["stan"].as_str().unwrap(), body["transmitted_at"].as_str().unwrap());
    let id = domain::TerminalId(uuid::Uuid::parse_str(&terminal.id).unwrap());
    let stored =
        store::AuthorizerStore::find_authorization(app.state.issuing.store(), id, stan, at);
    assert!(stored.await.unwrap().is_none(), "a shed request leaves nothing behind");

    drop(in_progress);
    let body = qr_request(&phone.qr(0, 2, now_ms()), 5_000, false);
    let decided = authorize(&app, &terminal, &body, "").await;
    assert_eq!(decided["response_code"], "00", "{decided}");
}

/// `Authorizer::settle_nonce` after a write that failed: a write lost with its database may
/// have committed the nonce itself (PostgreSQL restarted during `COMMIT`, caught by
/// `tests/tests/pg_restart.rs`), so that failure stands — retryable — instead of a replay
/// refusal; a business refusal or a success with a seen nonce is still a replay.
async fn a_write_that_may_have_committed_keeps_its_failure_not_a_replay(backend: Backend) {
    use authorizer::TerminalAuthError::Replayed;
    use issuing::IssuingError::{self, Unavailable};
    let Some(app) = TestApp::start(backend).await else { return };
    let terminal = Terminal::register(&app).await;
    let a = &app.state.authorizer;
    let claim = |n: &str| store::NonceClaim {
        terminal: domain::TerminalId(uuid::Uuid::parse_str(&terminal.id).unwrap()),
        nonce: n.to_owned(),
        now_us: 1_000 * now_ms(),
    };
    let lost = || Err::<(), _>(Unavailable("the database"));
    let refused = || Err::<(), _>(IssuingError::conflict("NOT_COMPLETABLE", "refused"));

    // A fresh nonce after a lost write: recorded, and the failure is the answer.
    let fresh = claim("fresh-nonce-0001");
    let answer = a.settle_nonce(&fresh, false, lost()).await;
    assert!(matches!(answer, Err(Unavailable(_))), "{answer:?}");
    // Seen (here: by that very request's write, which did commit): still the failure.
    let answer = a.settle_nonce(&fresh, false, lost()).await;
    assert!(matches!(answer, Err(Unavailable(_))), "{answer:?}");
    // But nothing that succeeds or refuses on business grounds passes a seen nonce.
    assert!(matches!(a.settle_nonce(&fresh, false, refused()).await, Ok(Err(Replayed))));
    assert!(matches!(a.settle_nonce(&fresh, false, Ok(())).await, Ok(Err(Replayed))));
    // A request whose own write carried the nonce answers its outcome.
    let carried = claim("carried-nonce-01");
    assert!(matches!(a.settle_nonce(&carried, true, Ok(7)).await, Ok(Ok(7))));
}
