//! Races: many requests at once on one object. The database is the arbiter (optimistic
//! versions, single-use refresh tokens), on both backends.

mod common;

use axum::http::{Method, StatusCode};
use common::{Backend, TestApp};
use futures_util::future::join_all;
use serde_json::json;
use server::demo::DEMO_PASSWORD;

both_backends!(
    concurrent_status_changes_apply_exactly_once,
    a_refresh_token_presented_concurrently_rotates_once,
    concurrent_rebinds_leave_one_open_binding,
);

/// How many requests each race fires at once.
const RACERS: usize = 16;

async fn concurrent_status_changes_apply_exactly_once(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let card = app.north_card();
    let path = format!("/v1/cards/{card}/status");
    let body = json!({"status": "suspended", "reason": "race"});
    let results = join_all((0..RACERS).map(|_| app.post(&path, &owner, body.clone()))).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "exactly one suspension wins: {results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        let code = body["error"]["code"].as_str().unwrap();
        assert!(code == "INVALID_TRANSITION" || code == "CONCURRENT_UPDATE", "{code}");
    }
    let (_, events) = app.get(&format!("/v1/cards/{card}/events"), &owner).await;
    let suspended =
        events.as_array().unwrap().iter().filter(|e| e["action"] == "card.suspended").count();
    assert_eq!(suspended, 1, "one change, one audit entry");
}

async fn a_refresh_token_presented_concurrently_rotates_once(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let pair = app.login_pair("anna@demo-taxi.example", DEMO_PASSWORD).await;
    let body = json!({"refresh_token": pair["refresh_token"]});
    let results = join_all(
        (0..RACERS).map(|_| app.call(Method::POST, "/v1/auth/refresh", None, Some(body.clone()))),
    )
    .await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "a refresh token works exactly once: {results:?}");
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED));
}

async fn concurrent_rebinds_leave_one_open_binding(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let mut drivers = Vec::new();
    for i in 0..4 {
        let body = json!({"email": format!("race{i}@demo-taxi.example"), "name": format!("Racer {i}"), "role": "driver", "group_id": north});
        drivers.push(app.invite_and_activate(&owner, body, "racer-password").await);
    }
    let card = app.north_card();
    let path = format!("/v1/cards/{card}/binding");
    let results =
        join_all(drivers.iter().map(|d| app.put(&path, &owner, json!({"driver_id": d})))).await;
    assert!(results.iter().any(|(s, _)| *s == StatusCode::OK));
    let (_, history) = app.get(&format!("/v1/cards/{card}/bindings"), &owner).await;
    let open: Vec<_> =
        history.as_array().unwrap().iter().filter(|b| b["unbound_at"].is_null()).collect();
    assert_eq!(open.len(), 1, "exactly one current binding: {history}");
    let (_, now) = app.get(&format!("/v1/cards/{card}"), &owner).await;
    assert_eq!(open[0]["driver_id"], now["driver_id"], "the open binding is the card's binding");
}
