//! Cards through the HTTP API: issuing, every status transition allowed and refused, and
//! binding / re-binding to drivers and vehicles with the binding history.

mod common;

use axum::http::{Method, StatusCode};
use common::{Backend, TestApp};
use serde_json::{json, Value};
use sqlx::{Connection, Row};

both_backends!(
    issuing_a_card_makes_it_active_at_once_without_showing_the_pan,
    issuing_checks_the_callers_role_and_scope,
    suspend_and_resume,
    block_and_only_the_owner_unblocks,
    fraud_analysts_may_block_but_not_unblock,
    blocked_card_cannot_be_suspended,
    closed_card_cannot_change_status,
    same_status_is_refused,
    status_change_needs_a_reason,
    unknown_or_missing_status_is_refused,
    drivers_cannot_change_their_card,
    rebinding_keeps_the_binding_history,
    unbinding_clears_driver_and_vehicle_and_closes_the_history,
    same_binding_again_is_refused,
    closed_card_cannot_be_bound,
    binding_needs_an_active_driver_in_scope,
    after_rebinding_only_the_new_driver_sees_the_card,
);

/// Changes a card's status; returns the answer.
async fn set_status(
    app: &TestApp,
    token: &str,
    card: &str,
    status: &str,
    reason: &str,
) -> (StatusCode, Value) {
    app.post(
        &format!("/v1/cards/{card}/status"),
        token,
        json!({"status": status, "reason": reason}),
    )
    .await
}

/// Changes a card's status and insists that it worked.
async fn must_set_status(app: &TestApp, token: &str, card: &str, status: &str) -> Value {
    let (code, body) = set_status(app, token, card, status, &format!("test: to {status}")).await;
    assert_eq!(code, StatusCode::OK, "to {status}: {body}");
    assert_eq!(body["status"], status);
    body
}

async fn card(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/cards/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

fn assert_field_error(status: StatusCode, body: &Value, want: StatusCode, field: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
}

/// A new active driver in the North depot; returns (id, token).
async fn north_driver(app: &TestApp, email: &str) -> (String, String) {
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let id = app
        .invite_and_activate(
            &owner,
            json!({"email": email, "name": "Carla Driver", "role": "driver", "group_id": north}),
            "carla-password-1",
        )
        .await;
    let pair = app.login_pair(email, "carla-password-1").await;
    (id, pair["access_token"].as_str().expect("token").to_owned())
}

/// The longest run of consecutive ASCII digits in `text`.
fn longest_digit_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
}

/// The clear PAN of a card, read as the database holds it (ciphertext) and decrypted with
/// the application's HSM key store.
async fn clear_pan(app: &TestApp, card_id: &str) -> String {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("open db");
    let row = sqlx::query("SELECT pan_ciphertext FROM cards WHERE id = $1")
        .bind(card_id)
        .fetch_one(&mut db)
        .await
        .expect("card row");
    db.close().await.expect("close");
    let ciphertext: Vec<u8> = row.try_get("pan_ciphertext").expect("ciphertext");
    let hsm = hsm_sim::Engine::open_demo(&app.hsm_dir()).expect("open the HSM key store");
    let pan = hsm_sim::HsmClient::in_process(hsm).decrypt_pan(&ciphertext).await.expect("decrypt");
    pan.expose_digits().to_owned()
}

async fn issuing_a_card_makes_it_active_at_once_without_showing_the_pan(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let (status, _, raw) = app
        .call_raw(
            Method::POST,
            "/v1/cards",
            Some(&owner),
            Some(json!({"group_id": north}).to_string().into_bytes()),
            &[("content-type", "application/json")],
        )
        .await;
    let text = String::from_utf8(raw.to_vec()).expect("utf-8");
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    let id = body["id"].as_str().expect("id").to_owned();
    let last4 = body["pan_last4"].as_str().expect("pan_last4");
    assert!(last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()), "{body}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["status_reason"], Value::Null);
    assert_eq!(body["group_id"], north.as_str());
    assert_eq!(body["driver_id"], Value::Null);
    assert_eq!(body["vehicle_id"], Value::Null);

    // Expiry: the month 36 months from now (the default card validity).
    let now = time::OffsetDateTime::now_utc();
    let index = now.year() * 12 + i32::from(u8::from(now.month())) - 1 + 36;
    let expected = format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1);
    assert_eq!(body["expiry"], expected.as_str(), "{body}");

    // The full card number is nowhere in what the API returns: not in the create answer,
    // the card, or the list.
    let pan = clear_pan(&app, &id).await;
    assert!(pan.len() >= 16 && pan.ends_with(last4), "the PAN ends with pan_last4");
    let (_, _, got) =
        app.call_raw(Method::GET, &format!("/v1/cards/{id}"), Some(&owner), None, &[]).await;
    let (_, _, list) = app.call_raw(Method::GET, "/v1/cards", Some(&owner), None, &[]).await;
    for answer in
        [text, String::from_utf8_lossy(&got).into(), String::from_utf8_lossy(&list).into()]
    {
        assert!(!answer.contains(&pan), "clear PAN in an answer: {answer}");
        assert!(longest_digit_run(&answer) < 13, "something PAN-like in: {answer}");
        assert!(!answer.contains("pan_ciphertext") && !answer.contains("fingerprint"), "{answer}");
    }
    let fetched = card(&app, &owner, &id).await;
    assert_eq!(fetched, body, "GET answers what POST created");
}

async fn issuing_checks_the_callers_role_and_scope(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let north = app.group_id("North depot").await;
    let south = app.group_id("South depot").await;
    let before = app.count("/v1/cards", &owner).await;

    // An admin issues in their own depot, bound to one of its drivers and vehicles.
    let anna_id = app.user_id(&app.anna().await).await;
    let vehicle = card(&app, &owner, &app.north_card()).await["vehicle_id"].clone();
    let (status, issued) = app
        .post(
            "/v1/cards",
            &admin,
            json!({"group_id": north, "driver_id": anna_id, "vehicle_id": vehicle}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    assert_eq!(issued["driver_id"], anna_id.as_str());
    assert_eq!(issued["vehicle_id"], vehicle);

    // ... but not in another depot, nor at org level, nor for another depot's driver.
    let (status, body) = app.post("/v1/cards", &admin, json!({"group_id": south})).await;
    assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "group_id");
    let (status, body) = app.post("/v1/cards", &admin, json!({})).await;
    assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "group_id");
    let boris_id = app.user_id(&app.boris().await).await;
    let (status, body) =
        app.post("/v1/cards", &admin, json!({"group_id": north, "driver_id": boris_id})).await;
    assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "driver_id");

    // Drivers and fraud analysts do not issue cards.
    for token in [app.anna().await, app.analyst().await] {
        let (status, body) = app.post("/v1/cards", &token, json!({"group_id": north})).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    assert_eq!(app.count("/v1/cards", &owner).await, before + 1, "only the admin's card exists");
}

async fn suspend_and_resume(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let admin = app.admin_north().await;
    let id = app.north_card();
    let (status, body) = set_status(&app, &admin, &id, "suspended", "  driver on leave ").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "suspended");
    assert_eq!(body["status_reason"], "driver on leave", "the reason is trimmed and kept");
    assert_eq!(card(&app, &admin, &id).await["status"], "suspended");
    // A suspended card is not an active one: the status filter sees it move.
    let (_, suspended) = app.get("/v1/cards?status=suspended", &admin).await;
    assert!(suspended.as_array().unwrap().iter().any(|c| c["id"] == id.as_str()));

    let (status, body) = set_status(&app, &admin, &id, "active", "back from leave").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["status_reason"], "back from leave");
    // Suspended → blocked and suspended → closed are allowed too.
    must_set_status(&app, &admin, &id, "suspended").await;
    must_set_status(&app, &admin, &id, "blocked").await;
    let other = app.south_card();
    let owner = app.owner().await;
    must_set_status(&app, &owner, &other, "suspended").await;
    must_set_status(&app, &owner, &other, "closed").await;
}

async fn block_and_only_the_owner_unblocks(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let admin = app.admin_north().await;
    let owner = app.owner().await;
    let id = app.north_card();
    let (status, body) = set_status(&app, &admin, &id, "blocked", "phone lost").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "blocked");

    let (status, body) = set_status(&app, &admin, &id, "active", "phone found").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_eq!(
        card(&app, &owner, &id).await["status"],
        "blocked",
        "the refused unblock changed nothing"
    );

    let (status, body) = set_status(&app, &owner, &id, "active", "phone found").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["status_reason"], "phone found");
    // Blocked → closed is allowed for an admin (closing needs no owner).
    must_set_status(&app, &admin, &id, "blocked").await;
    must_set_status(&app, &admin, &id, "closed").await;
}

async fn fraud_analysts_may_block_but_not_unblock(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let analyst = app.analyst().await;
    let id = app.south_card();
    for to in ["suspended", "closed", "active"] {
        let (status, body) = set_status(&app, &analyst, &id, to, "fraud review").await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    }
    let (status, body) = set_status(&app, &analyst, &id, "blocked", "confirmed fraud").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "blocked");
    let (status, body) = set_status(&app, &analyst, &id, "active", "false positive").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    assert_eq!(card(&app, &app.owner().await, &id).await["status"], "blocked");
}

async fn blocked_card_cannot_be_suspended(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    must_set_status(&app, &owner, &id, "blocked").await;
    let (status, body) = set_status(&app, &owner, &id, "suspended", "try a side door").await;
    assert_error(status, &body, StatusCode::CONFLICT, "INVALID_TRANSITION");
    let now = card(&app, &owner, &id).await;
    assert_eq!(now["status"], "blocked");
    assert_eq!(now["status_reason"], "test: to blocked", "the refused change kept the old reason");
}

async fn closed_card_cannot_change_status(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    must_set_status(&app, &owner, &id, "closed").await;
    for to in ["active", "suspended", "blocked", "closed"] {
        let (status, body) = set_status(&app, &owner, &id, to, "reopen").await;
        assert_error(status, &body, StatusCode::CONFLICT, "INVALID_TRANSITION");
    }
    let analyst = app.analyst().await;
    let (status, body) = set_status(&app, &analyst, &id, "blocked", "fraud").await;
    assert_error(status, &body, StatusCode::CONFLICT, "INVALID_TRANSITION");
    assert_eq!(card(&app, &owner, &id).await["status"], "closed");
}

async fn same_status_is_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    let (status, body) = set_status(&app, &owner, &id, "active", "again").await;
    assert_error(status, &body, StatusCode::CONFLICT, "INVALID_TRANSITION");
    must_set_status(&app, &owner, &id, "suspended").await;
    let (status, body) = set_status(&app, &owner, &id, "suspended", "again").await;
    assert_error(status, &body, StatusCode::CONFLICT, "INVALID_TRANSITION");
    must_set_status(&app, &owner, &id, "blocked").await;
    let (status, body) = set_status(&app, &owner, &id, "blocked", "again").await;
    assert_error(status, &body, StatusCode::CONFLICT, "INVALID_TRANSITION");
}

async fn status_change_needs_a_reason(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    let path = format!("/v1/cards/{id}/status");

    let (status, body) = app.post(&path, &owner, json!({"status": "suspended"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_FIELD");
    assert_eq!(body["error"]["field"], "reason", "{body}");
    let (status, body) =
        app.post(&path, &owner, json!({"status": "suspended", "reason": null})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_FIELD");
    assert_eq!(body["error"]["field"], "reason", "{body}");

    for empty in ["", "   ", "\n\t"] {
        let (status, body) = set_status(&app, &owner, &id, "suspended", empty).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_VALUE");
        assert_eq!(body["error"]["field"], "reason", "{body}");
    }
    let long = "x".repeat(501);
    let (status, body) = set_status(&app, &owner, &id, "suspended", &long).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "OUT_OF_RANGE");
    assert_eq!(body["error"]["field"], "reason", "{body}");
    let (status, body) = set_status(&app, &owner, &id, "suspended", "bell\u{7}").await;
    assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "reason");
    assert_eq!(card(&app, &owner, &id).await["status"], "active", "nothing changed");
}

async fn unknown_or_missing_status_is_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    let path = format!("/v1/cards/{id}/status");
    for bad in [json!("frozen"), json!("Active"), json!(""), json!(1), json!(null)] {
        let (status, body) =
            app.post(&path, &owner, json!({"status": bad, "reason": "because"})).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_FIELD");
        assert_eq!(body["error"]["field"], "status", "{bad}: {body}");
    }
    let (status, body) = app.post(&path, &owner, json!({"reason": "because"})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_FIELD");
    assert_eq!(body["error"]["field"], "status", "{body}");
    assert_eq!(card(&app, &owner, &id).await["status"], "active");
}

async fn drivers_cannot_change_their_card(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let anna = app.anna().await;
    let id = app.north_card();
    let (status, body) = set_status(&app, &anna, &id, "suspended", "on holiday").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (status, body) =
        app.put(&format!("/v1/cards/{id}/binding"), &anna, json!({"driver_id": null})).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    // Another driver's card is simply not there for her.
    let (status, body) = set_status(&app, &anna, &app.south_card(), "suspended", "x").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    // Nor is a card of another depot for the North admin.
    let admin = app.admin_north().await;
    let (status, body) = set_status(&app, &admin, &app.south_card(), "suspended", "x").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let owner = app.owner().await;
    assert_eq!(card(&app, &owner, &id).await["status"], "active");
    assert_eq!(card(&app, &owner, &app.south_card()).await["status"], "active");
}

async fn rebinding_keeps_the_binding_history(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let admin_id = app.user_id(&admin).await;
    let owner_id = app.user_id(&owner).await;
    let anna_id = app.user_id(&app.anna().await).await;
    let (carla_id, _) = north_driver(&app, "carla@demo-taxi.example").await;
    let id = app.north_card();
    let vehicle = card(&app, &owner, &id).await["vehicle_id"].clone();
    assert!(vehicle.is_string());

    let (status, body) = app
        .put(
            &format!("/v1/cards/{id}/binding"),
            &admin,
            json!({"driver_id": carla_id, "vehicle_id": vehicle}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["driver_id"], carla_id.as_str());
    assert_eq!(body["vehicle_id"], vehicle);
    assert_eq!(card(&app, &owner, &id).await["driver_id"], carla_id.as_str());

    // The owner (org-wide) may bind a North card to a driver of any depot.
    let boris_id = app.user_id(&app.boris().await).await;
    let (status, body) =
        app.put(&format!("/v1/cards/{id}/binding"), &owner, json!({"driver_id": boris_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["driver_id"], boris_id.as_str());
    assert_eq!(body["vehicle_id"], Value::Null, "an absent vehicle_id unbinds the vehicle");

    let (status, history) = app.get(&format!("/v1/cards/{id}/bindings"), &owner).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let history = history.as_array().expect("list");
    assert_eq!(history.len(), 3, "{history:?}");
    let drivers: Vec<&Value> = history.iter().map(|h| &h["driver_id"]).collect();
    assert_eq!(drivers, [&json!(anna_id), &json!(carla_id), &json!(boris_id)]);
    assert_eq!(history[0]["vehicle_id"], vehicle);
    assert_eq!(history[1]["vehicle_id"], vehicle);
    assert_eq!(history[2]["vehicle_id"], Value::Null);
    assert_eq!(history[0]["bound_by"], owner_id.as_str(), "the demo issued it as the owner");
    assert_eq!(history[1]["bound_by"], admin_id.as_str());
    assert_eq!(history[2]["bound_by"], owner_id.as_str());
    // Each period ends when the next begins; the current one is open.
    assert_eq!(history[0]["unbound_at"], history[1]["bound_at"]);
    assert_eq!(history[1]["unbound_at"], history[2]["bound_at"]);
    assert_eq!(history[2]["unbound_at"], Value::Null);
    for h in history {
        assert!(h["bound_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{h}");
    }
    assert!(history[0]["bound_at"].as_str() <= history[1]["bound_at"].as_str());

    // The card stays in North whoever drives it, so the North admin still reads it.
    let (status, _) = app.get(&format!("/v1/cards/{id}/bindings"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    // Drivers do not read binding histories; another depot's admin does not either.
    let (status, body) = app.get(&format!("/v1/cards/{id}/bindings"), &app.boris().await).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (status, body) = app.get(&format!("/v1/cards/{}/bindings", app.south_card()), &admin).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
}

async fn unbinding_clears_driver_and_vehicle_and_closes_the_history(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let anna = app.anna().await;
    let id = app.north_card();
    let (status, body) = app
        .put(
            &format!("/v1/cards/{id}/binding"),
            &owner,
            json!({"driver_id": null, "vehicle_id": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["driver_id"], Value::Null);
    assert_eq!(body["vehicle_id"], Value::Null);
    let now = card(&app, &owner, &id).await;
    assert_eq!((&now["driver_id"], &now["vehicle_id"]), (&Value::Null, &Value::Null));

    let (_, history) = app.get(&format!("/v1/cards/{id}/bindings"), &owner).await;
    let history = history.as_array().expect("list");
    assert_eq!(history.len(), 1, "unbinding closes the period and opens none: {history:?}");
    assert!(history[0]["unbound_at"].is_string(), "{history:?}");
    // The unbound card is gone from Anna's app.
    assert_eq!(app.count("/v1/cards", &anna).await, 0);
    let (status, _) = app.get(&format!("/v1/cards/{id}"), &anna).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Unbinding again is no change; `{}` means the same as both null.
    let (status, body) = app.put(&format!("/v1/cards/{id}/binding"), &owner, json!({})).await;
    assert_error(status, &body, StatusCode::CONFLICT, "BINDING_UNCHANGED");

    // Binding it again opens a new period.
    let anna_id = app.user_id(&anna).await;
    let (status, body) =
        app.put(&format!("/v1/cards/{id}/binding"), &owner, json!({"driver_id": anna_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, history) = app.get(&format!("/v1/cards/{id}/bindings"), &owner).await;
    let history = history.as_array().expect("list");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["driver_id"], anna_id.as_str());
    assert_eq!(history[1]["unbound_at"], Value::Null);
    assert_eq!(app.count("/v1/cards", &anna).await, 1);
}

async fn same_binding_again_is_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    let current = card(&app, &owner, &id).await;
    let (status, body) = app
        .put(
            &format!("/v1/cards/{id}/binding"),
            &owner,
            json!({"driver_id": current["driver_id"], "vehicle_id": current["vehicle_id"]}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "BINDING_UNCHANGED");
    let (_, history) = app.get(&format!("/v1/cards/{id}/bindings"), &owner).await;
    assert_eq!(history.as_array().unwrap().len(), 1, "no new history entry: {history}");
    assert_eq!(history[0]["unbound_at"], Value::Null);
}

async fn closed_card_cannot_be_bound(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let id = app.north_card();
    let (carla_id, _) = north_driver(&app, "carla@demo-taxi.example").await;
    must_set_status(&app, &owner, &id, "closed").await;
    for body in [json!({"driver_id": carla_id}), json!({"driver_id": null, "vehicle_id": null})] {
        let (status, answer) = app.put(&format!("/v1/cards/{id}/binding"), &owner, body).await;
        assert_error(status, &answer, StatusCode::CONFLICT, "CARD_CLOSED");
    }
    let anna_id = app.user_id(&app.anna().await).await;
    assert_eq!(card(&app, &owner, &id).await["driver_id"], anna_id.as_str());
    let (_, history) = app.get(&format!("/v1/cards/{id}/bindings"), &owner).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
}

async fn binding_needs_an_active_driver_in_scope(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let id = app.north_card();
    let path = format!("/v1/cards/{id}/binding");
    let (carla_id, _) = north_driver(&app, "carla@demo-taxi.example").await;
    let (status, body) =
        app.post(&format!("/v1/users/{carla_id}/deactivate"), &owner, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let not_drivers = [
        ("deactivated driver", carla_id.clone()),
        ("admin", app.user_id(&admin).await),
        ("owner", app.user_id(&owner).await),
        ("fraud analyst", app.user_id(&app.analyst().await).await),
        ("unknown id", uuid::Uuid::new_v4().to_string()),
    ];
    for (what, user) in &not_drivers {
        let (status, body) = app.put(&path, &owner, json!({"driver_id": user})).await;
        assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "driver_id");
        assert_eq!(body["error"]["code"], "NOT_FOUND", "{what}: {body}");
    }
    // The North admin cannot bind to a South driver (outside the subtree).
    let boris_id = app.user_id(&app.boris().await).await;
    let (status, body) = app.put(&path, &admin, json!({"driver_id": boris_id})).await;
    assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "driver_id");
    // Vehicles: unknown, or deactivated.
    let (status, body) =
        app.put(&path, &owner, json!({"vehicle_id": uuid::Uuid::new_v4().to_string()})).await;
    assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "vehicle_id");
    let vehicle = card(&app, &owner, &app.south_card()).await["vehicle_id"].clone();
    let (status, body) = app
        .post(&format!("/v1/vehicles/{}/deactivate", vehicle.as_str().unwrap()), &owner, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.put(&path, &owner, json!({"vehicle_id": vehicle})).await;
    assert_field_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "vehicle_id");

    let anna_id = app.user_id(&app.anna().await).await;
    assert_eq!(card(&app, &owner, &id).await["driver_id"], anna_id.as_str(), "unchanged");
    let (_, history) = app.get(&format!("/v1/cards/{id}/bindings"), &owner).await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
}

async fn after_rebinding_only_the_new_driver_sees_the_card(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let anna = app.anna().await;
    let id = app.north_card();
    let ids = |list: Value| -> Vec<String> {
        list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(app.get("/v1/cards", &anna).await.1), vec![id.clone()]);
    let (carla_id, carla) = north_driver(&app, "carla@demo-taxi.example").await;
    assert!(ids(app.get("/v1/cards", &carla).await.1).is_empty());

    let (status, body) =
        app.put(&format!("/v1/cards/{id}/binding"), &owner, json!({"driver_id": carla_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    assert!(ids(app.get("/v1/cards", &anna).await.1).is_empty(), "Anna lost the card");
    assert_eq!(ids(app.get("/v1/cards", &carla).await.1), vec![id.clone()], "Carla has it");
    let (status, body) = app.get(&format!("/v1/cards/{id}"), &anna).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, body) = app.get(&format!("/v1/cards/{id}/controls/effective"), &anna).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(card(&app, &carla, &id).await["driver_id"], carla_id.as_str());
    let (status, _) = app.get(&format!("/v1/cards/{id}/controls/effective"), &carla).await;
    assert_eq!(status, StatusCode::OK);
}
