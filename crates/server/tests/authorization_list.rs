//! `GET /v1/authorizations` as a fleet admin uses it: filters by status, driver, vehicle,
//! station, card and time, a limit, newest first; the caller's scope applies under every
//! filter; a bad filter value is a 400 naming the parameter. Real fills through a signed
//! terminal with real cryptograms, on both databases.

mod common;

use axum::http::StatusCode;
use common::phone::{now_ms, Phone};
use common::terminal::Terminal;
use common::{Backend, TestApp};
use serde_json::{json, Value};

both_backends!(
    filters_narrow_the_fleets_fills,
    driver_and_vehicle_filters_follow_the_binding_at_the_fill,
    scope_applies_under_every_filter,
    bad_filter_values_are_400_naming_the_parameter,
);

/// Five fills of the demo fleet, oldest first: Anna at the first station (completed), Anna
/// at the second (approved), then — after `mid` — Anna at the first (declined by a limit),
/// Anna at the first (reversed), Boris at the second (approved).
struct Fills {
    app: TestApp,
    owner: String,
    anna: [String; 4],
    boris: String,
    /// An instant between the second and the third fill (RFC 3339).
    mid: String,
    first_station: String,
    second_station: String,
}

async fn phone_for(app: &TestApp, driver: &str, card: &str) -> Phone {
    let mut phone = Phone::new();
    phone.enrol(app, driver).await;
    phone.provision(app, driver, card).await;
    phone
}

async fn second_terminal(app: &TestApp) -> Terminal {
    let operator = app.operator().await;
    let station = json!({"name": "Autohof Süd", "merchant_id": "M-5005", "lat_e6": 53_400_000,
                         "lon_e6": 10_000_000, "time_zone": "Europe/Berlin", "products": ["diesel"]});
    let (status, station) = app.post("/v1/stations", &operator, station).await;
    assert_eq!(status, StatusCode::CREATED, "{station}");
    let station_id = station["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/stations/{station_id}/terminals");
    let (status, created) = app.post(&path, &operator, json!({"label": "Pump 7"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = hex::decode(created["secret"].as_str().unwrap()).unwrap().try_into().unwrap();
    Terminal { id: created["terminal"]["id"].as_str().unwrap().to_owned(), station_id, secret }
}

fn id_of(answer: &Value) -> String {
    answer["authorization_id"].as_str().unwrap().to_owned()
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// Lets the clock move on, so fills on either side of an instant are strictly apart.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
}

async fn fills(app: TestApp) -> Fills {
    let (first, second) = (Terminal::register(&app).await, second_terminal(&app).await);
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let credit = format!("/v1/orgs/{}/account/credits", me["org_id"].as_str().unwrap());
    let (status, _) = app.post(&credit, &app.operator().await, json!({"amount": 1_000_000})).await;
    assert_eq!(status, StatusCode::OK);
    let anna = phone_for(&app, &app.anna().await, &app.north_card()).await;
    let boris = phone_for(&app, &app.boris().await, &app.south_card()).await;
    let completed = first.authorize(&app, &anna.qr(0, 1, now_ms()), 5_000, false).await;
    let body = json!({"amount": 4_000, "volume_ml": 22_000, "product": "diesel"});
    let path = format!("/v1/terminal/authorizations/{}/completion", id_of(&completed));
    assert_eq!(first.send(&app, &path, &body).await.0, StatusCode::OK);
    let approved = second.authorize(&app, &anna.qr(0, 2, now_ms()), 5_000, false).await;
    tick().await;
    let mid = rfc3339_now();
    tick().await;
    let controls = format!("/v1/cards/{}/controls", app.north_card());
    let per_fill = json!({"per_authorization": {"amount": 1_000}});
    assert_eq!(app.put(&controls, &owner, per_fill).await.0, StatusCode::OK);
    let declined = first.authorize(&app, &anna.qr(0, 3, now_ms()), 5_000, false).await;
    assert_eq!(declined["reason"], "LIMIT_PER_AUTH_AMOUNT", "{declined}");
    assert_eq!(app.put(&controls, &owner, json!({})).await.0, StatusCode::OK);
    let reversed = first.authorize(&app, &anna.qr(1, 4, now_ms()), 5_000, false).await;
    let path = format!("/v1/terminal/authorizations/{}/reversal", id_of(&reversed));
    assert_eq!(first.send(&app, &path, &json!({})).await.0, StatusCode::OK);
    let boris_fill = second.authorize(&app, &boris.qr(0, 1, now_ms()), 5_000, false).await;
    assert_eq!(boris_fill["approved"], true, "{boris_fill}");
    Fills {
        anna: [&completed, &approved, &declined, &reversed].map(id_of),
        boris: id_of(&boris_fill),
        mid,
        first_station: first.station_id,
        second_station: second.station_id,
        app,
        owner,
    }
}

impl Fills {
    /// The ids `token` gets for `query`, in the order given.
    async fn ids(&self, token: &str, query: &str) -> Vec<String> {
        let (status, list) = self.app.get(&format!("/v1/authorizations?{query}"), token).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        list.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_owned()).collect()
    }

    /// Anna's fills picked by index, newest first as the listing orders them.
    fn anna_newest_first(&self, picks: &[usize]) -> Vec<String> {
        let mut ids: Vec<String> = picks.iter().map(|&i| self.anna[i].clone()).collect();
        ids.sort_by_key(|id| std::cmp::Reverse(self.anna.iter().position(|a| a == id)));
        ids
    }

    async fn card_field(&self, card: &str, field: &str) -> String {
        let (_, card) = self.app.get(&format!("/v1/cards/{card}"), &self.owner).await;
        card[field].as_str().expect("bound").to_owned()
    }
}

async fn filters_narrow_the_fleets_fills(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = fills(app).await;
    let o = &f.owner;
    let mut all = vec![f.boris.clone()];
    all.extend(f.anna_newest_first(&[0, 1, 2, 3]));
    assert_eq!(f.ids(o, "").await, all, "newest first");
    for (status, expected) in [
        ("completed", f.anna_newest_first(&[0])),
        ("approved", vec![f.boris.clone(), f.anna[1].clone()]),
        ("declined", f.anna_newest_first(&[2])),
        ("reversed", f.anna_newest_first(&[3])),
        ("expired", vec![]),
    ] {
        assert_eq!(f.ids(o, &format!("status={status}")).await, expected, "{status}");
    }
    let second = format!("station_id={}", f.second_station);
    assert_eq!(f.ids(o, &second).await, [f.boris.clone(), f.anna[1].clone()]);
    let first = format!("station_id={}", f.first_station);
    assert_eq!(f.ids(o, &first).await, f.anna_newest_first(&[0, 2, 3]));
    assert_eq!(f.ids(o, &format!("from={}", f.mid)).await, all[..3]);
    assert_eq!(f.ids(o, &format!("to={}", f.mid)).await, all[3..]);
    let card = format!("card_id={}&status=approved", f.app.north_card());
    assert_eq!(f.ids(o, &card).await, vec![f.anna[1].clone()], "filters combine");
    assert_eq!(f.ids(o, "limit=2").await, all[..2], "the newest two");
    let window = format!("from={}&to={}", f.mid, f.mid);
    assert_eq!(f.ids(o, &window).await, Vec::<String>::new(), "an empty range");
}

/// Driver and vehicle mean who held the card when the fill was made: re-binding Anna's
/// card to a new driver and vehicle moves neither her past fills nor the old vehicle's.
async fn driver_and_vehicle_filters_follow_the_binding_at_the_fill(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = fills(app).await;
    let o = &f.owner;
    let anna = f.card_field(&f.app.north_card(), "driver_id").await;
    let van = f.card_field(&f.app.north_card(), "vehicle_id").await;
    let boris = f.card_field(&f.app.south_card(), "driver_id").await;
    let annas = f.anna_newest_first(&[0, 1, 2, 3]);
    assert_eq!(f.ids(o, &format!("driver_id={anna}")).await, annas);
    assert_eq!(f.ids(o, &format!("driver_id={boris}")).await, vec![f.boris.clone()]);
    assert_eq!(f.ids(o, &format!("vehicle_id={van}")).await, annas);
    let north = f.app.group_id("North depot").await;
    let body = json!({"email": "carl@demo-taxi.example", "name": "Carl Driver", "role": "driver",
                      "group_id": north});
    let carl = f.app.invite_and_activate(o, body, "correct horse battery").await;
    let vehicle = json!({"plate": "B-TX 303", "products": ["diesel"], "tank_capacity_ml": 60_000,
                         "group_id": north});
    let (status, truck) = f.app.post("/v1/vehicles", o, vehicle).await;
    assert_eq!(status, StatusCode::CREATED, "{truck}");
    let path = format!("/v1/cards/{}/binding", f.app.north_card());
    let binding = json!({"driver_id": carl, "vehicle_id": truck["id"]});
    let (status, card) = f.app.put(&path, o, binding).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(f.ids(o, &format!("driver_id={anna}")).await, annas, "still Anna's");
    assert_eq!(f.ids(o, &format!("vehicle_id={van}")).await, annas);
    assert_eq!(f.ids(o, &format!("driver_id={carl}")).await, Vec::<String>::new());
    let truck = truck["id"].as_str().unwrap();
    assert_eq!(f.ids(o, &format!("vehicle_id={truck}")).await, Vec::<String>::new());
}

async fn scope_applies_under_every_filter(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let f = fills(app).await;
    let annas = f.anna_newest_first(&[0, 1, 2, 3]);
    let admin = f.app.admin_north().await;
    let second = format!("station_id={}", f.second_station);
    assert_eq!(f.ids(&admin, "").await, annas, "the North depot's card only");
    assert_eq!(f.ids(&admin, &second).await, vec![f.anna[1].clone()], "not Boris's fill there");
    let boris_id = f.card_field(&f.app.south_card(), "driver_id").await;
    let by_boris = format!("driver_id={boris_id}");
    assert_eq!(f.ids(&admin, &by_boris).await, Vec::<String>::new());
    let south = format!("/v1/authorizations?card_id={}", f.app.south_card());
    assert_eq!(f.app.get(&south, &admin).await.0, StatusCode::NOT_FOUND, "out of scope");
    let boris = f.app.boris().await;
    assert_eq!(f.ids(&boris, "").await, vec![f.boris.clone()], "a driver sees their own");
    assert_eq!(f.ids(&boris, &second).await, vec![f.boris.clone()]);
    assert_eq!(f.ids(&boris, "status=completed").await, Vec::<String>::new());
    let north = format!("/v1/authorizations?card_id={}", f.app.north_card());
    assert_eq!(f.app.get(&north, &boris).await.0, StatusCode::NOT_FOUND);
    let anna = f.app.anna().await;
    assert_eq!(f.ids(&anna, "status=declined").await, f.anna_newest_first(&[2]));
}

async fn bad_filter_values_are_400_naming_the_parameter(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    for (query, field) in [
        ("status=pending", "status"),
        ("driver_id=anna", "driver_id"),
        ("vehicle_id=1", "vehicle_id"),
        ("station_id=x", "station_id"),
        ("card_id=", "card_id"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("status=approved&status=declined", "status"),
    ] {
        let (status, err) = app.get(&format!("/v1/authorizations?{query}"), &owner).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {err}");
        assert_eq!(err["error"]["field"], field, "{query}: {err}");
    }
    let (status, err) = app.get("/v1/authorizations?colour=red", &owner).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown parameters are refused: {err}");
    assert_eq!(app.get("/v1/authorizations?limit=200", &owner).await.0, StatusCode::OK);
}
