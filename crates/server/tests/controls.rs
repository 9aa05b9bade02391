//! Spending controls through the HTTP API: setting and reading them at every level, the
//! effective control of a card (tightest of org → groups → driver → vehicle → card, with the
//! level each part came from), validation, and who may read or change what.

mod common;

use axum::http::StatusCode;
use common::{Backend, TestApp};
use serde_json::{json, Value};

both_backends!(
    controls_round_trip_at_every_level,
    effective_limits_are_the_minimum_with_their_source,
    effective_sets_and_windows_combine_across_levels,
    effective_of_an_unrestricted_card_is_all_null,
    effective_chain_walks_nested_groups_root_to_leaf,
    empty_document_lifts_a_levels_controls,
    invalid_values_are_422_with_the_field_path,
    unknown_fields_and_wrong_types_are_400_with_the_field_path,
    only_owners_and_admins_in_scope_set_controls,
    the_cards_driver_reads_its_effective_controls_others_get_404,
);

/// The ids of every level of the North demo card's chain.
struct Chain {
    org: String,
    group: String,
    driver: String,
    vehicle: String,
    card: String,
}

async fn north_chain(app: &TestApp) -> Chain {
    let owner = app.owner().await;
    let card = app.north_card();
    let (_, c) = app.get(&format!("/v1/cards/{card}"), &owner).await;
    Chain {
        org: c["org_id"].as_str().unwrap().to_owned(),
        group: c["group_id"].as_str().unwrap().to_owned(),
        driver: c["driver_id"].as_str().unwrap().to_owned(),
        vehicle: c["vehicle_id"].as_str().unwrap().to_owned(),
        card,
    }
}

async fn put_controls(app: &TestApp, token: &str, path: &str, doc: Value) -> Value {
    let (status, body) = app.put(&format!("/v1/{path}/controls"), token, doc.clone()).await;
    assert_eq!(status, StatusCode::OK, "PUT {path}: {doc} → {body}");
    body
}

async fn effective(app: &TestApp, token: &str, card: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/cards/{card}/controls/effective"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn source(level: &str, id: &str) -> Value {
    json!({"level": level, "id": id})
}

fn sourced(value: i64, level: &str, id: &str) -> Value {
    json!({"value": value, "source": source(level, id)})
}

async fn controls_round_trip_at_every_level(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    let doc = json!({
        "per_authorization": {"amount": 15000, "volume_ml": 80000},
        "daily": {"amount": 40000, "volume_ml": 150000, "count": 4},
        "weekly": {"amount": 150000},
        "monthly": {"count": 90},
        "allowed_products": ["diesel", "adblue"],
        "allowed_stations": ["DE-BER-0001", "DE-BER-0002"],
        "blocked_stations": ["DE-HAM-0666"],
        "time_windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "06:00", "end": "22:00"}]
    });
    let levels = [
        ("org", "orgs", &c.org),
        ("group", "groups", &c.group),
        ("driver", "drivers", &c.driver),
        ("vehicle", "vehicles", &c.vehicle),
        ("card", "cards", &c.card),
    ];
    for (level, prefix, id) in levels {
        let path = format!("/v1/{prefix}/{id}/controls");
        let (status, before) = app.get(&path, &owner).await;
        assert_eq!(status, StatusCode::OK, "{before}");
        assert_eq!(before["level"], level);
        assert_eq!(before["subject_id"], id.as_str());
        assert_eq!(before["controls"], json!({}), "nothing set yet at {level}");
        assert_eq!(before["updated_at"], Value::Null);

        let put = put_controls(&app, &owner, &format!("{prefix}/{id}"), doc.clone()).await;
        assert_eq!(put["level"], level);
        assert_eq!(put["subject_id"], id.as_str());
        assert_eq!(put["controls"], doc, "{level}: the document comes back as sent");
        assert!(put["updated_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{put}");
        let (status, got) = app.get(&path, &owner).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, put, "{level}: GET answers what PUT stored");
    }
    // A level's id must name an object of that kind.
    let (status, body) = app.get(&format!("/v1/groups/{}/controls", c.card), &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    let (status, body) = app.get(&format!("/v1/drivers/{}/controls", c.org), &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let admin_id = app.user_id(&app.admin_north().await).await;
    let (status, body) = app.get(&format!("/v1/drivers/{admin_id}/controls"), &owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an admin is not a driver: {body}");
}

async fn effective_limits_are_the_minimum_with_their_source(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    put_controls(
        &app,
        &owner,
        &format!("orgs/{}", c.org),
        json!({
            "per_authorization": {"amount": 20000},
            "daily": {"amount": 50000, "count": 10},
            "weekly": {"volume_ml": 500000},
            "monthly": {"amount": 900000}
        }),
    )
    .await;
    put_controls(
        &app,
        &owner,
        &format!("groups/{}", c.group),
        json!({
            "per_authorization": {"amount": 15000},
            "daily": {"count": 5},
            // A tie with the org: the broadest level keeps the source.
            "monthly": {"amount": 900000}
        }),
    )
    .await;
    put_controls(
        &app,
        &owner,
        &format!("drivers/{}", c.driver),
        json!({
            "daily": {"amount": 30000},
            "weekly": {"count": 20}
        }),
    )
    .await;
    put_controls(
        &app,
        &owner,
        &format!("vehicles/{}", c.vehicle),
        json!({
            "per_authorization": {"volume_ml": 70000},
            "daily": {"volume_ml": 140000, "count": 8}
        }),
    )
    .await;
    put_controls(
        &app,
        &owner,
        &format!("cards/{}", c.card),
        json!({
            "per_authorization": {"amount": 12000, "volume_ml": 90000},
            "weekly": {"volume_ml": 400000},
            "monthly": {"count": 60}
        }),
    )
    .await;

    let eff = effective(&app, &owner, &c.card).await;
    assert_eq!(eff["card_id"], c.card.as_str());
    assert_eq!(eff["currency"], "EUR");
    assert_eq!(
        eff["chain"],
        json!([
            source("org", &c.org),
            source("group", &c.group),
            source("driver", &c.driver),
            source("vehicle", &c.vehicle),
            source("card", &c.card),
        ]),
        "broadest first"
    );
    let e = &eff["effective"];
    assert_eq!(e["per_authorization"]["amount"], sourced(12000, "card", &c.card));
    assert_eq!(e["per_authorization"]["volume_ml"], sourced(70000, "vehicle", &c.vehicle));
    assert_eq!(e["daily"]["amount"], sourced(30000, "driver", &c.driver));
    assert_eq!(e["daily"]["volume_ml"], sourced(140000, "vehicle", &c.vehicle));
    assert_eq!(e["daily"]["count"], sourced(5, "group", &c.group));
    assert_eq!(e["weekly"]["amount"], Value::Null, "no level limits it");
    assert_eq!(e["weekly"]["volume_ml"], sourced(400000, "card", &c.card));
    assert_eq!(e["weekly"]["count"], sourced(20, "driver", &c.driver));
    assert_eq!(e["monthly"]["amount"], sourced(900000, "org", &c.org));
    assert_eq!(e["monthly"]["volume_ml"], Value::Null);
    assert_eq!(e["monthly"]["count"], sourced(60, "card", &c.card));
    for set in ["allowed_products", "allowed_stations", "blocked_stations", "time_windows"] {
        assert_eq!(e[set], Value::Null, "{set} unrestricted");
    }

    // The other demo card shares only the org's controls.
    let south = effective(&app, &owner, &app.south_card()).await;
    let s = &south["effective"];
    assert_eq!(s["per_authorization"]["amount"], sourced(20000, "org", &c.org));
    assert_eq!(s["daily"]["count"], sourced(10, "org", &c.org));
    assert_eq!(s["per_authorization"]["volume_ml"], Value::Null);
    assert_eq!(south["chain"].as_array().unwrap().len(), 5);
    assert_eq!(south["chain"][0], source("org", &c.org));
    assert_ne!(south["chain"][1], source("group", &c.group), "South has its own group");
}

async fn effective_sets_and_windows_combine_across_levels(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    put_controls(&app, &owner, &format!("orgs/{}", c.org), json!({
        "allowed_products": ["diesel", "adblue", "petrol_95", "car_wash"],
        "allowed_stations": ["ST-7", "ST-8", "ST-9"],
        "blocked_stations": ["ST-1"],
        "time_windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "06:00", "end": "22:00"}]
    }))
    .await;
    put_controls(
        &app,
        &owner,
        &format!("groups/{}", c.group),
        json!({
            "allowed_products": ["diesel", "adblue", "car_wash", "shop"]
        }),
    )
    .await;
    put_controls(
        &app,
        &owner,
        &format!("drivers/{}", c.driver),
        json!({
            "blocked_stations": ["ST-2", "ST-1"]
        }),
    )
    .await;
    put_controls(
        &app,
        &owner,
        &format!("vehicles/{}", c.vehicle),
        json!({
            "allowed_products": ["adblue", "diesel", "lpg"]
        }),
    )
    .await;
    put_controls(
        &app,
        &owner,
        &format!("cards/{}", c.card),
        json!({
            "allowed_stations": ["ST-8", "ST-6", "ST-7"],
            "blocked_stations": ["ST-3"],
            "time_windows": [
                {"days": ["mon"], "start": "20:00", "end": "08:00"},
                {"days": ["sat"], "start": "12:00", "end": "13:00"}
            ]
        }),
    )
    .await;

    let e = effective(&app, &owner, &c.card).await["effective"].clone();
    assert_eq!(
        e["allowed_products"],
        json!({
            "value": ["diesel", "adblue"],
            "sources": [source("org", &c.org), source("group", &c.group), source("vehicle", &c.vehicle)]
        }),
        "intersection of every level that lists products"
    );
    assert_eq!(
        e["allowed_stations"],
        json!({"value": ["ST-7", "ST-8"], "sources": [source("org", &c.org), source("card", &c.card)]})
    );
    assert_eq!(
        e["blocked_stations"],
        json!({
            "value": ["ST-1", "ST-2", "ST-3"],
            "sources": [source("org", &c.org), source("driver", &c.driver), source("card", &c.card)]
        }),
        "union of every level that blocks stations"
    );
    assert_eq!(
        e["time_windows"],
        json!({
            "value": [
                {"day": "mon", "start": "20:00", "end": "22:00"},
                {"day": "tue", "start": "06:00", "end": "08:00"},
                {"day": "sat", "start": "12:00", "end": "13:00"}
            ],
            "sources": [source("org", &c.org), source("card", &c.card)]
        }),
        "intersection of the org's daily hours with the card's overnight and Saturday windows"
    );
    for limit in ["per_authorization", "daily", "weekly", "monthly"] {
        assert!(e[limit].as_object().unwrap().values().all(Value::is_null), "{limit}: {e}");
    }

    // Levels whose sets do not meet allow nothing, and say so (an empty set, not null).
    put_controls(
        &app,
        &owner,
        &format!("cards/{}", c.card),
        json!({
            "allowed_products": ["petrol_98"],
            "time_windows": [{"days": ["sun"], "start": "23:00", "end": "23:30"}]
        }),
    )
    .await;
    let e = effective(&app, &owner, &c.card).await["effective"].clone();
    assert_eq!(e["allowed_products"]["value"], json!([]));
    assert_eq!(e["allowed_products"]["sources"].as_array().unwrap().len(), 4);
    assert_eq!(e["time_windows"]["value"], json!([]));
    assert_eq!(e["allowed_stations"]["sources"], json!([source("org", &c.org)]));
}

async fn effective_of_an_unrestricted_card_is_all_null(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    let eff = effective(&app, &owner, &c.card).await;
    assert_eq!(eff["currency"], "EUR");
    assert_eq!(eff["chain"].as_array().unwrap().len(), 5, "the chain lists every level");
    let e = &eff["effective"];
    for limit in ["per_authorization", "daily", "weekly", "monthly"] {
        assert!(e[limit].as_object().unwrap().values().all(Value::is_null), "{limit}: {e}");
    }
    for set in ["allowed_products", "allowed_stations", "blocked_stations", "time_windows"] {
        assert_eq!(e[set], Value::Null);
    }
    // An unbound card issued at org level: only org and card in the chain.
    let (status, card) = app.post("/v1/cards", &owner, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let id = card["id"].as_str().unwrap();
    let eff = effective(&app, &owner, id).await;
    assert_eq!(eff["chain"], json!([source("org", &c.org), source("card", id)]));
}

async fn empty_document_lifts_a_levels_controls(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    put_controls(&app, &owner, &format!("orgs/{}", c.org), json!({"daily": {"amount": 50000}}))
        .await;
    put_controls(
        &app,
        &owner,
        &format!("cards/{}", c.card),
        json!({
            "daily": {"amount": 10000},
            "allowed_products": ["diesel"]
        }),
    )
    .await;
    let e = effective(&app, &owner, &c.card).await["effective"].clone();
    assert_eq!(e["daily"]["amount"], sourced(10000, "card", &c.card));
    assert!(e["allowed_products"].is_object());

    let lifted = put_controls(&app, &owner, &format!("cards/{}", c.card), json!({})).await;
    assert_eq!(lifted["controls"], json!({}));
    let (_, got) = app.get(&format!("/v1/cards/{}/controls", c.card), &owner).await;
    assert_eq!(got["controls"], json!({}));
    let e = effective(&app, &owner, &c.card).await["effective"].clone();
    assert_eq!(
        e["daily"]["amount"],
        sourced(50000, "org", &c.org),
        "the org's limit applies again"
    );
    assert_eq!(e["allowed_products"], Value::Null);

    put_controls(&app, &owner, &format!("orgs/{}", c.org), json!({})).await;
    let e = effective(&app, &owner, &c.card).await["effective"].clone();
    assert_eq!(e["daily"]["amount"], Value::Null, "no limit anywhere");
    // Replacing a document replaces it whole: fields not sent are lifted.
    put_controls(
        &app,
        &owner,
        &format!("cards/{}", c.card),
        json!({"daily": {"count": 3}, "weekly": {"count": 9}}),
    )
    .await;
    put_controls(&app, &owner, &format!("cards/{}", c.card), json!({"daily": {"count": 4}})).await;
    let e = effective(&app, &owner, &c.card).await["effective"].clone();
    assert_eq!(e["daily"]["count"], sourced(4, "card", &c.card));
    assert_eq!(e["weekly"]["count"], Value::Null);
}

async fn invalid_values_are_422_with_the_field_path(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    let path = format!("/v1/cards/{}/controls", c.card);
    let good = put_controls(
        &app,
        &owner,
        &format!("cards/{}", c.card),
        json!({"daily": {"amount": 5000}}),
    )
    .await;
    let window =
        |days: Value, start: &str, end: &str| json!({"days": days, "start": start, "end": end});
    let cases = [
        (json!({"daily": {"amount": 0}}), "daily.amount", "OUT_OF_RANGE"),
        (json!({"daily": {"amount": -100}}), "daily.amount", "OUT_OF_RANGE"),
        (json!({"weekly": {"amount": 10_000_000_000_001_i64}}), "weekly.amount", "OUT_OF_RANGE"),
        (json!({"monthly": {"volume_ml": 0}}), "monthly.volume_ml", "OUT_OF_RANGE"),
        (
            json!({"per_authorization": {"volume_ml": -1}}),
            "per_authorization.volume_ml",
            "OUT_OF_RANGE",
        ),
        (
            json!({"per_authorization": {"amount": i64::MAX}}),
            "per_authorization.amount",
            "OUT_OF_RANGE",
        ),
        (json!({"daily": {"count": 0}}), "daily.count", "OUT_OF_RANGE"),
        (json!({"weekly": {"count": 1001}}), "weekly.count", "OUT_OF_RANGE"),
        (json!({"allowed_products": []}), "allowed_products", "INVALID_VALUE"),
        (json!({"allowed_stations": []}), "allowed_stations", "INVALID_VALUE"),
        (
            json!({"allowed_stations": ["ST-1", "bad station"]}),
            "allowed_stations[1]",
            "INVALID_FORMAT",
        ),
        (json!({"blocked_stations": [""]}), "blocked_stations[0]", "INVALID_VALUE"),
        (json!({"blocked_stations": ["S".repeat(65)]}), "blocked_stations[0]", "OUT_OF_RANGE"),
        (
            json!({"allowed_stations": ["A", "B"], "blocked_stations": ["B"]}),
            "blocked_stations",
            "INVALID_VALUE",
        ),
        (json!({"time_windows": []}), "time_windows", "INVALID_VALUE"),
        (
            json!({"time_windows": [window(json!(["mon"]), "08:00", "08:00")]}),
            "time_windows[0].end",
            "INVALID_VALUE",
        ),
        (
            json!({"time_windows": [window(json!(["mon"]), "06:00", "07:00"), window(json!([]), "06:00", "07:00")]}),
            "time_windows[1].days",
            "INVALID_VALUE",
        ),
        (
            json!({"time_windows": [window(json!(["sun"]), "24:00", "01:00")]}),
            "time_windows[0].start",
            "OUT_OF_RANGE",
        ),
        (
            json!({"time_windows": vec![window(json!(["mon"]), "06:00", "07:00"); 29]}),
            "time_windows",
            "OUT_OF_RANGE",
        ),
    ];
    for (doc, field, code) in cases {
        let (status, body) = app.put(&path, &owner, doc.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}: {body}");
        assert_eq!(body["error"]["field"], field, "{doc}: {body}");
        assert_eq!(body["error"]["code"], code, "{doc}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A refused document changed nothing, at any level.
    let (_, now) = app.get(&path, &owner).await;
    assert_eq!(now, good);
    let (status, body) = app
        .put(&format!("/v1/orgs/{}/controls", c.org), &owner, json!({"daily": {"count": 0}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "daily.count");
    let (_, org) = app.get(&format!("/v1/orgs/{}/controls", c.org), &owner).await;
    assert_eq!(org["updated_at"], Value::Null, "never stored");
}

async fn unknown_fields_and_wrong_types_are_400_with_the_field_path(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    let path = format!("/v1/vehicles/{}/controls", c.vehicle);
    let cases = [
        (json!({"dailly": {"amount": 100}}), "dailly"),
        (json!({"daily": {"amt": 100}}), "daily.amt"),
        (
            json!({"time_windows": [{"days": ["mon"], "start": "06:00", "end": "07:00", "tz": "UTC"}]}),
            "time_windows[0].tz",
        ),
        (json!({"daily": {"amount": "100"}}), "daily.amount"),
        (json!({"daily": {"amount": 1.5}}), "daily.amount"),
        (json!({"daily": {"amount": 9_223_372_036_854_775_808_u64}}), "daily.amount"),
        (json!({"daily": 5}), "daily"),
        (json!({"allowed_products": ["diesel", "kerosene"]}), "allowed_products[1]"),
        (json!({"allowed_products": "diesel"}), "allowed_products"),
        (json!({"blocked_stations": [7]}), "blocked_stations[0]"),
        (
            json!({"time_windows": [{"days": ["funday"], "start": "06:00", "end": "07:00"}]}),
            "time_windows[0].days[0]",
        ),
        (
            json!({"time_windows": [{"days": ["mon"], "start": "6:00", "end": "07:00"}]}),
            "time_windows[0].start",
        ),
        (
            json!({"time_windows": [{"days": ["mon"], "start": "06:00", "end": "24:01"}]}),
            "time_windows[0].end",
        ),
        (json!({"time_windows": [{"days": ["mon"], "start": "06:00"}]}), "time_windows[0].end"),
        (json!({"time_windows": [{"start": "06:00", "end": "07:00"}]}), "time_windows[0].days"),
    ];
    for (doc, field) in cases {
        let (status, body) = app.put(&path, &owner, doc.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_FIELD", "{doc}: {body}");
        assert_eq!(body["error"]["field"], field, "{doc}: {body}");
    }
    // A body that is no object is refused, not read as "all fields absent" (which would
    // silently lift every control).
    for doc in [json!([]), json!([{"amount": 1}]), json!(null), json!("{}")] {
        let (status, body) = app.put(&path, &owner, doc.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_BODY", "{doc}: {body}");
    }
    let (_, now) = app.get(&path, &owner).await;
    assert_eq!(now["updated_at"], Value::Null, "nothing was stored");
}

async fn only_owners_and_admins_in_scope_set_controls(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let c = north_chain(&app).await;
    let doc = json!({"daily": {"amount": 1000}});

    // The North admin manages its depot's drivers, vehicles and cards ...
    for path in [
        format!("drivers/{}", c.driver),
        format!("vehicles/{}", c.vehicle),
        format!("cards/{}", c.card),
    ] {
        put_controls(&app, &admin, &path, doc.clone()).await;
    }
    // ... but not its own depot's controls: those are the owner's cap on the admin.
    let (status, body) =
        app.put(&format!("/v1/groups/{}/controls", c.group), &admin, doc.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    // Nor the org's controls, nor South's objects (which it cannot see at all).
    let south_card = app.south_card();
    let (_, south) = app.get(&format!("/v1/cards/{south_card}"), &owner).await;
    let south_paths = [
        format!("orgs/{}", c.org),
        format!("groups/{}", south["group_id"].as_str().unwrap()),
        format!("drivers/{}", south["driver_id"].as_str().unwrap()),
        format!("vehicles/{}", south["vehicle_id"].as_str().unwrap()),
        format!("cards/{south_card}"),
    ];
    for path in &south_paths {
        let (status, body) = app.put(&format!("/v1/{path}/controls"), &admin, doc.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
        let (status, _) = app.get(&format!("/v1/{path}/controls"), &admin).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // Drivers, analysts and operators set no controls, not even on their own card.
    for token in [app.anna().await, app.analyst().await, app.operator().await] {
        let (status, body) =
            app.put(&format!("/v1/cards/{}/controls", c.card), &token, doc.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN");
        let (status, _) = app.get(&format!("/v1/cards/{}/controls", c.card), &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Nothing of that reached the South card's chain.
    let e = effective(&app, &owner, &south_card).await["effective"].clone();
    assert_eq!(e["daily"]["amount"], Value::Null, "{e}");
}

async fn the_cards_driver_reads_its_effective_controls_others_get_404(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    put_controls(&app, &owner, &format!("cards/{}", c.card), json!({"daily": {"amount": 8000}}))
        .await;
    let anna = app.anna().await;
    let mine = effective(&app, &anna, &c.card).await;
    assert_eq!(mine, effective(&app, &owner, &c.card).await, "the driver sees what the owner sees");
    assert_eq!(mine["effective"]["daily"]["amount"], sourced(8000, "card", &c.card));

    let boris = app.boris().await;
    let (status, body) = app.get(&format!("/v1/cards/{}/controls/effective", c.card), &boris).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    let (status, _) =
        app.get(&format!("/v1/cards/{}/controls/effective", app.south_card()), &anna).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The North admin reads North's, not South's; the fraud analyst reads any.
    let admin = app.admin_north().await;
    effective(&app, &admin, &c.card).await;
    let (status, _) =
        app.get(&format!("/v1/cards/{}/controls/effective", app.south_card()), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    effective(&app, &app.analyst().await, &app.south_card()).await;
    // An id that is no card at all looks the same as someone else's card.
    let (status, body) =
        app.get(&format!("/v1/cards/{}/controls/effective", uuid::Uuid::new_v4()), &boris).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn effective_chain_walks_nested_groups_root_to_leaf(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let c = north_chain(&app).await;
    let (status, night) =
        app.post("/v1/groups", &owner, json!({"name": "North nights", "parent_id": c.group})).await;
    assert_eq!(status, StatusCode::CREATED, "{night}");
    let night = night["id"].as_str().unwrap().to_owned();
    let (status, late) = app
        .post("/v1/groups", &owner, json!({"name": "North late nights", "parent_id": night}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{late}");
    let late = late["id"].as_str().unwrap().to_owned();
    let (status, card) = app.post("/v1/cards", &owner, json!({"group_id": late})).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let card = card["id"].as_str().unwrap().to_owned();

    put_controls(
        &app,
        &owner,
        &format!("groups/{}", c.group),
        json!({"daily": {"amount": 30000, "count": 6}}),
    )
    .await;
    put_controls(&app, &owner, &format!("groups/{night}"), json!({"daily": {"amount": 20000}}))
        .await;
    put_controls(
        &app,
        &owner,
        &format!("groups/{late}"),
        json!({"daily": {"amount": 25000, "count": 2}}),
    )
    .await;

    let eff = effective(&app, &owner, &card).await;
    assert_eq!(
        eff["chain"],
        json!([
            source("org", &c.org),
            source("group", &c.group),
            source("group", &night),
            source("group", &late),
            source("card", &card),
        ]),
        "every ancestor group, root first"
    );
    assert_eq!(eff["effective"]["daily"]["amount"], sourced(20000, "group", &night));
    assert_eq!(eff["effective"]["daily"]["count"], sourced(2, "group", &late));
    // A sibling depot's controls play no part.
    put_controls(
        &app,
        &owner,
        &format!("groups/{}", app.group_id("South depot").await),
        json!({"daily": {"count": 1}}),
    )
    .await;
    let eff = effective(&app, &owner, &card).await;
    assert_eq!(eff["effective"]["daily"]["count"], sourced(2, "group", &late));
}
