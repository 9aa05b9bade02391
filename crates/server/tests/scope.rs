//! Roles and scopes through the HTTP API: what each role may and may not do, and that
//! nobody reaches another depot's or another fleet's objects, by listing or by guessing
//! ids (objects outside the caller's scope answer 404, never 403).

mod common;

use axum::http::{Method, StatusCode};
use common::{Backend, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;

both_backends!(
    operator_onboards_fleets_but_never_reads_their_cards,
    operator_creates_staff_but_not_fleet_users,
    owner_manages_everything_in_own_org,
    a_second_org_is_invisible_to_the_first,
    cards_cannot_bind_to_another_orgs_driver_or_vehicle,
    north_admin_lists_exactly_north,
    north_admin_cannot_reach_south_by_id,
    north_admin_creates_inside_north_only,
    north_admin_role_limits_on_users_groups_status_and_controls,
    a_subgroup_admin_sees_only_the_subgroup,
    driver_sees_only_own_cards,
    driver_cannot_manage_anything,
    fraud_analyst_reads_and_blocks_any_card_only,
    guessed_ids_are_not_found_for_every_kind,
    another_orgs_ids_answer_exactly_like_guessed_ones,
    what_a_role_may_read_but_never_change_is_forbidden_not_hidden,
);

async fn operator_onboards_fleets_but_never_reads_their_cards(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let operator = app.operator().await;
    let demo_org = org_of(&app, &app.owner().await).await;
    let (status, created) = app
        .post(
            "/v1/orgs",
            &operator,
            json!({"name": "Rival Freight", "currency": "EUR", "time_zone": "Europe/Vienna",
                   "owner": {"email": "owner@rival.example", "name": "Rita Rival"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let new_org = id(&created["org"]);
    assert_eq!(created["org"]["name"], "Rival Freight");
    assert_eq!(created["org"]["currency"], "EUR");
    assert_eq!(created["owner"]["user"]["role"], "owner");
    assert_eq!(created["owner"]["user"]["status"], "invited");
    assert_eq!(created["owner"]["user"]["org_id"], new_org.as_str());
    assert!(created["owner"]["user"]["group_id"].is_null());
    assert!(!created["owner"]["invite_token"].as_str().unwrap().is_empty());

    let (status, orgs) = app.get("/v1/orgs", &operator).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&orgs), set(&[&demo_org, &new_org]), "operators list every org");
    let (status, org) = app.get(&format!("/v1/orgs/{demo_org}"), &operator).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(org["name"], "Demo Taxi Co");

    // The fleets' own objects are not the operator's business.
    for path in ["/v1/cards", "/v1/groups", "/v1/vehicles"] {
        expect_error(app.get(path, &operator).await, StatusCode::FORBIDDEN, "FORBIDDEN", path);
    }
    let card = app.north_card();
    for path in [
        format!("/v1/cards/{card}"),
        format!("/v1/cards/{card}/events"),
        format!("/v1/cards/{card}/bindings"),
        format!("/v1/cards/{card}/controls/effective"),
    ] {
        expect_error(app.get(&path, &operator).await, StatusCode::NOT_FOUND, "NOT_FOUND", &path);
    }
    expect_error(
        app.post("/v1/cards", &operator, json!({})).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "operator issues a card",
    );
    expect_error(
        app.put(&format!("/v1/orgs/{demo_org}/controls"), &operator, daily(1000)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "operator sets fleet controls",
    );
}

async fn operator_creates_staff_but_not_fleet_users(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let operator = app.operator().await;
    let north = app.group_id("North depot").await;
    let (_, before) = app.get("/v1/users", &operator).await;
    let mut staff = ids(&before);
    for (email, role) in
        [("ops2@forecourt.example", "operator"), ("fraud2@forecourt.example", "fraud_analyst")]
    {
        let (status, created) = app
            .post("/v1/users", &operator, json!({"email": email, "name": "Staff", "role": role}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{role}: {created}");
        assert_eq!(created["user"]["role"], role);
        assert!(created["user"]["org_id"].is_null(), "staff belong to no org");
        assert!(created["user"]["group_id"].is_null());
        staff.insert(id(&created["user"]));
    }
    expect_invalid(
        app.post(
            "/v1/users",
            &operator,
            json!({"email": "ops3@forecourt.example", "name": "Staff", "role": "operator", "group_id": north}),
        )
        .await,
        "group_id",
    );
    for role in ["owner", "admin", "driver"] {
        for group in [Value::Null, json!(north)] {
            let body = json!({"email": "x@demo-taxi.example", "name": "X", "role": role, "group_id": group});
            expect_error(
                app.post("/v1/users", &operator, body).await,
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                &format!("operator creates {role} in {group}"),
            );
        }
    }
    // The operator's user list is the staff, nobody of any fleet.
    let (status, users) = app.get("/v1/users", &operator).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&users), staff);
    assert!(users.as_array().unwrap().iter().all(|u| u["org_id"].is_null()), "{users}");
    let anna = user_id(&app, "anna@demo-taxi.example").await;
    expect_error(
        app.get(&format!("/v1/users/{anna}"), &operator).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "operator reads a driver",
    );
}

async fn owner_manages_everything_in_own_org(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let org = org_of(&app, &owner).await;
    let north = app.group_id("North depot").await;

    let west = created(app.post("/v1/groups", &owner, json!({"name": "West depot"})).await);
    assert!(west["parent_id"].is_null());
    assert_eq!(west["org_id"], org.as_str());
    let shift = created(
        app.post("/v1/groups", &owner, json!({"name": "North night shift", "parent_id": north}))
            .await,
    );
    assert_eq!(shift["parent_id"], north.as_str());
    let shift = id(&shift);
    let admin = created(
        app.post(
            "/v1/users",
            &owner,
            json!({"email": "admin.night@demo-taxi.example", "name": "Nina Night", "role": "admin", "group_id": shift}),
        )
        .await,
    );
    assert_eq!(admin["user"]["role"], "admin");
    assert_eq!(admin["user"]["group_id"], shift.as_str());
    let co_owner = created(
        app.post(
            "/v1/users",
            &owner,
            json!({"email": "co.owner@demo-taxi.example", "name": "Co Owner", "role": "owner"}),
        )
        .await,
    );
    assert_eq!(co_owner["user"]["org_id"], org.as_str());
    let driver = id(&created(
        app.post("/v1/users", &owner, driver_body("dora@demo-taxi.example", &shift)).await,
    )["user"]);
    let vehicle =
        id(&created(app.post("/v1/vehicles", &owner, vehicle_body("B-TX 303", &shift)).await));
    let card = created(
        app.post(
            "/v1/cards",
            &owner,
            json!({"group_id": shift, "driver_id": driver, "vehicle_id": vehicle}),
        )
        .await,
    );
    assert_eq!(card["status"], "active");
    assert_eq!(card["driver_id"], driver.as_str());
    assert_eq!(card["vehicle_id"], vehicle.as_str());
    let org_card = created(app.post("/v1/cards", &owner, json!({})).await);
    assert!(org_card["group_id"].is_null(), "owners may issue cards at org level");

    let (status, controls) =
        app.put(&format!("/v1/orgs/{org}/controls"), &owner, daily(50_000)).await;
    assert_eq!(status, StatusCode::OK, "{controls}");
    assert_eq!(controls["level"], "org");
    assert_eq!(controls["controls"]["daily"]["amount"], 50_000);

    let (_, cards) = app.get("/v1/cards", &owner).await;
    assert_eq!(
        ids(&cards),
        set(&[&app.north_card(), &app.south_card(), &id(&card), &id(&org_card)])
    );
    let (_, orgs) = app.get("/v1/orgs", &owner).await;
    assert_eq!(ids(&orgs), set(&[&org]), "a fleet user lists only its own org");

    // Only the owner unblocks.
    let status_path = format!("/v1/cards/{}/status", app.south_card());
    let (status, _) =
        app.post(&status_path, &owner, json!({"status": "blocked", "reason": "lost phone"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        app.post(&status_path, &owner, json!({"status": "active", "reason": "found"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
}

async fn a_second_org_is_invisible_to_the_first(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let rival = second_org(&app).await;
    let owner = app.owner().await;
    let org = org_of(&app, &owner).await;
    for path in [
        format!("/v1/orgs/{}", rival.org),
        format!("/v1/groups/{}", rival.group),
        format!("/v1/users/{}", rival.driver),
        format!("/v1/users/{}", rival.owner_id),
        format!("/v1/vehicles/{}", rival.vehicle),
        format!("/v1/cards/{}", rival.card),
    ] {
        expect_error(app.get(&path, &owner).await, StatusCode::NOT_FOUND, "NOT_FOUND", &path);
    }
    // Lists: each owner sees exactly its own org's objects.
    let demo = fleet_lists(&app, &owner).await;
    let other = fleet_lists(&app, &rival.owner).await;
    assert_eq!(demo.orgs, set(&[&org]));
    assert_eq!(other.orgs, set(&[&rival.org]));
    assert_eq!(other.groups, set(&[&rival.group]));
    assert_eq!(other.users, set(&[&rival.owner_id, &rival.driver]));
    assert_eq!(other.vehicles, set(&[&rival.vehicle]));
    assert_eq!(other.cards, set(&[&rival.card]));
    assert_eq!(demo.cards, set(&[&app.north_card(), &app.south_card()]));
    for (mine, theirs, what) in [
        (&demo.groups, &other.groups, "groups"),
        (&demo.users, &other.users, "users"),
        (&demo.vehicles, &other.vehicles, "vehicles"),
    ] {
        assert_eq!(mine.len(), if what == "users" { 4 } else { 2 }, "{what}: {mine:?}");
        assert!(mine.is_disjoint(theirs), "{what} leak across orgs");
    }
    // And the other way round: the rival owner cannot read the demo fleet either.
    for path in [format!("/v1/orgs/{org}"), format!("/v1/cards/{}", app.north_card())] {
        expect_error(app.get(&path, &rival.owner).await, StatusCode::NOT_FOUND, "NOT_FOUND", &path);
    }
}

async fn cards_cannot_bind_to_another_orgs_driver_or_vehicle(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let rival = second_org(&app).await;
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let attempts = [
        (json!({"group_id": north, "driver_id": rival.driver}), "driver_id"),
        (json!({"group_id": north, "vehicle_id": rival.vehicle}), "vehicle_id"),
        (json!({"group_id": rival.group}), "group_id"),
    ];
    for (body, field) in attempts {
        let (status, err) = app.post("/v1/cards", &owner, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{err}");
        assert_eq!(err["error"]["code"], "NOT_FOUND", "{err}");
    }
    // Re-binding an own card to the rival's driver or vehicle fails the same way.
    let binding = format!("/v1/cards/{}/binding", app.north_card());
    expect_out_of_scope(
        app.put(&binding, &owner, json!({"driver_id": rival.driver})).await,
        "driver_id",
    );
    expect_out_of_scope(
        app.put(&binding, &owner, json!({"vehicle_id": rival.vehicle})).await,
        "vehicle_id",
    );
    // Nor can anything be placed in the rival's groups.
    expect_out_of_scope(
        app.post("/v1/users", &owner, driver_body("z@demo-taxi.example", &rival.group)).await,
        "group_id",
    );
    expect_out_of_scope(
        app.post("/v1/vehicles", &owner, vehicle_body("Z 1", &rival.group)).await,
        "group_id",
    );
    expect_out_of_scope(
        app.post("/v1/groups", &owner, json!({"name": "Inside", "parent_id": rival.group})).await,
        "parent_id",
    );
    let anna = user_id(&app, "anna@demo-taxi.example").await;
    let (status, _) = app
        .post("/v1/cards", &rival.owner, json!({"group_id": rival.group, "driver_id": anna}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the rival cannot bind the demo driver");
    let (_, cards) = app.get("/v1/cards", &owner).await;
    assert_eq!(ids(&cards), set(&[&app.north_card(), &app.south_card()]), "nothing was issued");
}

async fn north_admin_lists_exactly_north(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let north = depot(&app, "North depot", &app.north_card()).await;
    let admin_id = me(&app, &admin).await;
    // What the owner sees placed in North is exactly what the admin sees.
    let (_, all_users) = app.get("/v1/users", &owner).await;
    let in_north: BTreeSet<String> = all_users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["group_id"] == north.group.as_str())
        .map(id)
        .collect();
    assert_eq!(in_north, set(&[&admin_id, &north.driver]));
    let lists = fleet_lists(&app, &admin).await;
    assert_eq!(lists.groups, set(&[&north.group]));
    assert_eq!(lists.users, in_north);
    assert_eq!(lists.vehicles, set(&[&north.vehicle]));
    assert_eq!(lists.cards, set(&[&north.card]));
    assert_eq!(lists.orgs, set(&[&org_of(&app, &owner).await]));
    for path in [
        format!("/v1/groups/{}", north.group),
        format!("/v1/users/{}", north.driver),
        format!("/v1/vehicles/{}", north.vehicle),
        format!("/v1/cards/{}", north.card),
        format!("/v1/cards/{}/events", north.card),
        format!("/v1/cards/{}/bindings", north.card),
        format!("/v1/cards/{}/controls/effective", north.card),
        format!("/v1/drivers/{}/controls", north.driver),
    ] {
        let (status, body) = app.get(&path, &admin).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

async fn north_admin_cannot_reach_south_by_id(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let south = depot(&app, "South depot", &app.south_card()).await;
    let owner_id = me(&app, &owner).await;
    let targets = Targets {
        org: org_of(&app, &owner).await,
        group: south.group.clone(),
        user: south.driver.clone(),
        vehicle: south.vehicle.clone(),
        card: south.card.clone(),
    };
    // The org itself is the admin's to read; org-level changes are covered elsewhere.
    let probes = targets.reads().into_iter().chain(targets.writes());
    for probe in probes.filter(|p| !p.path.starts_with("/v1/orgs/")) {
        expect_not_found(&app, &admin, &probe).await;
    }
    // The org's owner sits above every depot: not the admin's either.
    expect_error(
        app.get(&format!("/v1/users/{owner_id}"), &admin).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "admin reads the owner",
    );
    // None of the refused writes changed anything.
    let (_, card) = app.get(&format!("/v1/cards/{}", south.card), &owner).await;
    assert_eq!(card["status"], "active");
    assert_eq!(card["driver_id"], south.driver.as_str());
    let (_, boris) = app.get(&format!("/v1/users/{}", south.driver), &owner).await;
    assert_eq!(
        (boris["status"].as_str(), boris["name"].as_str()),
        (Some("active"), Some("Boris Driver"))
    );
    let (_, vehicle) = app.get(&format!("/v1/vehicles/{}", south.vehicle), &owner).await;
    assert_eq!(
        (vehicle["status"].as_str(), vehicle["plate"].as_str()),
        (Some("active"), Some("B-TX 202"))
    );
    let (_, group) = app.get(&format!("/v1/groups/{}", south.group), &owner).await;
    assert_eq!(group["name"], "South depot");
    let (_, controls) = app.get(&format!("/v1/groups/{}/controls", south.group), &owner).await;
    assert!(controls["updated_at"].is_null(), "no controls were set: {controls}");
}

async fn north_admin_creates_inside_north_only(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let admin = app.admin_north().await;
    let north = app.group_id("North depot").await;
    let south = depot(&app, "South depot", &app.south_card()).await;

    let driver = id(&created(
        app.post("/v1/users", &admin, driver_body("nick@demo-taxi.example", &north)).await,
    )["user"]);
    let vehicle = id(&created(app.post("/v1/vehicles", &admin, vehicle_body("N 1", &north)).await));
    let card = created(
        app.post(
            "/v1/cards",
            &admin,
            json!({"group_id": north, "driver_id": driver, "vehicle_id": vehicle}),
        )
        .await,
    );
    assert_eq!(card["group_id"], north.as_str());
    // A subgroup of North, and objects inside it, are the admin's too.
    let shift =
        created(app.post("/v1/groups", &admin, json!({"name": "Night", "parent_id": north})).await);
    assert_eq!(shift["parent_id"], north.as_str());
    let shift = id(&shift);
    let night_driver = id(&created(
        app.post("/v1/users", &admin, driver_body("nat@demo-taxi.example", &shift)).await,
    )["user"]);
    let night_vehicle =
        id(&created(app.post("/v1/vehicles", &admin, vehicle_body("N 2", &shift)).await));
    let night_card = created(
        app.post(
            "/v1/cards",
            &admin,
            json!({"group_id": shift, "driver_id": night_driver, "vehicle_id": night_vehicle}),
        )
        .await,
    );

    // Nothing lands in South, at org level, or bound to South's driver or vehicle.
    expect_out_of_scope(
        app.post("/v1/users", &admin, driver_body("s@demo-taxi.example", &south.group)).await,
        "group_id",
    );
    expect_invalid(
        app.post(
            "/v1/users",
            &admin,
            json!({"email": "o@demo-taxi.example", "name": "O", "role": "driver"}),
        )
        .await,
        "group_id",
    );
    expect_out_of_scope(
        app.post("/v1/vehicles", &admin, vehicle_body("S 1", &south.group)).await,
        "group_id",
    );
    expect_invalid(
        app.post(
            "/v1/vehicles",
            &admin,
            json!({"plate": "S 2", "products": ["diesel"], "tank_capacity_ml": 50_000}),
        )
        .await,
        "group_id",
    );
    expect_out_of_scope(
        app.post("/v1/cards", &admin, json!({"group_id": south.group})).await,
        "group_id",
    );
    expect_invalid(app.post("/v1/cards", &admin, json!({})).await, "group_id");
    expect_out_of_scope(
        app.post("/v1/cards", &admin, json!({"group_id": north, "driver_id": south.driver})).await,
        "driver_id",
    );
    expect_out_of_scope(
        app.post("/v1/cards", &admin, json!({"group_id": north, "vehicle_id": south.vehicle}))
            .await,
        "vehicle_id",
    );
    expect_out_of_scope(
        app.put(
            &format!("/v1/cards/{}/binding", app.north_card()),
            &admin,
            json!({"driver_id": south.driver}),
        )
        .await,
        "driver_id",
    );
    expect_out_of_scope(
        app.post("/v1/groups", &admin, json!({"name": "Inside South", "parent_id": south.group}))
            .await,
        "parent_id",
    );
    expect_invalid(app.post("/v1/groups", &admin, json!({"name": "Top"})).await, "parent_id");
    expect_out_of_scope(
        app.patch(&format!("/v1/users/{driver}"), &admin, json!({"group_id": south.group})).await,
        "group_id",
    );

    let (_, cards) = app.get("/v1/cards", &admin).await;
    assert_eq!(ids(&cards), set(&[&app.north_card(), &id(&card), &id(&night_card)]));
    let (_, groups) = app.get("/v1/groups", &admin).await;
    assert_eq!(ids(&groups), set(&[&north, &shift]));
    let (_, boris_cards) = app.get("/v1/cards", &app.boris().await).await;
    assert_eq!(ids(&boris_cards), set(&[&app.south_card()]), "South is untouched");
}

async fn north_admin_role_limits_on_users_groups_status_and_controls(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let admin = app.admin_north().await;
    let org = org_of(&app, &owner).await;
    let north = app.group_id("North depot").await;
    let south = app.group_id("South depot").await;

    for (role, group) in
        [("admin", json!(north)), ("owner", Value::Null), ("operator", Value::Null)]
    {
        let body =
            json!({"email": "new@demo-taxi.example", "name": "N", "role": role, "group_id": group});
        expect_error(
            app.post("/v1/users", &admin, body).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &format!("admin creates {role}"),
        );
    }
    // Suspend and resume: yes. Unblock: the owner's alone.
    let status_path = format!("/v1/cards/{}/status", app.north_card());
    for to in ["suspended", "active", "blocked"] {
        let (status, card) =
            app.post(&status_path, &admin, json!({"status": to, "reason": "test"})).await;
        assert_eq!(status, StatusCode::OK, "{to}: {card}");
        assert_eq!(card["status"], to);
    }
    expect_error(
        app.post(&status_path, &admin, json!({"status": "active", "reason": "unblock"})).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "admin unblocks",
    );
    let (_, card) = app.get(&format!("/v1/cards/{}", app.north_card()), &owner).await;
    assert_eq!(card["status"], "blocked");

    // Controls: North's levels yes, org level and South no.
    for path in [format!("/v1/orgs/{org}/controls"), format!("/v1/groups/{south}/controls")] {
        expect_error(
            app.put(&path, &admin, daily(1)).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &path,
        );
        expect_error(app.get(&path, &admin).await, StatusCode::NOT_FOUND, "NOT_FOUND", &path);
    }
    // The admin's own depot is capped by the owner; below it the admin tightens.
    let own_group = format!("/v1/groups/{north}/controls");
    expect_error(
        app.put(&own_group, &admin, daily(20_000)).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        &own_group,
    );
    let path = format!("/v1/cards/{}/controls", app.north_card());
    let (status, body) = app.put(&path, &admin, daily(20_000)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let (_, org_controls) = app.get(&format!("/v1/orgs/{org}/controls"), &owner).await;
    assert!(org_controls["updated_at"].is_null(), "{org_controls}");
}

async fn a_subgroup_admin_sees_only_the_subgroup(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = depot(&app, "North depot", &app.north_card()).await;
    let night = id(&created(
        app.post("/v1/groups", &owner, json!({"name": "Night", "parent_id": north.group})).await,
    ));
    let night_admin = app
        .invite_and_activate(
            &owner,
            json!({"email": "admin.night@demo-taxi.example", "name": "Nina Night", "role": "admin", "group_id": night}),
            "night-admin-password",
        )
        .await;
    let driver = id(&created(
        app.post("/v1/users", &owner, driver_body("nat@demo-taxi.example", &night)).await,
    )["user"]);
    let vehicle = id(&created(app.post("/v1/vehicles", &owner, vehicle_body("N 9", &night)).await));
    let card = id(&created(
        app.post(
            "/v1/cards",
            &owner,
            json!({"group_id": night, "driver_id": driver, "vehicle_id": vehicle}),
        )
        .await,
    ));
    let token = app.login_pair("admin.night@demo-taxi.example", "night-admin-password").await
        ["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let lists = fleet_lists(&app, &token).await;
    assert_eq!(lists.groups, set(&[&night]));
    assert_eq!(lists.users, set(&[&night_admin, &driver]));
    assert_eq!(lists.vehicles, set(&[&vehicle]));
    assert_eq!(lists.cards, set(&[&card]));
    // The parent depot is above this admin: not visible, not a place to create in.
    for path in [
        format!("/v1/groups/{}", north.group),
        format!("/v1/users/{}", north.driver),
        format!("/v1/vehicles/{}", north.vehicle),
        format!("/v1/cards/{}", north.card),
    ] {
        expect_error(app.get(&path, &token).await, StatusCode::NOT_FOUND, "NOT_FOUND", &path);
    }
    expect_out_of_scope(
        app.post("/v1/users", &token, driver_body("up@demo-taxi.example", &north.group)).await,
        "group_id",
    );
    expect_out_of_scope(
        app.post("/v1/groups", &token, json!({"name": "Sibling", "parent_id": north.group})).await,
        "parent_id",
    );
    // While the North admin, one level up, sees the subgroup's objects.
    let north_lists = fleet_lists(&app, &app.admin_north().await).await;
    assert_eq!(north_lists.groups, set(&[&north.group, &night]));
    assert_eq!(north_lists.cards, set(&[&north.card, &card]));
    assert!(north_lists.users.contains(&night_admin) && north_lists.users.contains(&driver));
}

async fn driver_sees_only_own_cards(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let anna = app.anna().await;
    let boris = app.boris().await;
    let north = depot(&app, "North depot", &app.north_card()).await;
    // A second card for Anna, and a North card bound to nobody.
    let second = id(&created(
        app.post("/v1/cards", &owner, json!({"group_id": north.group, "driver_id": north.driver}))
            .await,
    ));
    let unbound =
        id(&created(app.post("/v1/cards", &owner, json!({"group_id": north.group})).await));

    let (status, cards) = app.get("/v1/cards", &anna).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&cards), set(&[&app.north_card(), &second]));
    let (_, cards) = app.get("/v1/cards", &boris).await;
    assert_eq!(ids(&cards), set(&[&app.south_card()]));

    let (status, card) = app.get(&format!("/v1/cards/{}", app.north_card()), &anna).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["driver_id"], north.driver.as_str());
    let (status, effective) =
        app.get(&format!("/v1/cards/{}/controls/effective", app.north_card()), &anna).await;
    assert_eq!(status, StatusCode::OK, "{effective}");
    assert_eq!(effective["card_id"], app.north_card().as_str());
    for card in [app.south_card(), unbound] {
        for path in [format!("/v1/cards/{card}"), format!("/v1/cards/{card}/controls/effective")] {
            expect_error(app.get(&path, &anna).await, StatusCode::NOT_FOUND, "NOT_FOUND", &path);
        }
    }
    // Re-bound away, the card leaves Anna's list at once.
    let (status, _) = app
        .put(&format!("/v1/cards/{second}/binding"), &owner, json!({"vehicle_id": north.vehicle}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, cards) = app.get("/v1/cards", &anna).await;
    assert_eq!(ids(&cards), set(&[&app.north_card()]));
    expect_error(
        app.get(&format!("/v1/cards/{second}"), &anna).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "re-bound card",
    );
}

async fn driver_cannot_manage_anything(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let anna = app.anna().await;
    let north = depot(&app, "North depot", &app.north_card()).await;
    let boris = user_id(&app, "boris@demo-taxi.example").await;
    let own = app.north_card();
    let forbidden = [
        (
            Method::POST,
            "/v1/cards".to_owned(),
            Some(json!({"group_id": north.group, "driver_id": north.driver})),
        ),
        (
            Method::POST,
            format!("/v1/cards/{own}/status"),
            Some(json!({"status": "suspended", "reason": "me"})),
        ),
        (
            Method::POST,
            format!("/v1/cards/{own}/status"),
            Some(json!({"status": "blocked", "reason": "me"})),
        ),
        (Method::PUT, format!("/v1/cards/{own}/binding"), Some(json!({"driver_id": north.driver}))),
        (Method::PUT, format!("/v1/cards/{own}/controls"), Some(daily(1_000_000))),
        (Method::GET, "/v1/users".to_owned(), None),
        (Method::GET, "/v1/groups".to_owned(), None),
        (Method::GET, "/v1/vehicles".to_owned(), None),
        (
            Method::POST,
            "/v1/users".to_owned(),
            Some(driver_body("pal@demo-taxi.example", &north.group)),
        ),
        (
            Method::POST,
            "/v1/groups".to_owned(),
            Some(json!({"name": "Mine", "parent_id": north.group})),
        ),
        (Method::POST, "/v1/vehicles".to_owned(), Some(vehicle_body("MY 1", &north.group))),
    ];
    for (method, path, body) in forbidden {
        let what = format!("{method} {path}");
        let res = app.call(method, &path, Some(&anna), body).await;
        expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN", &what);
    }
    let (_, card) = app.get(&format!("/v1/cards/{own}"), &anna).await;
    assert_eq!(card["status"], "active", "the refused changes changed nothing");
    // A driver reads their own account, nobody else's.
    let (status, me) = app.get(&format!("/v1/users/{}", north.driver), &anna).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "anna@demo-taxi.example");
    for path in [
        format!("/v1/users/{boris}"),
        format!("/v1/groups/{}", north.group),
        format!("/v1/vehicles/{}", north.vehicle),
    ] {
        expect_error(app.get(&path, &anna).await, StatusCode::NOT_FOUND, "NOT_FOUND", &path);
    }
}

async fn fraud_analyst_reads_and_blocks_any_card_only(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let analyst = app.analyst().await;
    let owner = app.owner().await;
    let rival = second_org(&app).await;
    for card in [app.north_card(), app.south_card(), rival.card.clone()] {
        let (status, body) = app.get(&format!("/v1/cards/{card}"), &analyst).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], card.as_str());
        let (status, events) = app.get(&format!("/v1/cards/{card}/events"), &analyst).await;
        assert_eq!(status, StatusCode::OK, "{events}");
        assert!(
            events.as_array().unwrap().iter().any(|e| e["action"] == "card.issued"),
            "{events}"
        );
        for sub in ["bindings", "controls/effective"] {
            let (status, body) = app.get(&format!("/v1/cards/{card}/{sub}"), &analyst).await;
            assert_eq!(status, StatusCode::OK, "{sub}: {body}");
        }
    }
    let status_path = format!("/v1/cards/{}/status", app.south_card());
    for to in ["suspended", "closed", "active"] {
        expect_error(
            app.post(&status_path, &analyst, json!({"status": to, "reason": "x"})).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &format!("analyst sets {to}"),
        );
    }
    let (status, card) = app
        .post(&status_path, &analyst, json!({"status": "blocked", "reason": "confirmed fraud"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["status"], "blocked");
    expect_error(
        app.post(&status_path, &analyst, json!({"status": "active", "reason": "oops"})).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "analyst unblocks",
    );
    let (_, seen) = app.get(&format!("/v1/cards/{}", app.south_card()), &owner).await;
    assert_eq!(seen["status"], "blocked");
    assert_eq!(seen["status_reason"], "confirmed fraud");

    let north = app.group_id("North depot").await;
    let refused = [
        (Method::POST, "/v1/users".to_owned(), Some(driver_body("f@demo-taxi.example", &north))),
        (
            Method::POST,
            "/v1/users".to_owned(),
            Some(json!({"email": "f2@forecourt.example", "name": "F", "role": "fraud_analyst"})),
        ),
        (Method::POST, "/v1/cards".to_owned(), Some(json!({"group_id": north}))),
        (Method::GET, "/v1/cards".to_owned(), None),
        (Method::PUT, format!("/v1/cards/{}/controls", app.north_card()), Some(daily(1))),
    ];
    for (method, path, body) in refused {
        let what = format!("{method} {path}");
        let res = app.call(method, &path, Some(&analyst), body).await;
        expect_error(res, StatusCode::FORBIDDEN, "FORBIDDEN", &what);
    }
    expect_error(
        app.get(&format!("/v1/cards/{}", uuid::Uuid::new_v4()), &analyst).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "analyst reads a random card",
    );
}

async fn guessed_ids_are_not_found_for_every_kind(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let random = Targets::random();
    for token in [app.owner().await, app.admin_north().await] {
        for probe in random.reads().into_iter().chain(random.writes()) {
            expect_not_found(&app, &token, &probe).await;
        }
    }
    // Roles without writes get the same answer for every read.
    for token in [app.anna().await, app.analyst().await, app.operator().await] {
        for probe in random.reads().into_iter().filter(|p| !p.path.ends_with("/controls")) {
            expect_not_found(&app, &token, &probe).await;
        }
    }
}

async fn another_orgs_ids_answer_exactly_like_guessed_ones(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let rival = second_org(&app).await;
    let theirs = Targets {
        org: rival.org.clone(),
        group: rival.group.clone(),
        user: rival.driver.clone(),
        vehicle: rival.vehicle.clone(),
        card: rival.card.clone(),
    };
    let random = Targets::random();
    for (token, writes) in
        [(app.owner().await, true), (app.admin_north().await, true), (app.anna().await, false)]
    {
        let pairs: Vec<(Probe, Probe)> = if writes {
            theirs
                .reads()
                .into_iter()
                .chain(theirs.writes())
                .zip(random.reads().into_iter().chain(random.writes()))
                .collect()
        } else {
            let reads = |t: &Targets| {
                t.reads().into_iter().filter(|p| !p.path.ends_with("/controls")).collect::<Vec<_>>()
            };
            reads(&theirs).into_iter().zip(reads(&random)).collect()
        };
        for (real, guessed) in pairs {
            let real_answer = expect_not_found(&app, &token, &real).await;
            let guessed_answer = expect_not_found(&app, &token, &guessed).await;
            assert_eq!(
                real_answer, guessed_answer,
                "{} {} tells existence apart",
                real.method, real.path
            );
        }
    }
    // Nothing of the rival's changed.
    let (_, card) = app.get(&format!("/v1/cards/{}", rival.card), &rival.owner).await;
    assert_eq!(card["status"], "active");
    assert_eq!(card["driver_id"], rival.driver.as_str());
    let (_, org) = app.get(&format!("/v1/orgs/{}", rival.org), &rival.owner).await;
    assert_eq!(org["name"], "Rival Freight");
}

// ---- helpers ----

/// One request of a probe set.
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
}

/// One id of each kind, to probe every endpoint that takes an id.
struct Targets {
    org: String,
    group: String,
    user: String,
    vehicle: String,
    card: String,
}

impl Targets {
    fn random() -> Self {
        let r = || uuid::Uuid::new_v4().to_string();
        Self { org: r(), group: r(), user: r(), vehicle: r(), card: r() }
    }

    fn reads(&self) -> Vec<Probe> {
        let Self { org, group, user, vehicle, card } = self;
        [
            format!("/v1/orgs/{org}"),
            format!("/v1/orgs/{org}/controls"),
            format!("/v1/groups/{group}"),
            format!("/v1/groups/{group}/controls"),
            format!("/v1/users/{user}"),
            format!("/v1/drivers/{user}/controls"),
            format!("/v1/vehicles/{vehicle}"),
            format!("/v1/vehicles/{vehicle}/controls"),
            format!("/v1/cards/{card}"),
            format!("/v1/cards/{card}/events"),
            format!("/v1/cards/{card}/bindings"),
            format!("/v1/cards/{card}/controls"),
            format!("/v1/cards/{card}/controls/effective"),
        ]
        .into_iter()
        .map(|path| Probe { method: Method::GET, path, body: None })
        .collect()
    }

    fn writes(&self) -> Vec<Probe> {
        let Self { org, group, user, vehicle, card } = self;
        let p =
            |method: Method, path: String, body: Value| Probe { method, path, body: Some(body) };
        vec![
            p(Method::PATCH, format!("/v1/orgs/{org}"), json!({"name": "Taken"})),
            p(Method::PUT, format!("/v1/orgs/{org}/controls"), daily(1)),
            p(Method::PATCH, format!("/v1/groups/{group}"), json!({"name": "Taken"})),
            p(Method::PUT, format!("/v1/groups/{group}/controls"), daily(1)),
            p(Method::PATCH, format!("/v1/users/{user}"), json!({"name": "Taken"})),
            p(Method::POST, format!("/v1/users/{user}/deactivate"), json!({})),
            p(Method::PUT, format!("/v1/drivers/{user}/controls"), daily(1)),
            p(Method::PATCH, format!("/v1/vehicles/{vehicle}"), json!({"plate": "TAKEN 1"})),
            p(Method::POST, format!("/v1/vehicles/{vehicle}/deactivate"), json!({})),
            p(Method::PUT, format!("/v1/vehicles/{vehicle}/controls"), daily(1)),
            p(
                Method::POST,
                format!("/v1/cards/{card}/status"),
                json!({"status": "suspended", "reason": "probe"}),
            ),
            p(Method::PUT, format!("/v1/cards/{card}/binding"), json!({})),
            p(Method::PUT, format!("/v1/cards/{card}/controls"), daily(1)),
        ]
    }
}

/// Sends the probe, asserts 404 `NOT_FOUND`, and returns the error body.
async fn expect_not_found(app: &TestApp, token: &str, probe: &Probe) -> Value {
    let res = app.call(probe.method.clone(), &probe.path, Some(token), probe.body.clone()).await;
    let what = format!("{} {}", probe.method, probe.path);
    expect_error(res.clone(), StatusCode::NOT_FOUND, "NOT_FOUND", &what);
    res.1
}

/// A second fleet, onboarded by the operator, with one object of each kind.
struct OtherOrg {
    org: String,
    owner: String,
    owner_id: String,
    group: String,
    driver: String,
    vehicle: String,
    card: String,
}

async fn second_org(app: &TestApp) -> OtherOrg {
    let operator = app.operator().await;
    let onboarded = created(
        app.post(
            "/v1/orgs",
            &operator,
            json!({"name": "Rival Freight", "currency": "EUR", "time_zone": "Europe/Vienna",
                   "owner": {"email": "owner@rival.example", "name": "Rita Rival"}}),
        )
        .await,
    );
    let (status, activated) = app
        .call(
            Method::POST,
            "/v1/auth/accept-invite",
            None,
            Some(json!({"invite_token": onboarded["owner"]["invite_token"], "password": "rival-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{activated}");
    let owner = app.login_pair("owner@rival.example", "rival-password").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = id(&created(app.post("/v1/groups", &owner, json!({"name": "East depot"})).await));
    let driver = id(&created(
        app.post("/v1/users", &owner, driver_body("ivan@rival.example", &group)).await,
    )["user"]);
    let vehicle =
        id(&created(app.post("/v1/vehicles", &owner, vehicle_body("W-RF 1", &group)).await));
    let card = id(&created(
        app.post(
            "/v1/cards",
            &owner,
            json!({"group_id": group, "driver_id": driver, "vehicle_id": vehicle}),
        )
        .await,
    ));
    OtherOrg {
        org: id(&onboarded["org"]),
        owner,
        owner_id: id(&onboarded["owner"]["user"]),
        group,
        driver,
        vehicle,
        card,
    }
}

/// A demo depot: its group and the driver and vehicle its demo card is bound to.
struct Depot {
    group: String,
    driver: String,
    vehicle: String,
    card: String,
}

async fn depot(app: &TestApp, name: &str, card: &str) -> Depot {
    let (status, c) = app.get(&format!("/v1/cards/{card}"), &app.owner().await).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    Depot {
        group: app.group_id(name).await,
        driver: c["driver_id"].as_str().unwrap().to_owned(),
        vehicle: c["vehicle_id"].as_str().unwrap().to_owned(),
        card: card.to_owned(),
    }
}

/// The ids of every list a fleet user may read.
struct Lists {
    orgs: BTreeSet<String>,
    groups: BTreeSet<String>,
    users: BTreeSet<String>,
    vehicles: BTreeSet<String>,
    cards: BTreeSet<String>,
}

async fn fleet_lists(app: &TestApp, token: &str) -> Lists {
    let list = |path: &'static str| async move {
        let (status, body) = app.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        ids(&body)
    };
    Lists {
        orgs: list("/v1/orgs").await,
        groups: list("/v1/groups").await,
        users: list("/v1/users").await,
        vehicles: list("/v1/vehicles").await,
        cards: list("/v1/cards").await,
    }
}

async fn me(app: &TestApp, token: &str) -> String {
    let (status, me) = app.get("/v1/me", token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    id(&me)
}

async fn org_of(app: &TestApp, token: &str) -> String {
    let (_, me) = app.get("/v1/me", token).await;
    me["org_id"].as_str().expect("a fleet user").to_owned()
}

/// A demo user's id, looked up by the owner.
async fn user_id(app: &TestApp, email: &str) -> String {
    let (_, users) = app.get("/v1/users", &app.owner().await).await;
    id(users.as_array().unwrap().iter().find(|u| u["email"] == email).expect(email))
}

fn driver_body(email: &str, group: &str) -> Value {
    json!({"email": email, "name": "Some Driver", "role": "driver", "group_id": group})
}

fn vehicle_body(plate: &str, group: &str) -> Value {
    json!({"plate": plate, "products": ["diesel"], "tank_capacity_ml": 60_000, "group_id": group})
}

fn daily(amount: i64) -> Value {
    json!({"daily": {"amount": amount}})
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array().unwrap_or_else(|| panic!("not a list: {list}")).iter().map(id).collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

/// Unwraps a 201 answer.
fn created((status, body): (StatusCode, Value)) -> Value {
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn expect_error((status, body): (StatusCode, Value), want: StatusCode, code: &str, what: &str) {
    assert_eq!(status, want, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
}

/// A 422 naming `field`: the id it holds is not in the caller's scope (or nowhere).
fn expect_out_of_scope(res: (StatusCode, Value), field: &str) {
    expect_field(res, field, "NOT_FOUND");
}

/// A 422 naming `field`: the value is not allowed for the caller's role.
fn expect_invalid(res: (StatusCode, Value), field: &str) {
    expect_field(res, field, "INVALID_VALUE");
}

fn expect_field((status, body): (StatusCode, Value), field: &str, code: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    assert_eq!(body["error"]["field"], field, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
}

/// Readable objects whose change the role may never make answer 403 (not 404): the caller
/// already knows they exist. The owner's cap on an admin's own depot is one of them.
async fn what_a_role_may_read_but_never_change_is_forbidden_not_hidden(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let (owner, admin, analyst) = (app.owner().await, app.admin_north().await, app.analyst().await);
    let north = app.group_id("North depot").await;
    let cap = json!({"daily": {"amount": 10000}});
    assert_eq!(
        app.put(&format!("/v1/groups/{north}/controls"), &owner, cap).await.0,
        StatusCode::OK
    );
    let (status, body) = app
        .put(&format!("/v1/groups/{north}/controls"), &admin, json!({"daily": {"amount": 999999}}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    let (_, kept) = app.get(&format!("/v1/groups/{north}/controls"), &owner).await;
    assert_eq!(kept["controls"]["daily"]["amount"], 10000, "the owner's cap stands");

    let card = app.north_card();
    let (status, _) = app.put(&format!("/v1/cards/{card}/binding"), &analyst, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let org = org_of(&app, &admin).await;
    let (status, _) =
        app.patch(&format!("/v1/orgs/{org}"), &admin, json!({"name": "Mine now"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
