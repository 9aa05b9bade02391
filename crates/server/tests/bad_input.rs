//! Bad input of every kind gets a 4xx with the one JSON error shape
//! `{"error": {"code", "message", "field"?}}`, never a 500, a plain-text answer or a silent
//! change: after each refused create, nothing was created.

mod common;

use axum::http::{header, Method, StatusCode};
use common::{Backend, TestApp};
use serde_json::{json, Value};

both_backends!(
    malformed_json_is_400_malformed_json,
    trailing_garbage_after_json_is_400_malformed_json,
    a_body_that_is_not_an_object_is_400,
    unknown_fields_are_400_naming_the_field,
    wrong_types_are_400_naming_the_nested_field,
    missing_required_fields_are_400_naming_the_field,
    out_of_range_values_are_422_naming_the_field,
    unsupported_currency_and_time_zone_are_422,
    bad_ids_in_paths_are_400_naming_the_id,
    wrong_content_type_is_415,
    body_over_64_kib_is_413,
    unknown_routes_are_404_json,
    wrong_methods_are_405_json,
    bad_query_values_are_400_naming_the_parameter,
    hostile_json_is_refused_without_a_500,
    sql_metacharacters_in_free_text_round_trip,
);

/// Sends raw bytes; returns the status and the parsed error body, checking that the answer
/// is a JSON error of the one shape.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
    content_type: Option<&str>,
) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> =
        content_type.map(|ct| ("content-type", ct)).into_iter().collect();
    let (status, response_headers, bytes) =
        app.call_raw(method.clone(), path, token, body.map(<[u8]>::to_vec), &headers).await;
    let text = String::from_utf8_lossy(&bytes);
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{method} {path}: non-JSON answer ({status}): {text}"));
    if status.is_client_error() || status.is_server_error() {
        assert!(
            response_headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("application/json")),
            "{method} {path}: errors are sent as JSON: {response_headers:?}"
        );
        assert_error_shape(&body);
    }
    (status, body)
}

/// A JSON body sent as `application/json`.
async fn send_json(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: &str,
) -> (StatusCode, Value) {
    send(app, method, path, Some(token), Some(body.as_bytes()), Some("application/json")).await
}

fn assert_error_shape(body: &Value) {
    let error = body["error"].as_object().unwrap_or_else(|| panic!("no error object: {body}"));
    assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    if let Some(field) = error.get("field") {
        assert!(
            field.as_str().is_some_and(|f| !f.is_empty()),
            "field, when present, names one: {body}"
        );
    }
    assert!(error.keys().all(|k| ["code", "message", "field"].contains(&k.as_str())), "{body}");
}

fn assert_refused(
    what: &str,
    (status, body): &(StatusCode, Value),
    want: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(*status, want, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    match field {
        Some(f) => assert_eq!(body["error"]["field"], f, "{what}: {body}"),
        None => assert!(body["error"].get("field").is_none(), "{what}: {body}"),
    }
}

/// Object counts that a refused create must leave alone.
#[derive(Debug, PartialEq)]
struct Counts {
    orgs: usize,
    groups: usize,
    users: usize,
    vehicles: usize,
    cards: usize,
}

async fn counts(app: &TestApp) -> Counts {
    let owner = app.owner().await;
    let operator = app.operator().await;
    Counts {
        orgs: app.count("/v1/orgs", &operator).await,
        groups: app.count("/v1/groups", &owner).await,
        users: app.count("/v1/users", &owner).await,
        vehicles: app.count("/v1/vehicles", &owner).await,
        cards: app.count("/v1/cards", &owner).await,
    }
}

fn vehicle(app_group: &str) -> Value {
    json!({"plate": "B-TX 909", "products": ["diesel"], "tank_capacity_ml": 60000, "group_id": app_group})
}

fn org() -> Value {
    json!({"name": "Rival Freight", "currency": "EUR", "time_zone": "Europe/Vienna",
           "owner": {"email": "owner@rival.example", "name": "Rita Rival"}})
}

/// `value` with `key` (a top-level or `a.b` nested key) set to `to`, or removed if `None`.
fn with(value: &Value, key: &str, to: Option<Value>) -> Value {
    let mut out = value.clone();
    let (parent, leaf) = match key.split_once('.') {
        Some((p, l)) => (&mut out[p], l),
        None => (&mut out, key),
    };
    let object = parent.as_object_mut().expect("object");
    match to {
        Some(v) => object.insert(leaf.to_owned(), v),
        None => object.remove(leaf),
    };
    out
}

async fn malformed_json_is_400_malformed_json(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let before = counts(&app).await;
    let bodies: [&[u8]; 9] = [
        b"",
        b"   ",
        b"not json",
        b"{\"plate\": ",
        b"{'plate': 'B-TX 1'}",
        b"{\"plate\": \"B-TX 1\",}",
        b"{plate: 1}",
        b"{\"plate\": \"B-TX \xff\xfe\"}",
        b"{\"products\": [\"diesel\" \"adblue\"]}",
    ];
    for body in bodies {
        let answer = send(
            &app,
            Method::POST,
            "/v1/vehicles",
            Some(&owner),
            Some(body),
            Some("application/json"),
        )
        .await;
        let what = String::from_utf8_lossy(body);
        assert_refused(&what, &answer, StatusCode::BAD_REQUEST, "MALFORMED_JSON", None);
    }
    let answer = send_json(&app, Method::POST, "/v1/auth/login", &owner, "{\"email\":").await;
    assert_refused("login", &answer, StatusCode::BAD_REQUEST, "MALFORMED_JSON", None);
    assert_eq!(counts(&app).await, before);
}

async fn trailing_garbage_after_json_is_400_malformed_json(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    let good = vehicle(&north).to_string();
    for tail in [" x", "}", "]", "{}", ",", " null", "\u{0}"] {
        let body = format!("{good}{tail}");
        let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &body).await;
        assert_refused(&body, &answer, StatusCode::BAD_REQUEST, "MALFORMED_JSON", None);
    }
    let card = format!("{}{{}}", json!({"group_id": north}));
    let answer = send_json(&app, Method::POST, "/v1/cards", &owner, &card).await;
    assert_refused(&card, &answer, StatusCode::BAD_REQUEST, "MALFORMED_JSON", None);
    assert_eq!(counts(&app).await, before, "the valid prefix created nothing");
    // Trailing whitespace is just whitespace.
    let (status, body) =
        send_json(&app, Method::POST, "/v1/vehicles", &owner, &format!("{good} \n")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn a_body_that_is_not_an_object_is_400(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    // An array would otherwise be read field by field in declaration order.
    let positional = json!(["B-TX 909", ["diesel"], 60000, north]).to_string();
    for body in [positional.as_str(), "[]", "null", "42", "\"text\"", "true"] {
        let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, body).await;
        assert_refused(body, &answer, StatusCode::BAD_REQUEST, "INVALID_BODY", None);
    }
    let answer = send_json(&app, Method::POST, "/v1/cards", &owner, "[null, null, null]").await;
    assert_refused("cards", &answer, StatusCode::BAD_REQUEST, "INVALID_BODY", None);
    assert_eq!(counts(&app).await, before);
}

async fn unknown_fields_are_400_naming_the_field(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let operator = app.operator().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    let cases = [
        ("/v1/vehicles", &owner, with(&vehicle(&north), "colour", Some(json!("red"))), "colour"),
        ("/v1/vehicles", &owner, with(&vehicle(&north), "Plate", Some(json!("X"))), "Plate"),
        ("/v1/cards", &owner, json!({"group_id": north, "pan": "7001230000000000"}), "pan"),
        ("/v1/orgs", &operator, with(&org(), "owner.phone", Some(json!("+49"))), "owner.phone"),
        ("/v1/orgs", &operator, with(&org(), "id", Some(json!(uuid::Uuid::new_v4()))), "id"),
        ("/v1/groups", &owner, json!({"name": "East", "org_id": north}), "org_id"),
        (
            "/v1/users",
            &owner,
            json!({"email": "x@demo-taxi.example", "name": "X", "role": "driver", "group_id": north, "password": "p"}),
            "password",
        ),
    ];
    for (path, token, body, field) in &cases {
        let answer = send_json(&app, Method::POST, path, token, &body.to_string()).await;
        assert_refused(path, &answer, StatusCode::BAD_REQUEST, "INVALID_FIELD", Some(field));
        assert!(
            answer.1["error"]["message"].as_str().unwrap().contains("unknown field"),
            "{}",
            answer.1
        );
    }
    let id = app.north_card();
    let answer = send_json(
        &app,
        Method::POST,
        &format!("/v1/cards/{id}/status"),
        &owner,
        &json!({"status": "suspended", "reason": "x", "force": true}).to_string(),
    )
    .await;
    assert_refused("status", &answer, StatusCode::BAD_REQUEST, "INVALID_FIELD", Some("force"));
    assert_eq!(counts(&app).await, before);
}

async fn wrong_types_are_400_naming_the_nested_field(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let operator = app.operator().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    let v = vehicle(&north);
    let cases = [
        ("/v1/orgs", &operator, with(&org(), "owner.email", Some(json!(42))), "owner.email"),
        ("/v1/orgs", &operator, with(&org(), "owner", Some(json!("owner@rival.example"))), "owner"),
        ("/v1/orgs", &operator, with(&org(), "currency", Some(json!(978))), "currency"),
        ("/v1/orgs", &operator, with(&org(), "name", Some(json!(null))), "name"),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "tank_capacity_ml", Some(json!("lots"))),
            "tank_capacity_ml",
        ),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "tank_capacity_ml", Some(json!(60.5))),
            "tank_capacity_ml",
        ),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "tank_capacity_ml", Some(json!(true))),
            "tank_capacity_ml",
        ),
        ("/v1/vehicles", &owner, with(&v, "products", Some(json!("diesel"))), "products"),
        ("/v1/vehicles", &owner, with(&v, "products", Some(json!(["diesel", 7]))), "products[1]"),
        ("/v1/vehicles", &owner, with(&v, "products", Some(json!(["jet_a1"]))), "products[0]"),
        ("/v1/vehicles", &owner, with(&v, "group_id", Some(json!("north"))), "group_id"),
        ("/v1/vehicles", &owner, with(&v, "plate", Some(json!(["B", "TX"]))), "plate"),
        ("/v1/cards", &owner, json!({"group_id": 7}), "group_id"),
        ("/v1/cards", &owner, json!({"group_id": north, "driver_id": "anna"}), "driver_id"),
        (
            "/v1/users",
            &owner,
            json!({"email": "x@demo-taxi.example", "name": "X", "role": "king", "group_id": north}),
            "role",
        ),
        (
            "/v1/users",
            &owner,
            json!({"email": "x@demo-taxi.example", "name": "X", "role": null, "group_id": north}),
            "role",
        ),
    ];
    for (path, token, body, field) in &cases {
        let answer = send_json(&app, Method::POST, path, token, &body.to_string()).await;
        assert_refused(
            &body.to_string(),
            &answer,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some(field),
        );
    }
    // Updates and controls too.
    let vehicle_id = app.get(&format!("/v1/cards/{}", app.north_card()), &owner).await.1
        ["vehicle_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = send_json(
        &app,
        Method::PATCH,
        &format!("/v1/vehicles/{vehicle_id}"),
        &owner,
        &json!({"tank_capacity_ml": "80 l"}).to_string(),
    )
    .await;
    assert_refused(
        "patch",
        &answer,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("tank_capacity_ml"),
    );
    let answer = send_json(
        &app,
        Method::PUT,
        &format!("/v1/vehicles/{vehicle_id}/controls"),
        &owner,
        &json!({"daily": {"amount": "100.00"}}).to_string(),
    )
    .await;
    assert_refused(
        "controls",
        &answer,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("daily.amount"),
    );
    let (_, now) = app.get(&format!("/v1/vehicles/{vehicle_id}"), &owner).await;
    assert_eq!(now["tank_capacity_ml"], 70000, "unchanged");
    assert_eq!(counts(&app).await, before);
}

async fn missing_required_fields_are_400_naming_the_field(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let operator = app.operator().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    let v = vehicle(&north);
    let cases = [
        ("/v1/vehicles", &owner, with(&v, "plate", None), "plate"),
        ("/v1/vehicles", &owner, with(&v, "products", None), "products"),
        ("/v1/vehicles", &owner, with(&v, "tank_capacity_ml", None), "tank_capacity_ml"),
        ("/v1/orgs", &operator, with(&org(), "currency", None), "currency"),
        ("/v1/orgs", &operator, with(&org(), "owner", None), "owner"),
        ("/v1/orgs", &operator, with(&org(), "owner.email", None), "owner.email"),
        ("/v1/orgs", &operator, with(&org(), "owner.name", None), "owner.name"),
        ("/v1/groups", &owner, json!({"parent_id": north}), "name"),
        (
            "/v1/users",
            &owner,
            json!({"email": "x@demo-taxi.example", "name": "X", "group_id": north}),
            "role",
        ),
    ];
    for (path, token, body, field) in &cases {
        let answer = send_json(&app, Method::POST, path, token, &body.to_string()).await;
        assert_refused(
            &body.to_string(),
            &answer,
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            Some(field),
        );
        assert!(
            answer.1["error"]["message"].as_str().unwrap().contains("missing field"),
            "{}",
            answer.1
        );
    }
    let answer = send(
        &app,
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"email": "owner@demo-taxi.example"}).to_string().as_bytes()),
        Some("application/json"),
    )
    .await;
    assert_refused("login", &answer, StatusCode::BAD_REQUEST, "INVALID_FIELD", Some("password"));
    assert_eq!(counts(&app).await, before);
}

async fn out_of_range_values_are_422_naming_the_field(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let operator = app.operator().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    let v = vehicle(&north);
    let long = "x".repeat(300);
    let cases = [
        (
            "/v1/vehicles",
            &owner,
            with(&v, "tank_capacity_ml", Some(json!(-1))),
            "tank_capacity_ml",
            "OUT_OF_RANGE",
        ),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "tank_capacity_ml", Some(json!(0))),
            "tank_capacity_ml",
            "OUT_OF_RANGE",
        ),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "tank_capacity_ml", Some(json!(2_000_001))),
            "tank_capacity_ml",
            "OUT_OF_RANGE",
        ),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "tank_capacity_ml", Some(json!(i64::MIN))),
            "tank_capacity_ml",
            "OUT_OF_RANGE",
        ),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "plate", Some(json!("B-TX 1234567890123"))),
            "plate",
            "OUT_OF_RANGE",
        ),
        ("/v1/vehicles", &owner, with(&v, "plate", Some(json!("   "))), "plate", "INVALID_VALUE"),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "plate", Some(json!("B/TX 1"))),
            "plate",
            "INVALID_VALUE",
        ),
        (
            "/v1/vehicles",
            &owner,
            with(&v, "products", Some(json!([]))),
            "products",
            "INVALID_VALUE",
        ),
        ("/v1/groups", &owner, json!({"name": long}), "name", "OUT_OF_RANGE"),
        ("/v1/groups", &owner, json!({"name": "East\u{0}"}), "name", "INVALID_VALUE"),
        (
            "/v1/users",
            &owner,
            json!({"email": "x@demo-taxi.example", "name": long, "role": "driver", "group_id": north}),
            "name",
            "OUT_OF_RANGE",
        ),
        (
            "/v1/users",
            &owner,
            json!({"email": "not-an-email", "name": "X", "role": "driver", "group_id": north}),
            "email",
            "INVALID_VALUE",
        ),
        ("/v1/orgs", &operator, with(&org(), "name", Some(json!(long))), "name", "OUT_OF_RANGE"),
        (
            "/v1/orgs",
            &operator,
            with(&org(), "owner.name", Some(json!(long))),
            "owner.name",
            "OUT_OF_RANGE",
        ),
        (
            "/v1/orgs",
            &operator,
            with(&org(), "owner.email", Some(json!("@rival"))),
            "owner.email",
            "INVALID_VALUE",
        ),
    ];
    for (path, token, body, field, code) in &cases {
        let answer = send_json(&app, Method::POST, path, token, &body.to_string()).await;
        assert_refused(
            &format!("{path} {body}"),
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            Some(field),
        );
    }
    let card = app.north_card();
    let answer = send_json(
        &app,
        Method::PUT,
        &format!("/v1/cards/{card}/controls"),
        &owner,
        &json!({"daily": {"amount": 0}}).to_string(),
    )
    .await;
    assert_refused(
        "controls",
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "OUT_OF_RANGE",
        Some("daily.amount"),
    );
    let (_, controls) = app.get(&format!("/v1/cards/{card}/controls"), &owner).await;
    assert_eq!(controls["updated_at"], Value::Null, "nothing stored");
    assert_eq!(counts(&app).await, before);
}

async fn unsupported_currency_and_time_zone_are_422(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let operator = app.operator().await;
    let before = counts(&app).await;
    for currency in ["XYZ", "eur", "", "EURO", "€"] {
        let body = with(&org(), "currency", Some(json!(currency)));
        let answer = send_json(&app, Method::POST, "/v1/orgs", &operator, &body.to_string()).await;
        assert_refused(
            currency,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_VALUE",
            Some("currency"),
        );
    }
    for zone in ["Mars/Olympus", "CET+1", "", "europe/berlin", "../../etc/passwd"] {
        let body = with(&org(), "time_zone", Some(json!(zone)));
        let answer = send_json(&app, Method::POST, "/v1/orgs", &operator, &body.to_string()).await;
        assert_refused(
            zone,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_VALUE",
            Some("time_zone"),
        );
    }
    assert_eq!(counts(&app).await, before, "no org (and no owner) was created");
    // Changing an org's time zone checks it the same way.
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org_id = me["org_id"].as_str().unwrap();
    let answer = send_json(
        &app,
        Method::PATCH,
        &format!("/v1/orgs/{org_id}"),
        &owner,
        &json!({"time_zone": "Moon/Base"}).to_string(),
    )
    .await;
    assert_refused(
        "patch",
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_VALUE",
        Some("time_zone"),
    );
    let (_, org) = app.get(&format!("/v1/orgs/{org_id}"), &owner).await;
    assert_eq!(org["time_zone"], "Europe/Berlin");
}

async fn bad_ids_in_paths_are_400_naming_the_id(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let status_body = json!({"status": "suspended", "reason": "x"}).to_string();
    let cases = [
        (Method::GET, "/v1/cards/not-a-uuid", None, "card_id"),
        (Method::GET, "/v1/cards/123", None, "card_id"),
        (Method::GET, "/v1/cards/00000000-0000-0000-0000-00000000000g", None, "card_id"),
        (Method::POST, "/v1/cards/not-a-uuid/status", Some(status_body.as_str()), "card_id"),
        (Method::PUT, "/v1/cards/not-a-uuid/binding", Some("{}"), "card_id"),
        (Method::GET, "/v1/cards/not-a-uuid/bindings", None, "card_id"),
        (Method::GET, "/v1/cards/not-a-uuid/events", None, "card_id"),
        (Method::GET, "/v1/cards/not-a-uuid/controls/effective", None, "card_id"),
        (Method::GET, "/v1/cards/not-a-uuid/controls", None, "card_id"),
        (Method::PUT, "/v1/cards/not-a-uuid/controls", Some("{}"), "card_id"),
        (Method::GET, "/v1/orgs/not-a-uuid", None, "org_id"),
        (Method::GET, "/v1/orgs/not-a-uuid/controls", None, "org_id"),
        (Method::GET, "/v1/groups/not-a-uuid", None, "group_id"),
        (Method::GET, "/v1/groups/not-a-uuid/controls", None, "group_id"),
        (Method::GET, "/v1/users/not-a-uuid", None, "user_id"),
        (Method::POST, "/v1/users/not-a-uuid/deactivate", None, "user_id"),
        (Method::GET, "/v1/drivers/not-a-uuid/controls", None, "driver_id"),
        (Method::GET, "/v1/vehicles/not-a-uuid", None, "vehicle_id"),
        (Method::GET, "/v1/vehicles/not-a-uuid/controls", None, "vehicle_id"),
    ];
    for (method, path, body, field) in cases {
        let content_type = body.map(|_| "application/json");
        let answer =
            send(&app, method.clone(), path, Some(&owner), body.map(str::as_bytes), content_type)
                .await;
        assert_refused(
            &format!("{method} {path}"),
            &answer,
            StatusCode::BAD_REQUEST,
            "INVALID_ID",
            Some(field),
        );
    }
    // Ids that are UUIDs but name nothing are 404, not 400.
    let unknown = uuid::Uuid::new_v4();
    let answer =
        send(&app, Method::GET, &format!("/v1/cards/{unknown}"), Some(&owner), None, None).await;
    assert_refused("unknown card", &answer, StatusCode::NOT_FOUND, "NOT_FOUND", None);
    // Path segments that are not even UTF-8 get the same JSON answer.
    let answer = send(&app, Method::GET, "/v1/cards/%FF%FE", Some(&owner), None, None).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert_eq!(answer.1["error"]["field"], "card_id", "{}", answer.1);
}

async fn wrong_content_type_is_415(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    let body = vehicle(&north).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        Some("application/json-patch+json"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let answer = send(
            &app,
            Method::POST,
            "/v1/vehicles",
            Some(&owner),
            Some(body.as_bytes()),
            content_type,
        )
        .await;
        assert_refused(
            &format!("{content_type:?}"),
            &answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            None,
        );
    }
    let card = app.north_card();
    let answer = send(
        &app,
        Method::POST,
        &format!("/v1/cards/{card}/status"),
        Some(&owner),
        Some(json!({"status": "suspended", "reason": "x"}).to_string().as_bytes()),
        Some("text/plain"),
    )
    .await;
    assert_refused(
        "status",
        &answer,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        None,
    );
    assert_eq!(app.get(&format!("/v1/cards/{card}"), &owner).await.1["status"], "active");
    assert_eq!(counts(&app).await, before);
    // Parameters and case of the media type do not matter.
    let answer = send(
        &app,
        Method::POST,
        "/v1/vehicles",
        Some(&owner),
        Some(body.as_bytes()),
        Some("Application/JSON; charset=utf-8"),
    )
    .await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
}

async fn body_over_64_kib_is_413(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    let huge = with(&vehicle(&north), "plate", Some(json!("X".repeat(70 * 1024)))).to_string();
    let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &huge).await;
    assert_refused("huge", &answer, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", None);
    // Whitespace counts too: it is bytes on the wire.
    let padded = format!("{}{}", vehicle(&north), " ".repeat(64 * 1024));
    let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &padded).await;
    assert_refused("padded", &answer, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", None);
    let card = app.north_card();
    let big_controls = json!({"blocked_stations": vec!["S".repeat(60); 1200]}).to_string();
    assert!(big_controls.len() > 64 * 1024);
    let answer =
        send_json(&app, Method::PUT, &format!("/v1/cards/{card}/controls"), &owner, &big_controls)
            .await;
    assert_refused("controls", &answer, StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", None);
    assert_eq!(counts(&app).await, before);
    // Just under the limit is read (and then judged on its values).
    let under = format!("{}{}", vehicle(&north), " ".repeat(60 * 1024));
    let (status, body) = send_json(&app, Method::POST, "/v1/vehicles", &owner, &under).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn unknown_routes_are_404_json(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let card = app.north_card();
    let paths = [
        "/".to_owned(),
        "/nope".to_owned(),
        "/v1".to_owned(),
        "/v1/nope".to_owned(),
        "/v2/cards".to_owned(),
        "/v1/cards/".to_owned(),
        format!("/v1/cards/{card}/nope"),
        format!("/v1/cards/{card}/controls/effective/x"),
        "/v1/VEHICLES".to_owned(),
    ];
    for path in &paths {
        for token in [Some(owner.as_str()), None] {
            let answer = send(&app, Method::GET, path, token, None, None).await;
            assert_refused(path, &answer, StatusCode::NOT_FOUND, "NO_SUCH_ROUTE", None);
        }
    }
    let answer =
        send(&app, Method::POST, "/v1/nope", Some(&owner), Some(b"{}"), Some("application/json"))
            .await;
    assert_refused("post", &answer, StatusCode::NOT_FOUND, "NO_SUCH_ROUTE", None);
}

async fn wrong_methods_are_405_json(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let card = app.north_card();
    let before = counts(&app).await;
    let cases = [
        (Method::DELETE, "/v1/cards".to_owned()),
        (Method::PUT, "/v1/cards".to_owned()),
        (Method::DELETE, format!("/v1/cards/{card}")),
        (Method::PATCH, format!("/v1/cards/{card}")),
        (Method::GET, format!("/v1/cards/{card}/status")),
        (Method::POST, format!("/v1/cards/{card}/binding")),
        (Method::POST, format!("/v1/cards/{card}/controls")),
        (Method::DELETE, format!("/v1/cards/{card}/controls")),
        (Method::GET, "/v1/auth/login".to_owned()),
        (Method::DELETE, "/v1/orgs".to_owned()),
    ];
    for (method, path) in cases {
        let answer =
            send(&app, method.clone(), &path, Some(&owner), Some(b"{}"), Some("application/json"))
                .await;
        assert_refused(
            &format!("{method} {path}"),
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            None,
        );
    }
    assert_eq!(counts(&app).await, before);
    assert_eq!(app.get(&format!("/v1/cards/{card}"), &owner).await.1["status"], "active");
    // The answer says which methods the endpoint takes.
    let (status, headers, _) =
        app.call_raw(Method::DELETE, "/v1/cards", Some(&owner), None, &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let allow = headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "Allow: {allow:?}");
}

async fn bad_query_values_are_400_naming_the_parameter(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    for (path, field) in [
        ("/v1/cards?status=bogus", "status"),
        ("/v1/cards?status=", "status"),
        ("/v1/cards?status=ACTIVE", "status"),
        ("/v1/cards?status=active%00", "status"),
        ("/v1/users?role=king", "role"),
        ("/v1/users?role=", "role"),
    ] {
        let answer = send(&app, Method::GET, path, Some(&owner), None, None).await;
        assert_refused(path, &answer, StatusCode::BAD_REQUEST, "INVALID_QUERY", Some(field));
    }
    // Unknown or repeated parameters are refused too, in the same shape.
    for (path, field) in
        [("/v1/cards?colour=red", "colour"), ("/v1/cards?status=active&status=closed", "status")]
    {
        let answer = send(&app, Method::GET, path, Some(&owner), None, None).await;
        assert_refused(path, &answer, StatusCode::BAD_REQUEST, "INVALID_QUERY", Some(field));
    }
    let (status, cards) = app.get("/v1/cards?status=active", &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cards.as_array().unwrap().len(), 2);
}

async fn hostile_json_is_refused_without_a_500(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let before = counts(&app).await;
    // Deep nesting: refused at the first value of the wrong type, or by the parser's depth
    // limit; never a stack overflow.
    let deep = format!("{{\"plate\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
    let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &deep).await;
    assert_refused(
        "deep nesting",
        &answer,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("plate"),
    );
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &deep).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    let deep = format!("{}{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &deep).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    // Numbers no i64 holds.
    for number in ["1e400", "9223372036854775808", "-9223372036854775809", "1e3"] {
        let body = format!(
            "{{\"plate\": \"B-TX 1\", \"products\": [\"diesel\"], \"tank_capacity_ml\": {number}, \"group_id\": \"{north}\"}}"
        );
        let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &body).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{number}: {}", answer.1);
        assert_eq!(answer.1["error"]["field"], "tank_capacity_ml", "{number}: {}", answer.1);
    }
    // A lone surrogate escape is well-formed JSON but no string.
    let body = format!(
        "{{\"plate\": \"B-TX \\ud800\", \"products\": [\"diesel\"], \"tank_capacity_ml\": 1000, \"group_id\": \"{north}\"}}"
    );
    let answer = send_json(&app, Method::POST, "/v1/vehicles", &owner, &body).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    // Duplicate keys: refused rather than silently picking one.
    let body = format!("{{\"group_id\": \"{north}\", \"group_id\": \"{north}\"}}");
    let answer = send_json(&app, Method::POST, "/v1/cards", &owner, &body).await;
    assert_refused(
        "duplicate",
        &answer,
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        Some("group_id"),
    );
    assert_eq!(counts(&app).await, before);
}

/// Text that means something to SQL is data to the store: every query binds its values,
/// so a name or an idempotency key full of quotes, comment markers, `LIKE` wildcards and
/// placeholder look-alikes comes back verbatim and matches only itself, on both databases.
async fn sql_metacharacters_in_free_text_round_trip(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let hostile = [
        "O'Brien's depot",
        "x'); DROP TABLE cards; --",
        "100% _under_ \\ back\\",
        "$1 $$ ::text /* */",
        "\" OR \"1\"=\"1",
        "North%",
    ];
    for (i, name) in hostile.iter().enumerate() {
        let (status, group) = app.post("/v1/groups", &owner, json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "group {name}: {group}");
        assert_eq!(group["name"], *name);
        let user = json!({"email": format!("sqli{i}@demo-taxi.example"), "name": name,
                          "role": "driver", "group_id": north});
        let (status, user) = app.post("/v1/users", &owner, user).await;
        assert_eq!(status, StatusCode::CREATED, "user {name}: {user}");
        assert_eq!(user["user"]["name"], *name);
    }
    for path in ["/v1/groups", "/v1/users"] {
        let (status, list) = app.get(path, &owner).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let names: Vec<&str> =
            list.as_array().unwrap().iter().filter_map(|item| item["name"].as_str()).collect();
        for name in hostile {
            assert_eq!(
                names.iter().filter(|n| **n == name).count(),
                1,
                "{path}: {name} in {names:?}"
            );
        }
        if path == "/v1/groups" {
            assert_eq!(names.iter().filter(|n| **n == "North depot").count(), 1, "{names:?}");
        }
    }
    // Idempotency keys are looked up by equality: a key with wildcards and quotes replays
    // only its own answer, and keys that differ by one character are different requests.
    let cards = app.count("/v1/cards", &owner).await;
    let body = json!({"group_id": north}).to_string();
    let mut ids = Vec::new();
    for key in ["k'--;%_$1", "k'--;%_$1", "k'--;%_$2", "k\\'--;%_$1"] {
        let (status, _, bytes) = app
            .call_raw(
                Method::POST,
                "/v1/cards",
                Some(&owner),
                Some(body.clone().into_bytes()),
                &[("content-type", "application/json"), ("idempotency-key", key)],
            )
            .await;
        let card: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(status, StatusCode::CREATED, "{key}: {card}");
        ids.push(card["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids[0], ids[1], "the same key replays the first card");
    assert_ne!(ids[0], ids[2]);
    assert_ne!(ids[0], ids[3]);
    assert_ne!(ids[2], ids[3]);
    assert_eq!(app.count("/v1/cards", &owner).await, cards + 3);
}
