//! The audit log of a card through the HTTP API (who did what, when, why, from what to
//! what), its append-only guarantee at the database level, and `Idempotency-Key` on create
//! requests.

mod common;

use axum::http::{Method, StatusCode};
use common::{Backend, TestApp};
use serde_json::{json, Value};
use sqlx::{Connection, Row};

both_backends!(
    issuing_a_bound_card_records_issued_then_bound,
    issuing_an_unbound_card_records_only_issued,
    status_changes_record_reason_and_before_after_status,
    rebinding_records_before_and_after_driver,
    card_controls_changes_are_recorded,
    refused_changes_record_nothing,
    only_managers_and_analysts_read_card_events,
    audit_rows_cannot_be_updated_or_deleted_in_the_database,
    repeated_card_issue_with_one_key_replays_the_first_answer,
    repeated_vehicle_create_with_one_key_replays_the_first_answer,
    a_replay_answers_as_first_even_after_the_driver_changed,
    one_key_with_another_request_is_refused,
    concurrent_requests_with_one_key_create_one_card,
    idempotency_keys_belong_to_the_caller,
    malformed_idempotency_keys_are_refused,
    an_invite_token_is_shown_once_and_never_kept_for_replays,
);

async fn events(app: &TestApp, token: &str, card: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/cards/{card}/events"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("list").clone()
}

fn actions(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["action"].as_str().expect("action")).collect()
}

/// Every event is well-formed: an id, a subject, an RFC 3339 UTC time, an actor.
fn assert_well_formed(events: &[Value]) {
    for e in events {
        assert!(e["id"].as_str().is_some_and(|s| s.len() == 36), "{e}");
        assert!(e["subject_type"].is_string() && e["subject_id"].is_string(), "{e}");
        assert!(e["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
        assert!(e["actor_id"].is_string() && e["actor_role"].is_string(), "{e}");
    }
    let times: Vec<&str> = events.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "events come in time order");
}

fn assert_actor(event: &Value, id: &str, role: &str) {
    assert_eq!(event["actor_id"], id, "{event}");
    assert_eq!(event["actor_role"], role, "{event}");
}

async fn set_status(app: &TestApp, token: &str, card: &str, status: &str, reason: &str) {
    let (code, body) = app
        .post(
            &format!("/v1/cards/{card}/status"),
            token,
            json!({"status": status, "reason": reason}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

async fn issuing_a_bound_card_records_issued_then_bound(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let admin = app.admin_north().await;
    let admin_id = app.user_id(&admin).await;
    let anna_id = app.user_id(&app.anna().await).await;
    let north = app.group_id("North depot").await;
    let (status, card) =
        app.post("/v1/cards", &admin, json!({"group_id": north, "driver_id": anna_id})).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let id = card["id"].as_str().unwrap();

    let log = events(&app, &admin, id).await;
    assert_well_formed(&log);
    assert_eq!(actions(&log), ["card.issued", "card.bound"]);
    let issued = &log[0];
    assert_actor(issued, &admin_id, "admin");
    assert_eq!(issued["subject_type"], "card");
    assert_eq!(issued["subject_id"], id);
    assert_eq!(issued["before"], Value::Null);
    assert_eq!(issued["after"], card, "the event holds the card as issued");
    let bound = &log[1];
    assert_actor(bound, &admin_id, "admin");
    assert_eq!(bound["subject_type"], "binding");
    assert_eq!(bound["after"]["driver_id"], anna_id.as_str());
    assert_eq!(bound["after"]["vehicle_id"], Value::Null);
    assert_eq!(bound["after"]["bound_by"], admin_id.as_str());

    // The demo card was issued by the owner, bound to Anna and her vehicle.
    let owner_id = app.user_id(&app.owner().await).await;
    let demo = events(&app, &admin, &app.north_card()).await;
    assert_eq!(actions(&demo), ["card.issued", "card.bound"]);
    assert_actor(&demo[0], &owner_id, "owner");
    assert_eq!(demo[1]["after"]["driver_id"], anna_id.as_str());
    assert!(demo[1]["after"]["vehicle_id"].is_string());
}

async fn issuing_an_unbound_card_records_only_issued(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let (status, card) = app.post("/v1/cards", &owner, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let log = events(&app, &owner, card["id"].as_str().unwrap()).await;
    assert_eq!(actions(&log), ["card.issued"]);
    assert_actor(&log[0], &app.user_id(&owner).await, "owner");
    // Events of one card never show up on another.
    assert!(!events(&app, &owner, &app.north_card())
        .await
        .iter()
        .any(|e| e["subject_id"] == card["id"]));
}

async fn status_changes_record_reason_and_before_after_status(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let analyst = app.analyst().await;
    let (owner_id, admin_id, analyst_id) =
        (app.user_id(&owner).await, app.user_id(&admin).await, app.user_id(&analyst).await);
    let id = app.north_card();
    set_status(&app, &admin, &id, "suspended", "driver on leave").await;
    set_status(&app, &owner, &id, "active", "back from leave").await;
    set_status(&app, &analyst, &id, "blocked", "skimming suspected").await;
    set_status(&app, &owner, &id, "active", "false positive").await;
    set_status(&app, &admin, &id, "closed", "driver left the company").await;

    let log = events(&app, &owner, &id).await;
    assert_well_formed(&log);
    assert_eq!(
        actions(&log),
        [
            "card.issued",
            "card.bound",
            "card.suspended",
            "card.active",
            "card.blocked",
            "card.active",
            "card.closed"
        ]
    );
    let expected = [
        (&admin_id, "admin", "driver on leave", "active", "suspended"),
        (&owner_id, "owner", "back from leave", "suspended", "active"),
        (&analyst_id, "fraud_analyst", "skimming suspected", "active", "blocked"),
        (&owner_id, "owner", "false positive", "blocked", "active"),
        (&admin_id, "admin", "driver left the company", "active", "closed"),
    ];
    for (event, (actor, role, reason, from, to)) in log[2..].iter().zip(expected) {
        assert_actor(event, actor, role);
        assert_eq!(event["subject_type"], "card");
        assert_eq!(event["subject_id"], id.as_str());
        assert_eq!(event["reason"], reason, "{event}");
        assert_eq!(event["before"]["status"], from, "{event}");
        assert_eq!(event["after"]["status"], to, "{event}");
        assert_eq!(event["after"]["status_reason"], reason, "{event}");
    }
}

async fn rebinding_records_before_and_after_driver(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let owner_id = app.user_id(&owner).await;
    let anna_id = app.user_id(&app.anna().await).await;
    let boris_id = app.user_id(&app.boris().await).await;
    let id = app.north_card();
    let (status, body) =
        app.put(&format!("/v1/cards/{id}/binding"), &owner, json!({"driver_id": boris_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.put(&format!("/v1/cards/{id}/binding"), &owner, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let log = events(&app, &owner, &id).await;
    assert_well_formed(&log);
    assert_eq!(actions(&log), ["card.issued", "card.bound", "card.rebound", "card.unbound"]);
    let rebound = &log[2];
    assert_actor(rebound, &owner_id, "owner");
    assert_eq!(rebound["subject_type"], "binding");
    assert_eq!(rebound["before"]["driver_id"], anna_id.as_str());
    assert!(rebound["before"]["vehicle_id"].is_string());
    assert_eq!(rebound["after"]["driver_id"], boris_id.as_str());
    assert_eq!(rebound["after"]["vehicle_id"], Value::Null);
    let unbound = &log[3];
    assert_actor(unbound, &owner_id, "owner");
    assert_eq!(unbound["before"]["driver_id"], boris_id.as_str());
    assert_eq!(unbound["after"]["driver_id"], Value::Null);
}

async fn card_controls_changes_are_recorded(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let admin = app.admin_north().await;
    let admin_id = app.user_id(&admin).await;
    let id = app.north_card();
    let path = format!("/v1/cards/{id}/controls");
    let first = json!({"daily": {"amount": 10000}});
    let second = json!({"daily": {"amount": 20000}, "allowed_products": ["diesel"]});
    for doc in [&first, &second, &json!({})] {
        let (status, body) = app.put(&path, &admin, doc.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Controls of other levels are not events of the card.
    let group = app.group_id("North depot").await;
    let owner = app.owner().await;
    let (status, _) = app
        .put(&format!("/v1/groups/{group}/controls"), &owner, json!({"daily": {"count": 3}}))
        .await;
    assert_eq!(status, StatusCode::OK);

    let log = events(&app, &admin, &id).await;
    assert_well_formed(&log);
    assert_eq!(
        actions(&log),
        [
            "card.issued",
            "card.bound",
            "controls.card.set",
            "controls.card.set",
            "controls.card.set"
        ]
    );
    for e in &log[2..] {
        assert_actor(e, &admin_id, "admin");
        assert_eq!(e["subject_type"], "controls");
        assert_eq!(e["subject_id"], id.as_str());
    }
    assert_eq!(log[2]["before"], Value::Null, "nothing was set before");
    assert_eq!(log[2]["after"], first);
    assert_eq!(log[3]["before"], first);
    assert_eq!(log[3]["after"], second);
    assert_eq!(log[4]["before"], second);
    assert_eq!(log[4]["after"], json!({}), "lifting is recorded too");
}

async fn refused_changes_record_nothing(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let id = app.north_card();
    let before = events(&app, &owner, &id).await;
    let status_path = format!("/v1/cards/{id}/status");
    let refused = [
        app.post(&status_path, &owner, json!({"status": "active", "reason": "same"})).await,
        app.post(&status_path, &owner, json!({"status": "suspended", "reason": " "})).await,
        app.post(&status_path, &app.anna().await, json!({"status": "blocked", "reason": "x"}))
            .await,
        app.put(&format!("/v1/cards/{id}/controls"), &admin, json!({"daily": {"amount": 0}})).await,
        app.put(
            &format!("/v1/cards/{id}/binding"),
            &owner,
            json!({"driver_id": uuid::Uuid::new_v4().to_string()}),
        )
        .await,
    ];
    for (status, body) in &refused {
        assert!(status.is_client_error(), "{status}: {body}");
    }
    set_status(&app, &admin, &id, "blocked", "lost").await;
    let (status, _) =
        app.post(&status_path, &admin, json!({"status": "active", "reason": "found"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let after = events(&app, &owner, &id).await;
    assert_eq!(after.len(), before.len() + 1, "only the block was recorded: {after:?}");
    assert_eq!(after[..before.len()], before[..], "earlier events are unchanged");
    assert_eq!(after.last().unwrap()["action"], "card.blocked");
}

async fn only_managers_and_analysts_read_card_events(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let id = app.north_card();
    let path = format!("/v1/cards/{id}/events");
    for token in [app.owner().await, app.admin_north().await, app.analyst().await] {
        assert_eq!(events(&app, &token, &id).await.len(), 2);
    }
    let (status, body) = app.get(&path, &app.anna().await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "drivers do not read the audit log: {body}");
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    let (status, body) = app.get(&path, &app.boris().await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) =
        app.get(&format!("/v1/cards/{}/events", app.south_card()), &app.admin_north().await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.get(&path, &app.operator().await).await;
    assert!(status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN, "{status} {body}");
}

async fn audit_rows_cannot_be_updated_or_deleted_in_the_database(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    set_status(&app, &owner, &id, "suspended", "audit test").await;
    let before = events(&app, &owner, &id).await;

    // The services cannot: the store trait offers no way to change or remove an event.
    // The database itself refuses too, whoever connects to it.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("connect");
    let count = |row: sqlx::any::AnyRow| row.try_get::<i64, _>(0).expect("count");
    let total = count(
        sqlx::query("SELECT COUNT(*) FROM audit_events").fetch_one(&mut db).await.expect("count"),
    );
    assert!(total >= 3, "the demo and the test wrote events");
    let attempts = [
        ("UPDATE audit_events SET action = 'x'", None),
        ("UPDATE audit_events SET reason = 'rewritten' WHERE card_id = $1", Some(&id)),
        ("DELETE FROM audit_events", None),
        ("DELETE FROM audit_events WHERE card_id = $1", Some(&id)),
    ];
    for (sql, card) in attempts {
        let mut q = sqlx::query(sql);
        if let Some(card) = card {
            q = q.bind(card.as_str());
        }
        let err = q.execute(&mut db).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let after = count(
        sqlx::query("SELECT COUNT(*) FROM audit_events").fetch_one(&mut db).await.expect("count"),
    );
    assert_eq!(after, total, "no row went away");
    let changed = count(
        sqlx::query("SELECT COUNT(*) FROM audit_events WHERE action = 'x' OR reason = 'rewritten'")
            .fetch_one(&mut db)
            .await
            .expect("count"),
    );
    assert_eq!(changed, 0, "no row changed");
    db.close().await.expect("close");
    assert_eq!(events(&app, &owner, &id).await, before);
    // Appending still works.
    set_status(&app, &owner, &id, "active", "audit test over").await;
    assert_eq!(events(&app, &owner, &id).await.len(), before.len() + 1);
}

/// POSTs `body` with an `Idempotency-Key`; returns status, the replay header and the raw body.
async fn create_with_key(
    app: &TestApp,
    token: &str,
    path: &str,
    body: &str,
    key: &str,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let (status, headers, bytes) = app
        .call_raw(
            Method::POST,
            path,
            Some(token),
            Some(body.as_bytes().to_vec()),
            &[("content-type", "application/json"), ("idempotency-key", key)],
        )
        .await;
    let replayed =
        headers.get("idempotent-replayed").map(|v| v.to_str().expect("ascii").to_owned());
    (status, replayed, bytes.to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

async fn repeated_card_issue_with_one_key_replays_the_first_answer(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let before = app.count("/v1/cards", &owner).await;
    let body = json!({"group_id": app.group_id("North depot").await}).to_string();

    let (s1, r1, first) = create_with_key(&app, &owner, "/v1/cards", &body, "k1").await;
    assert_eq!(s1, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first));
    assert_eq!(r1, None, "a fresh answer is not marked as replayed");
    let (s2, r2, second) = create_with_key(&app, &owner, "/v1/cards", &body, "k1").await;
    assert_eq!(s2, s1);
    assert_eq!(r2.as_deref(), Some("true"));
    assert_eq!(second, first, "byte-identical answer");
    let card = json_of(&first);
    assert_eq!(json_of(&second)["id"], card["id"]);
    assert_eq!(app.count("/v1/cards", &owner).await, before + 1, "one card, not two");
    // The replay did not audit a second issue either.
    assert_eq!(actions(&events(&app, &owner, card["id"].as_str().unwrap()).await), ["card.issued"]);
    // Another key is another card.
    let (s3, _, third) = create_with_key(&app, &owner, "/v1/cards", &body, "k2").await;
    assert_eq!(s3, StatusCode::CREATED);
    assert_ne!(json_of(&third)["id"], card["id"]);
    assert_eq!(app.count("/v1/cards", &owner).await, before + 2);
}

async fn repeated_vehicle_create_with_one_key_replays_the_first_answer(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let admin = app.admin_north().await;
    let before = app.count("/v1/vehicles", &admin).await;
    let body = json!({
        "plate": "B-TX 303",
        "products": ["diesel"],
        "tank_capacity_ml": 60000,
        "group_id": app.group_id("North depot").await
    })
    .to_string();
    let (s1, _, first) = create_with_key(&app, &admin, "/v1/vehicles", &body, "vehicle-303").await;
    assert_eq!(s1, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first));
    let (s2, r2, second) =
        create_with_key(&app, &admin, "/v1/vehicles", &body, "vehicle-303").await;
    assert_eq!(s2, StatusCode::CREATED);
    assert_eq!(r2.as_deref(), Some("true"));
    assert_eq!(second, first, "byte-identical answer");
    assert_eq!(json_of(&first)["plate"], "B-TX 303");
    assert_eq!(app.count("/v1/vehicles", &admin).await, before + 1);
}

async fn one_key_with_another_request_is_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let south = app.group_id("South depot").await;
    let cards = app.count("/v1/cards", &owner).await;
    let vehicles = app.count("/v1/vehicles", &owner).await;
    let (status, _, first) = create_with_key(
        &app,
        &owner,
        "/v1/cards",
        &json!({"group_id": north}).to_string(),
        "reused",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let vehicle =
        json!({"plate": "B-TX 404", "products": ["diesel"], "tank_capacity_ml": 50000}).to_string();
    let others = [
        ("/v1/cards", json!({"group_id": south}).to_string()),
        // The same JSON written differently is a different request body.
        ("/v1/cards", format!("{{ \"group_id\": \"{north}\" }}")),
        ("/v1/vehicles", vehicle),
    ];
    for (path, body) in &others {
        let (status, replayed, answer) = create_with_key(&app, &owner, path, body, "reused").await;
        let answer = json_of(&answer);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], "IDEMPOTENCY_KEY_REUSED", "{answer}");
        assert_eq!(replayed, None);
    }
    assert_eq!(app.count("/v1/cards", &owner).await, cards + 1);
    assert_eq!(app.count("/v1/vehicles", &owner).await, vehicles, "no vehicle was made");
    // The original request still replays.
    let (status, _, again) = create_with_key(
        &app,
        &owner,
        "/v1/cards",
        &json!({"group_id": north}).to_string(),
        "reused",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, first);
}

async fn concurrent_requests_with_one_key_create_one_card(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let before = app.count("/v1/cards", &owner).await;
    let body = json!({"group_id": app.group_id("South depot").await}).to_string();
    for round in 0..3 {
        let key = format!("race-{round}");
        let (a, b) = tokio::join!(
            create_with_key(&app, &owner, "/v1/cards", &body, &key),
            create_with_key(&app, &owner, "/v1/cards", &body, &key),
        );
        assert_eq!(a.0, StatusCode::CREATED, "{}", String::from_utf8_lossy(&a.2));
        assert_eq!(b.0, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b.2));
        assert_eq!(json_of(&a.2)["id"], json_of(&b.2)["id"], "both answers name one card");
        assert_eq!(a.2, b.2, "byte-identical answers");
        assert_eq!(app.count("/v1/cards", &owner).await, before + round + 1);
    }
}

async fn idempotency_keys_belong_to_the_caller(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let before = app.count("/v1/cards", &owner).await;
    let body = json!({"group_id": app.group_id("North depot").await}).to_string();
    let (s1, _, mine) = create_with_key(&app, &owner, "/v1/cards", &body, "shared-key").await;
    let (s2, r2, theirs) = create_with_key(&app, &admin, "/v1/cards", &body, "shared-key").await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(r2, None, "another caller's key is not replayed to the admin");
    assert_ne!(json_of(&mine)["id"], json_of(&theirs)["id"]);
    assert_eq!(app.count("/v1/cards", &owner).await, before + 2);
}

async fn malformed_idempotency_keys_are_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let before = app.count("/v1/cards", &owner).await;
    let body = json!({"group_id": app.group_id("North depot").await}).to_string();
    let too_long = "k".repeat(256);
    for key in [too_long.as_str(), "", "has space", "tab\there"] {
        let (status, _, answer) = create_with_key(&app, &owner, "/v1/cards", &body, key).await;
        let answer = json_of(&answer);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key:?}: {answer}");
        assert_eq!(answer["error"]["code"], "INVALID_HEADER", "{answer}");
        assert_eq!(answer["error"]["field"], "Idempotency-Key", "{answer}");
    }
    // Not visible ASCII: bytes that are no UTF-8.
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/cards")
        .header("authorization", format!("Bearer {owner}"))
        .header("content-type", "application/json")
        .header("idempotency-key", axum::http::HeaderValue::from_bytes(b"k\xe9y").unwrap())
        .body(axum::body::Body::from(body.clone()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router.clone(), req).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count("/v1/cards", &owner).await, before, "nothing was created");
    // 255 visible characters is the limit, and fine.
    let longest = "k".repeat(255);
    let (status, _, answer) = create_with_key(&app, &owner, "/v1/cards", &body, &longest).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(app.count("/v1/cards", &owner).await, before + 1);
}

async fn a_replay_answers_as_first_even_after_the_driver_changed(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let carla = app
        .invite_and_activate(
            &owner,
            json!({"email": "carla@demo-taxi.example", "name": "Carla Driver", "role": "driver", "group_id": north}),
            "carla-password-1",
        )
        .await;
    let before = app.count("/v1/cards", &owner).await;
    let body = json!({"group_id": north, "driver_id": carla}).to_string();
    let (status, _, first) = create_with_key(&app, &owner, "/v1/cards", &body, "issue-carla").await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first));
    // The client's connection dropped before it saw the answer; meanwhile Carla left.
    let (status, user) =
        app.post(&format!("/v1/users/{carla}/deactivate"), &owner, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    // The retry gets the first answer, not an error about a card that exists anyway.
    let (status, replayed, again) =
        create_with_key(&app, &owner, "/v1/cards", &body, "issue-carla").await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&again));
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(again, first);
    assert_eq!(app.count("/v1/cards", &owner).await, before + 1);
}

/// The invite token is a password until used: the creating answer shows it, a replay does
/// not, and no database row holds it in clear.
async fn an_invite_token_is_shown_once_and_never_kept_for_replays(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let admin = app.admin_north().await;
    let north = app.group_id("North depot").await;
    let body = json!({"email": "dana@demo-taxi.example", "name": "Dana", "role": "driver",
                      "group_id": north});
    let body = body.to_string();
    let (s1, _, first) = create_with_key(&app, &admin, "/v1/users", &body, "dana-1").await;
    assert_eq!(s1, StatusCode::CREATED, "{}", String::from_utf8_lossy(&first));
    let first = json_of(&first);
    let token = first["invite_token"].as_str().expect("the first answer shows the token");
    let (s2, replayed, second) = create_with_key(&app, &admin, "/v1/users", &body, "dana-1").await;
    assert_eq!((s2, replayed.as_deref()), (StatusCode::CREATED, Some("true")));
    let second = json_of(&second);
    assert_eq!(second["user"], first["user"], "the same user");
    assert_eq!(second.get("invite_token"), None, "a replay withholds the token");

    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("connect");
    let stored: Vec<String> = sqlx::query("SELECT body FROM idempotency_keys")
        .fetch_all(&mut db)
        .await
        .expect("idempotency rows")
        .iter()
        .map(|row| row.try_get::<String, _>(0).expect("body"))
        .collect();
    assert!(!stored.is_empty(), "the replay record exists");
    assert!(stored.iter().all(|b| !b.contains(token)), "an idempotency row holds the token");
    // The withheld token still works once, for the person it was sent to.
    let accept = json!({"invite_token": token, "password": "a long enough password"});
    let (status, answer) =
        app.call(Method::POST, "/v1/auth/accept-invite", None, Some(accept)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
