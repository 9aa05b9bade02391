//! Deactivating a depot (group) through the HTTP API: only an empty one, only within the
//! caller's scope, audited; afterwards it takes nothing new, and a placement racing the
//! deactivation never lands in a deactivated depot.

mod common;

use axum::http::StatusCode;
use common::{Backend, TestApp};
use serde_json::{json, Value};
use sqlx::{Connection, Row};

both_backends!(
    an_empty_depot_deactivates_and_then_takes_nothing_new,
    a_depot_is_deactivated_only_once_it_holds_nothing_live,
    only_owners_and_admins_of_the_depot_deactivate_it,
    a_placement_racing_the_deactivation_never_lands_in_a_deactivated_depot,
);

async fn new_depot(app: &TestApp, token: &str, name: &str, parent: Option<&str>) -> String {
    let (status, body) =
        app.post("/v1/groups", token, json!({"name": name, "parent_id": parent})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "active");
    id(&body)
}

async fn deactivate(app: &TestApp, token: &str, group: &str) -> (StatusCode, Value) {
    app.post(&format!("/v1/groups/{group}/deactivate"), token, json!({})).await
}

fn vehicle(plate: &str, group: &str) -> Value {
    json!({"plate": plate, "products": ["diesel"], "tank_capacity_ml": 60_000, "group_id": group})
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

fn refused(answer: (StatusCode, Value), code: &str, what: &str) -> Value {
    let (status, body) = answer;
    assert_eq!(status, StatusCode::CONFLICT, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    body
}

async fn an_empty_depot_deactivates_and_then_takes_nothing_new(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let west = new_depot(&app, &owner, "West depot", None).await;
    let (status, body) = deactivate(&app, &owner, &west).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "deactivated");
    let (_, read) = app.get(&format!("/v1/groups/{west}"), &owner).await;
    assert_eq!(read["status"], "deactivated", "the API reads the new state");
    let (_, listed) = app.get("/v1/groups", &owner).await;
    let row = listed.as_array().expect("groups").iter().find(|g| g["id"] == west.as_str());
    assert_eq!(row.expect("still listed")["status"], "deactivated");

    refused(deactivate(&app, &owner, &west).await, "ALREADY_DEACTIVATED", "twice");
    let new_vehicle = app.post("/v1/vehicles", &owner, vehicle("W-DE 1", &west)).await;
    refused(new_vehicle, "GROUP_DEACTIVATED", "a vehicle");
    let card = app.post("/v1/cards", &owner, json!({"group_id": west})).await;
    refused(card, "GROUP_DEACTIVATED", "a card");
    let driver = json!({"email": "wes@demo.example", "name": "Wes", "role": "driver",
                        "group_id": west});
    refused(app.post("/v1/users", &owner, driver).await, "GROUP_DEACTIVATED", "a driver");
    let child = app.post("/v1/groups", &owner, json!({"name": "W2", "parent_id": west})).await;
    refused(child, "GROUP_DEACTIVATED", "a child depot");

    // Nothing moves in either: a vehicle of North, then Anna (a North driver).
    let north = app.group_id("North depot").await;
    let (_, truck) = app.post("/v1/vehicles", &owner, vehicle("N-TR 7", &north)).await;
    let truck = id(&truck);
    let path = format!("/v1/vehicles/{truck}");
    let moved = app.patch(&path, &owner, json!({"group_id": west}));
    refused(moved.await, "GROUP_DEACTIVATED", "moving a vehicle");
    let anna = app.user_id(&app.anna().await).await;
    let path = format!("/v1/users/{anna}");
    let moved = app.patch(&path, &owner, json!({"group_id": west}));
    refused(moved.await, "GROUP_DEACTIVATED", "moving a driver");
    let (_, truck) = app.get(&format!("/v1/vehicles/{truck}"), &owner).await;
    assert_eq!(truck["group_id"], north.as_str(), "the refused move changed nothing");

    // One audit row, before and after.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("connect");
    let rows = sqlx::query(
        "SELECT before_doc, after_doc FROM audit_events \
         WHERE subject_id = $1 AND action = 'group.deactivated'",
    )
    .bind(&west)
    .fetch_all(&mut db)
    .await
    .expect("audit");
    assert_eq!(rows.len(), 1, "one group.deactivated event");
    let doc = |col: &str| -> Value {
        serde_json::from_str(&rows[0].try_get::<String, _>(col).expect(col)).expect("json")
    };
    assert_eq!(doc("before_doc")["status"], "active");
    assert_eq!(doc("after_doc")["status"], "deactivated");
}

async fn a_depot_is_deactivated_only_once_it_holds_nothing_live(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let east = new_depot(&app, &owner, "East depot", None).await;
    let shift = new_depot(&app, &owner, "East night shift", Some(&east)).await;
    let (_, van) = app.post("/v1/vehicles", &owner, vehicle("E-VN 2", &east)).await;
    let driver = json!({"email": "eve@demo.example", "name": "Eve", "role": "driver",
                        "group_id": east});
    let (status, eve) = app.post("/v1/users", &owner, driver).await;
    assert_eq!(status, StatusCode::CREATED, "{eve}");
    let (_, card_a) = app.post("/v1/cards", &owner, json!({"group_id": east})).await;
    let (_, card_b) = app.post("/v1/cards", &owner, json!({"group_id": east})).await;

    let body = refused(deactivate(&app, &owner, &east).await, "GROUP_NOT_EMPTY", "full");
    let message = body["error"]["message"].as_str().expect("message");
    for part in ["1 active child group", "1 user", "1 vehicle", "2 cards not closed"] {
        assert!(message.contains(part), "{part:?} in {message:?}");
    }
    let (_, still) = app.get(&format!("/v1/groups/{east}"), &owner).await;
    assert_eq!(still["status"], "active", "a refused deactivation changes nothing");

    // Emptied one kind at a time; each step still refuses until the last.
    let steps: [(String, Value); 5] = [
        (format!("/v1/groups/{shift}/deactivate"), json!({})),
        (format!("/v1/vehicles/{}/deactivate", id(&van)), json!({})),
        (format!("/v1/users/{}/deactivate", id(&eve["user"])), json!({})),
        (
            format!("/v1/cards/{}/status", id(&card_a)),
            json!({"status": "closed", "reason": "depot closing"}),
        ),
        (
            format!("/v1/cards/{}/status", id(&card_b)),
            json!({"status": "closed", "reason": "depot closing"}),
        ),
    ];
    for (i, (path, body)) in steps.iter().enumerate() {
        let (status, answer) = app.post(path, &owner, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        let (status, answer) = deactivate(&app, &owner, &east).await;
        if i + 1 < steps.len() {
            assert_eq!(status, StatusCode::CONFLICT, "after {path}: {answer}");
            assert_eq!(answer["error"]["code"], "GROUP_NOT_EMPTY");
        } else {
            assert_eq!(status, StatusCode::OK, "empty at last: {answer}");
            assert_eq!(answer["status"], "deactivated");
        }
    }
    // The history stays readable.
    let (status, card) = app.get(&format!("/v1/cards/{}", id(&card_a)), &owner).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["status"], "closed");
}

async fn only_owners_and_admins_of_the_depot_deactivate_it(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let north = app.group_id("North depot").await;
    let south = app.group_id("South depot").await;
    let (status, body) = deactivate(&app, &admin, &south).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another depot is hidden: {body}");
    let (status, body) = deactivate(&app, &app.anna().await, &north).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = deactivate(&app, &app.analyst().await, &north).await;
    assert!(status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND, "{body}");
    let (status, body) = deactivate(&app, &owner, "not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The admin's own depot holds the admin: never empty while they can act on it.
    refused(deactivate(&app, &admin, &north).await, "GROUP_NOT_EMPTY", "own depot");
    // Inside their subtree an admin may.
    let pool = new_depot(&app, &admin, "North pool cars", Some(&north)).await;
    let (status, body) = deactivate(&app, &admin, &pool).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A vehicle created while the depot is being deactivated: exactly one of the two wins,
/// every round. Without the group row lock both could commit on PostgreSQL.
async fn a_placement_racing_the_deactivation_never_lands_in_a_deactivated_depot(b: Backend) {
    const ROUNDS: usize = 12;
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    for round in 0..ROUNDS {
        let depot = new_depot(&app, &owner, &format!("Race depot {round}"), None).await;
        let plate = format!("R-AC {round}");
        let (made, gone) = tokio::join!(
            app.post("/v1/vehicles", &owner, vehicle(&plate, &depot)),
            deactivate(&app, &owner, &depot),
        );
        match (made.0, gone.0) {
            (StatusCode::CREATED, StatusCode::CONFLICT) => {
                assert_eq!(gone.1["error"]["code"], "GROUP_NOT_EMPTY", "{}", gone.1);
            }
            (StatusCode::CONFLICT, StatusCode::OK) => {
                assert_eq!(made.1["error"]["code"], "GROUP_DEACTIVATED", "{}", made.1);
            }
            other => panic!("round {round}: {other:?} {} {}", made.1, gone.1),
        }
    }
}
