//! The web console in-process, on both databases: login and session cookies, CSRF refusal,
//! roles without a console, scope through pages (another depot's card is a 404 page), the
//! card forms changing what the API then reads, and transparent refresh of an expired
//! access token.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::phone::{now_ms, Phone};
use common::terminal::Terminal;
use common::{Backend, TestApp};
use http_body_util::BodyExt;
use server::demo::DEMO_PASSWORD;
use std::collections::BTreeMap;
use tower::ServiceExt;

both_backends!(
    pages_need_a_session_and_login_sets_strict_http_only_cookies,
    forms_without_a_valid_csrf_token_are_refused,
    a_driver_gets_the_not_for_you_page,
    another_depots_card_is_a_404_page,
    card_forms_change_what_the_api_reads,
    an_expired_access_token_is_refreshed_transparently,
    bad_input_is_a_page_not_a_panic,
    an_analyst_works_an_alert_through_the_pages,
    drivers_vehicles_and_depots_through_the_forms,
    directory_pages_keep_to_the_admins_depots,
    refused_forms_re_render_with_the_error,
    limits_left_after_a_real_fill,
    the_card_products_and_stations_form,
    the_alert_page_lists_alerts_by_driver_and_station,
    the_language_follows_the_user_to_another_browser,
    the_dashboard_counts_the_fleets_days,
    the_dashboard_sums_every_fill_in_scope,
    limits_at_driver_vehicle_and_depot_level,
    the_card_time_windows_form,
    an_impossible_travel_alert_shows_both_stations_distance_and_speed,
);

/// A cookie-keeping client over the in-process router.
struct Browser<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    cache_control: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, cookies: BTreeMap::new() }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        self.request(method, path, form, &[]).await
    }

    async fn send_with(&mut self, method: Method, path: &str, headers: &[(&str, &str)]) -> Page {
        self.request(method, path, None, headers).await
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, jar.join("; "));
        }
        let body = match form {
            Some(fields) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(serde_urlencoded_pairs(fields))
            }
            None => Body::empty(),
        };
        let response = self.app.router.clone().oneshot(req.body(body).expect("request")).await;
        let response = response.expect("infallible");
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().expect("location").to_owned());
        let cache_control = response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().expect("cache-control").to_owned());
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("cookie").to_owned())
            .collect();
        for line in &set_cookies {
            let pair = line.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        Page {
            status,
            location,
            cache_control,
            set_cookies,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// Posts a form with the current CSRF token added.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.cookies.get("fc_csrf").cloned().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &csrf));
        self.send(Method::POST, path, Some(&all)).await
    }

    async fn login(&mut self, email: &str) {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let done =
            self.post("/console/login", &[("email", email), ("password", DEMO_PASSWORD)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/console"));
    }
}

fn serde_urlencoded_pairs(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn pages_need_a_session_and_login_sets_strict_http_only_cookies(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let mut b = Browser::new(&app);
    let page = b.get("/console/cards").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/console/login"));
    // Browsers asking for `/` go to the console; API clients keep the JSON 404.
    let root = b.send_with(Method::GET, "/", &[("accept", "text/html,*/*;q=0.8")]).await;
    assert_eq!(root.location.as_deref(), Some("/console"));
    assert_eq!(b.get("/").await.status, StatusCode::NOT_FOUND);

    b.get("/console/login").await;
    let wrong = b
        .post(
            "/console/login",
            &[("email", "admin.north@demo-taxi.example"), ("password", "not-the-password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("login-error"));

    let done = b
        .post(
            "/console/login",
            &[("email", "admin.north@demo-taxi.example"), ("password", DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    for name in ["fc_session", "fc_refresh", "fc_csrf"] {
        let line = done.set_cookies.iter().find(|l| l.starts_with(name)).expect(name);
        assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict"), "{line}");
        assert!(line.contains("Path=/console") && !line.contains("Secure"), "{line}");
    }
    let dash = b.get("/console").await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
    assert!(dash.body.contains("Demo Taxi"));

    // Logout revokes the session: the old access token no longer opens a page.
    let token = b.cookies.get("fc_session").cloned().expect("session");
    let out = b.post("/console/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!b.cookies.contains_key("fc_session"));
    b.cookies.insert("fc_session".into(), token);
    let after = b.get("/console").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

async fn forms_without_a_valid_csrf_token_are_refused(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;
    let card = app.north_card();
    let path = format!("/console/cards/{card}/status");
    let fields = [("status", "blocked"), ("reason", "csrf test")];
    let missing = b.send(Method::POST, &path, Some(&fields)).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let mut wrong = fields.to_vec();
    wrong.push(("csrf", "00"));
    let wrong = b.send(Method::POST, &path, Some(&wrong)).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.contains("security token"));
    let (_, api) = app.get(&format!("/v1/cards/{card}"), &app.admin_north().await).await;
    assert_eq!(api["status"], "active", "nothing changed");

    // The login form is protected the same way.
    let mut fresh = Browser::new(&app);
    let fields = [("email", "admin.north@demo-taxi.example"), ("password", DEMO_PASSWORD)];
    let login = fresh.send(Method::POST, "/console/login", Some(&fields)).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);

    let ok = b.post(&path, &fields_with_reason()).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (_, api) = app.get(&format!("/v1/cards/{card}"), &app.admin_north().await).await;
    assert_eq!(api["status"], "suspended");
}

fn fields_with_reason() -> Vec<(&'static str, &'static str)> {
    vec![("status", "suspended"), ("reason", "driver on leave")]
}

async fn a_driver_gets_the_not_for_you_page(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let mut b = Browser::new(&app);
    b.login("anna@demo-taxi.example").await;
    for path in ["/console", "/console/cards", &format!("/console/cards/{}", app.north_card())] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("fleet owners, fleet admins and fraud analysts"), "{path}");
        assert!(!page.body.contains("B-TX"), "no fleet data leaks: {path}");
    }
    // Posting as a driver is refused the same way, before any service call.
    let card = app.north_card();
    let page = b
        .post(&format!("/console/cards/{card}/status"), &[("status", "blocked"), ("reason", "x")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // A fleet admin is not a fraud analyst.
    let mut admin = Browser::new(&app);
    admin.login("admin.north@demo-taxi.example").await;
    assert_eq!(admin.get("/console/alerts").await.status, StatusCode::FORBIDDEN);
}

async fn another_depots_card_is_a_404_page(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;
    let north = b.get(&format!("/console/cards/{}", app.north_card())).await;
    assert_eq!(north.status, StatusCode::OK, "{}", north.body);
    let south_path = format!("/console/cards/{}", app.south_card());
    let south = b.get(&south_path).await;
    assert_eq!(south.status, StatusCode::NOT_FOUND);
    let guessed = b.get("/console/cards/01a208b1-e96b-75c5-9fd4-000000000000").await;
    assert_eq!(guessed.status, StatusCode::NOT_FOUND);
    assert_eq!(
        south.body.replace(&app.south_card(), ""),
        guessed.body.replace("01a208b1-e96b-75c5-9fd4-000000000000", ""),
        "out of scope looks like absent"
    );
    let post =
        b.post(&format!("{south_path}/status"), &[("status", "blocked"), ("reason", "x")]).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    let list = b.get("/console/cards").await;
    assert!(list.body.contains(&app.north_card()) && !list.body.contains(&app.south_card()));
    // Search narrows the scoped list, never widens it.
    let anna = b.get("/console/cards?q=anna").await;
    assert!(anna.body.contains(&app.north_card()));
    let boris = b.get("/console/cards?q=boris").await;
    assert!(!boris.body.contains(&app.north_card()) && !boris.body.contains(&app.south_card()));
}

async fn card_forms_change_what_the_api_reads(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let mut b = Browser::new(&app);
    b.login("owner@demo-taxi.example").await;
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let issued = b
        .post("/console/cards", &[("group_id", &north), ("driver_id", ""), ("vehicle_id", "")])
        .await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.body);
    let card_path = issued.location.expect("card page");
    let card = card_path.rsplit('/').next().expect("id").to_owned();

    let anna = app.user_id_by_email("anna@demo-taxi.example").await;
    let bound =
        b.post(&format!("{card_path}/binding"), &[("driver_id", &anna), ("vehicle_id", "")]).await;
    assert_eq!(bound.status, StatusCode::SEE_OTHER, "{}", bound.body);
    let limits = b
        .post(
            &format!("{card_path}/limits"),
            &[("daily", "123.45"), ("daily_count", "4"), ("per_authorization", "")],
        )
        .await;
    assert_eq!(limits.status, StatusCode::SEE_OTHER, "{}", limits.body);

    let (_, api) = app.get(&format!("/v1/cards/{card}"), &owner).await;
    assert_eq!(api["driver_id"], anna.as_str());
    let (_, controls) = app.get(&format!("/v1/cards/{card}/controls"), &owner).await;
    assert_eq!(controls["controls"]["daily"]["amount"], 12345);
    assert_eq!(controls["controls"]["daily"]["count"], 4);

    let page = b.get(&card_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("123.45 EUR") && page.body.contains("Anna Driver"));
    assert!(page.body.contains("card.rebound") || page.body.contains("card.bound"), "timeline");

    // The dashboard shows the owner's account.
    let dash = b.get("/console").await;
    assert!(dash.body.contains("id=\"account\"") && dash.body.contains("EUR"));

    // Russian pages on request.
    let lang = b.post("/console/lang", &[("lang", "ru"), ("next", &card_path)]).await;
    assert_eq!(lang.location.as_deref(), Some(card_path.as_str()));
    let ru = b.get(&card_path).await;
    assert!(ru.body.contains("lang=\"ru\"") && ru.body.contains("Журнал действий"));
    // Never an open redirect.
    let away = b.post("/console/lang", &[("lang", "en"), ("next", "https://evil.example/")]).await;
    assert_eq!(away.location.as_deref(), Some("/console"));
}

async fn an_expired_access_token_is_refreshed_transparently(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;
    let old_refresh = b.cookies.get("fc_refresh").cloned().expect("refresh");
    // An access token that no longer verifies stands for an expired one.
    b.cookies.insert("fc_session".into(), "expired.token.value".into());
    let page = b.get("/console/cards").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.set_cookies.iter().any(|l| l.starts_with("fc_session=")));
    assert_ne!(b.cookies.get("fc_refresh"), Some(&old_refresh), "rotated");
    assert_eq!(b.get("/console/cards").await.status, StatusCode::OK);

    // Without a working refresh token: back to the login page.
    b.cookies.insert("fc_session".into(), "expired.token.value".into());
    b.cookies.insert("fc_refresh".into(), "nope".into());
    let page = b.get("/console/cards").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/console/login"));
}

async fn bad_input_is_a_page_not_a_panic(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let mut b = Browser::new(&app);
    b.login("owner@demo-taxi.example").await;
    let card = app.north_card();
    for (path, fields, status) in [
        (
            format!("/console/cards/{card}/limits"),
            vec![("daily", "12.345")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/console/cards/{card}/limits"),
            vec![("daily_count", "x")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/console/cards/{card}/status"),
            vec![("status", "melted"), ("reason", "x")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/console/cards/{card}/binding"),
            vec![("driver_id", "not-a-uuid")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/console/cards/not-a-uuid/status".to_owned(),
            vec![("status", "blocked"), ("reason", "x")],
            StatusCode::NOT_FOUND,
        ),
    ] {
        let page = b.post(&path, &fields).await;
        assert_eq!(page.status, status, "{path} {fields:?}: {}", page.body);
        assert!(page.body.contains("<html"), "{path}");
    }
    assert_eq!(
        b.get("/console/cards?status=melted").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for path in ["/console/drivers?state=melted", "/console/vehicles?state=gone"] {
        assert_eq!(b.get(path).await.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }
    for path in ["/console/drivers/nope", "/console/vehicles/nope", "/console/groups/nope"] {
        assert_eq!(b.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(b.get("/console/no-such-page").await.status, StatusCode::NOT_FOUND);
    let wrong_method = b.get("/console/logout").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(wrong_method.body.contains("<html"));
    let garbage = b.send(Method::POST, "/console/login", Some(&[("%%%", "\u{0}")])).await;
    assert_eq!(garbage.status, StatusCode::FORBIDDEN);
}

async fn an_analyst_works_an_alert_through_the_pages(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().expect("org").to_owned();
    let credit = serde_json::json!({"amount": 1_000_000});
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(app.post(&path, &app.operator().await, credit).await.0, StatusCode::OK);
    let terminal = Terminal::register(&app).await;
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &app.north_card()).await;
    // Three fills within the hour trip `rapid_refills` (review).
    for atc in 1..=3u16 {
        let answer = terminal
            .authorize(&app, &phone.qr(usize::from(atc / 4), atc, now_ms()), 5_000, false)
            .await;
        assert_eq!(answer["approved"], true, "{answer}");
    }

    let mut b = Browser::new(&app);
    b.login("fraud@forecourt.example").await;
    let home = b.get("/console").await;
    assert_eq!(home.location.as_deref(), Some("/console/alerts"));
    let queue = b.get("/console/alerts").await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    let card = app.north_card();
    let marker = format!("data-card=\"{card}\"");
    assert!(queue.body.contains(&marker) && queue.body.contains("rapid_refills"));
    let filtered = b.get(&format!("/console/alerts?rule_id=no_such_rule&org_id={org}")).await;
    assert!(!filtered.body.contains(&marker), "filters apply");
    assert_eq!(b.get("/console/alerts?org_id=nope").await.status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, api_queue) = app.get("/v1/alerts?rule_id=rapid_refills", &app.analyst().await).await;
    let alert = api_queue["alerts"][0]["id"].as_str().expect("alert").to_owned();
    let page = b.get(&format!("/console/alerts/{alert}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("fills_in_window") && page.body.contains("50.00 EUR"),
        "trace and money"
    );
    let alert_path = format!("/console/alerts/{alert}");
    assert_eq!(b.post(&format!("{alert_path}/take"), &[]).await.status, StatusCode::SEE_OTHER);
    let again = b.post(&format!("{alert_path}/take"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "taken already");
    // Shown on the alert page, in the actions box.
    let actions = again.body.find("id=\"actions\"").expect("actions");
    assert!(
        again.body[actions..].starts_with("id=\"actions\"><p class=\"form-error\""),
        "{}",
        &again.body[actions..]
    );
    let blank = b.post(&format!("{alert_path}/comment"), &[("body", "")]).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(blank.body.contains("id=\"alert-status\"") && blank.body.contains("form-error"));
    let comment = b
        .post(&format!("{alert_path}/comment"), &[("body", "called the fleet <b>owner</b>")])
        .await;
    assert_eq!(comment.status, StatusCode::SEE_OTHER);
    let page = b.get(&alert_path).await;
    assert!(page.body.contains("called the fleet &lt;b&gt;owner&lt;/b&gt;"), "escaped");
    let resolved = b
        .post(
            &format!("{alert_path}/resolve"),
            &[("resolution", "confirmed_fraud"), ("note", "stolen phone")],
        )
        .await;
    assert_eq!(resolved.status, StatusCode::SEE_OTHER, "{}", resolved.body);
    let (_, api_card) = app.get(&format!("/v1/cards/{card}"), &owner).await;
    assert_eq!(api_card["status"], "blocked");
    let (_, events) = app.get(&format!("/v1/cards/{card}/events"), &owner).await;
    assert!(events.as_array().expect("events").iter().any(|e| e["action"] == "card.blocked"));

    // The fleet's rules: shown with their stats, edited through the service.
    let rules = b.get(&format!("/console/rules?org_id={org}")).await;
    assert_eq!(rules.status, StatusCode::OK, "{}", rules.body);
    assert!(rules.body.contains("rapid_refills"));
    let edit = b
        .post(
            &format!("/console/rules/rapid_refills?org_id={org}"),
            &[
                ("mode", "shadow"),
                ("action", "review"),
                ("enabled", "true"),
                ("rule", r#"{"kind":"rapid_refills","max_fills":5,"window_secs":3600}"#),
            ],
        )
        .await;
    assert_eq!(edit.status, StatusCode::SEE_OTHER, "{}", edit.body);
    let bad = b
        .post(
            &format!("/console/rules/rapid_refills?org_id={org}"),
            &[
                ("mode", "shadow"),
                ("rule", r#"{"kind":"rapid_refills","max_fills":0,"window_secs":60}"#),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    // Next to that rule's form, with the JSON as typed.
    let section = bad.body.find("data-rule=\"rapid_refills\"").expect("rule section");
    let error = bad.body.find("class=\"form-error\"").expect("inline error");
    assert!(section < error && bad.body.contains("&quot;max_fills&quot;:0"), "{}", bad.body);
    let (_, api_rules) =
        app.get(&format!("/v1/fraud/rules?org_id={org}"), &app.analyst().await).await;
    let rule = api_rules
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == "rapid_refills")
        .expect("rule")
        .clone();
    assert_eq!(
        (rule["mode"].as_str(), rule["rule"]["max_fills"].as_i64()),
        (Some("shadow"), Some(5))
    );

    // Fleet users never reach the analysts' pages.
    let mut admin = Browser::new(&app);
    admin.login("owner@demo-taxi.example").await;
    assert_eq!(admin.get(&alert_path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        admin.get(&format!("/console/rules?org_id={org}")).await.status,
        StatusCode::FORBIDDEN
    );
}

/// The value of `attr="..."` in the first element carrying `marker`.
fn attr_after(body: &str, marker: &str, attr: &str) -> String {
    let at = body.find(marker).unwrap_or_else(|| panic!("{marker} not in page"));
    let rest = &body[at..];
    let key = format!("{attr}=\"");
    let start = rest.find(&key).expect("attribute") + key.len();
    rest[start..].split('"').next().expect("value").to_owned()
}

/// The text inside the element with this id (no nested tags).
fn text_of(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = body.find(&marker).unwrap_or_else(|| panic!("#{id} not in page"));
    let rest = &body[at..];
    let start = rest.find('>').expect("tag end") + 1;
    rest[start..].split('<').next().expect("text").to_owned()
}

fn user_in<'v>(list: &'v serde_json::Value, id: &str) -> &'v serde_json::Value {
    list.as_array().expect("list").iter().find(|u| u["id"] == id).expect("in the list")
}

async fn drivers_vehicles_and_depots_through_the_forms(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let admin = app.admin_north().await;
    let north = app.group_id("North depot").await;
    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;

    // Drivers: the list, the invite with its one-time token, edit, deactivate.
    let list = b.get("/console/drivers").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("Anna Driver") && !list.body.contains("Boris Driver"));
    assert!(list.body.contains("href=\"/console/drivers\""), "nav link");
    let invited = b
        .post(
            "/console/drivers",
            &[
                ("name", "Dmitri Driver"),
                ("email", "dmitri@demo-taxi.example"),
                ("group_id", &north),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
    assert_eq!(invited.cache_control.as_deref(), Some("no-store"), "the secret is not cached");
    assert_eq!(invited.location, None, "shown on the answer itself, never in a URL");
    let token = text_of(&invited.body, "invite-token");
    assert!(token.len() >= 32, "{token}");
    let driver = attr_after(&invited.body, "id=\"invited\"", "data-driver");
    // The token shown is the real invite: the driver sets a password with it.
    let accept = serde_json::json!({"invite_token": token, "password": "dmitri-password-1"});
    let (status, body) = app.call(Method::POST, "/v1/auth/accept-invite", None, Some(accept)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, users) = app.get("/v1/users?role=driver", &admin).await;
    assert_eq!(user_in(&users, &driver)["group_id"], north.as_str());
    assert_eq!(user_in(&users, &driver)["status"], "active");

    let found = b.get("/console/drivers?q=dmitri").await;
    assert!(found.body.contains(&driver) && !found.body.contains("Anna Driver"));
    let driver_path = format!("/console/drivers/{driver}");
    let renamed = b.post(&driver_path, &[("name", "Dmitri Renamed"), ("group_id", &north)]).await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    assert_eq!(renamed.location.as_deref(), Some(driver_path.as_str()));
    let (_, user) = app.get(&format!("/v1/users/{driver}"), &admin).await;
    assert_eq!(user["name"], "Dmitri Renamed");
    let off = b.post(&format!("{driver_path}/deactivate"), &[]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let (_, user) = app.get(&format!("/v1/users/{driver}"), &admin).await;
    assert_eq!(user["status"], "deactivated");
    let active = b.get("/console/drivers?state=active").await;
    assert!(!active.body.contains(&driver) && active.body.contains("Anna Driver"));
    let gone = b.get("/console/drivers?state=deactivated").await;
    assert!(gone.body.contains(&driver) && !gone.body.contains("Anna Driver"));
    // A second deactivation is the service's conflict, shown on the driver's page.
    let again = b.post(&format!("{driver_path}/deactivate"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("form-error") && again.body.contains("already deactivated"));

    // Vehicles: create, edit, deactivate.
    let made = b
        .post(
            "/console/vehicles",
            &[
                ("plate", "n-777"),
                ("products", "diesel"),
                ("products", "adblue"),
                ("tank_litres", "55.5"),
                ("group_id", &north),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let vehicle_path = made.location.expect("vehicle page");
    let vehicle = vehicle_path.rsplit('/').next().expect("id").to_owned();
    let (_, api) = app.get(&format!("/v1/vehicles/{vehicle}"), &admin).await;
    assert_eq!(api["plate"], "N-777");
    assert_eq!(api["tank_capacity_ml"], 55_500);
    assert_eq!(api["products"], serde_json::json!(["diesel", "adblue"]));
    let page = b.get(&vehicle_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(text_of(&page.body, "vehicle-tank-shown"), "55.5");
    let edited = b
        .post(
            &vehicle_path,
            &[
                ("plate", "N-778"),
                ("products", "diesel"),
                ("tank_litres", "60"),
                ("group_id", &north),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let (_, api) = app.get(&format!("/v1/vehicles/{vehicle}"), &admin).await;
    assert_eq!(
        (api["plate"].as_str(), api["tank_capacity_ml"].as_i64()),
        (Some("N-778"), Some(60_000))
    );
    assert_eq!(api["products"], serde_json::json!(["diesel"]));
    let listed = b.get("/console/vehicles?q=n-778").await;
    assert!(listed.body.contains(&vehicle) && !listed.body.contains("B-TX 101"));
    let off = b.post(&format!("{vehicle_path}/deactivate"), &[]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let (_, api) = app.get(&format!("/v1/vehicles/{vehicle}"), &admin).await;
    assert_eq!(api["status"], "deactivated");
    let gone = b.get("/console/vehicles?state=deactivated").await;
    assert!(gone.body.contains(&vehicle) && !gone.body.contains("B-TX 101"));

    // Depots: an admin creates one inside their own, renames it and deactivates it.
    let made = b.post("/console/groups", &[("name", "Night shift"), ("parent_id", &north)]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let group_path = made.location.expect("group page");
    let group = group_path.rsplit('/').next().expect("id").to_owned();
    let renamed = b.post(&group_path, &[("name", "Night shift North")]).await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
    let (_, api) = app.get(&format!("/v1/groups/{group}"), &admin).await;
    assert_eq!(
        (api["name"].as_str(), api["parent_id"].as_str()),
        (Some("Night shift North"), Some(north.as_str()))
    );
    let north_page = b.get(&format!("/console/groups/{north}")).await;
    assert!(north_page.body.contains("Anna Driver") && north_page.body.contains("B-TX 101"));
    assert!(b.get("/console/groups?q=night").await.body.contains(&group));
    let offered = format!("option value=\"{group}\"");
    assert!(b.get("/console/drivers").await.body.contains(&offered), "picker offers it");
    // A depot that still holds drivers and vehicles is refused beside the button, naming
    // what is left; nothing changes.
    let full = b.post(&format!("/console/groups/{north}/deactivate"), &[]).await;
    assert_eq!(full.status, StatusCode::CONFLICT, "{}", full.body);
    let at = full.body.find("id=\"deactivate\"").expect("deactivate panel");
    let refusal = &full.body[at..at + full.body[at..].find("</section>").expect("panel end")];
    assert!(refusal.contains("form-error") && refusal.contains("still holds"), "{refusal}");
    assert!(refusal.contains("1 active child group"), "{refusal}");
    let (_, api) = app.get(&format!("/v1/groups/{north}"), &admin).await;
    assert_eq!(api["status"], "active");
    let refused = b.send(Method::POST, &format!("{group_path}/deactivate"), Some(&[])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no CSRF token, no deactivation");
    let off = b.post(&format!("{group_path}/deactivate"), &[]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let (_, api) = app.get(&format!("/v1/groups/{group}"), &admin).await;
    assert_eq!(api["status"], "deactivated");
    let page = b.get(&group_path).await;
    assert!(
        !page.body.contains("deactivate-group")
            && page.body.contains("data-status=\"deactivated\"")
    );
    let active = b.get("/console/groups?state=active").await;
    assert!(!active.body.contains(&group) && active.body.contains(&north));
    let gone = b.get("/console/groups?state=deactivated").await;
    assert!(gone.body.contains(&group) && !gone.body.contains(&format!("data-group=\"{north}\"")));
    for picker in ["/console/drivers", "/console/vehicles", "/console/cards", "/console/groups"] {
        assert!(!b.get(picker).await.body.contains(&offered), "{picker} no longer offers it");
    }

    // Without the CSRF token nothing is created.
    let before = app.count("/v1/users?role=driver", &admin).await;
    let fields =
        [("name", "Eve"), ("email", "eve@demo-taxi.example"), ("group_id", north.as_str())];
    let refused = b.send(Method::POST, "/console/drivers", Some(&fields)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = b.send(Method::POST, &format!("{driver_path}/deactivate"), Some(&[])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = b.send(Method::POST, "/console/vehicles", Some(&[("plate", "X-1")])).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("/v1/users?role=driver", &admin).await, before);

    // Russian, refusals included: translated by their code, the service's own words (with
    // the counts) beside them.
    b.post("/console/lang", &[("lang", "ru"), ("next", "/console/drivers")]).await;
    assert!(b.get("/console/drivers").await.body.contains("Пригласить водителя"));
    let full = b.post(&format!("/console/groups/{north}/deactivate"), &[]).await;
    assert_eq!(full.status, StatusCode::CONFLICT);
    assert!(full.body.contains("В депо ещё есть вложенные депо"), "{}", full.body);
    assert!(full.body.contains("<span class=\"muted\" lang=\"en\">(the group still holds"));
    let bad = b
        .post(
            "/console/drivers",
            &[("name", "Eve"), ("email", "not-an-email"), ("group_id", &north)],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("«email»: недопустимое значение"), "{}", bad.body);
    let typed = b.post(&format!("/console/drivers/{driver}/limits"), &[("daily", "1.234")]).await;
    assert!(typed.body.contains("«daily»: недопустимое значение"), "{}", typed.body);
}

async fn directory_pages_keep_to_the_admins_depots(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let boris = app.user_id_by_email("boris@demo-taxi.example").await;
    let south = app.group_id("South depot").await;
    let (_, vehicles) = app.get("/v1/vehicles", &owner).await;
    let south_vehicle = vehicles
        .as_array()
        .expect("vehicles")
        .iter()
        .find(|x| x["plate"] == "B-TX 202")
        .expect("south vehicle")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let made_up = "01a208b1-e96b-75c5-9fd4-000000000000";
    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;
    for (kind, id) in [("drivers", &boris), ("vehicles", &south_vehicle), ("groups", &south)] {
        let other = b.get(&format!("/console/{kind}/{id}")).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{kind}");
        let guessed = b.get(&format!("/console/{kind}/{made_up}")).await;
        assert_eq!(guessed.status, StatusCode::NOT_FOUND, "{kind}");
        assert_eq!(
            other.body.replace(id.as_str(), ""),
            guessed.body.replace(made_up, ""),
            "{kind}: out of scope looks like absent"
        );
        assert!(!other.body.contains("Boris") && !other.body.contains("B-TX 202"));
        let list = b.get(&format!("/console/{kind}")).await;
        assert!(!list.body.contains(id.as_str()), "{kind}: not listed");
    }
    let post = b.post(&format!("/console/drivers/{boris}/deactivate"), &[]).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    let rename = b.post(&format!("/console/drivers/{boris}"), &[("name", "Hacked")]).await;
    assert_eq!(rename.status, StatusCode::NOT_FOUND);
    let post = b.post(&format!("/console/vehicles/{south_vehicle}/deactivate"), &[]).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    let post = b.post(&format!("/console/groups/{south}/deactivate"), &[]).await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    let (_, user) = app.get(&format!("/v1/users/{boris}"), &owner).await;
    assert_eq!(
        (user["status"].as_str(), user["name"].as_str()),
        (Some("active"), Some("Boris Driver"))
    );
    let (_, vehicle) = app.get(&format!("/v1/vehicles/{south_vehicle}"), &owner).await;
    assert_eq!(vehicle["status"], "active");
    // An admin may not invite into another depot: the service refuses, inline.
    let into_south = b
        .post(
            "/console/drivers",
            &[("name", "Sly"), ("email", "sly@demo-taxi.example"), ("group_id", &south)],
        )
        .await;
    assert!(into_south.status.is_client_error(), "{}", into_south.status);
    assert!(!into_south.body.contains("invite-token"));
    // The owner's id is not a driver: the drivers page is a 404 for it.
    let mut o = Browser::new(&app);
    o.login("owner@demo-taxi.example").await;
    let admin_id = app.user_id_by_email("admin.north@demo-taxi.example").await;
    assert_eq!(o.get(&format!("/console/drivers/{admin_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(o.get(&format!("/console/drivers/{boris}")).await.status, StatusCode::OK);
}

async fn refused_forms_re_render_with_the_error(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let north = app.group_id("North depot").await;
    let mut b = Browser::new(&app);
    b.login("owner@demo-taxi.example").await;
    let bad = b
        .post(
            "/console/drivers",
            &[("name", "Typed Name"), ("email", "not-an-email"), ("group_id", &north)],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(
        bad.body.contains("class=\"form-error\"") && bad.body.contains("email:"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("value=\"Typed Name\""), "what was typed is kept");
    assert!(bad.body.contains("id=\"drivers\""), "the list page itself, not an error page");
    let no_products = b
        .post("/console/vehicles", &[("plate", "X-1"), ("tank_litres", "50"), ("group_id", &north)])
        .await;
    assert_eq!(no_products.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_products.body.contains("form-error") && no_products.body.contains("products"));
    let tank = b
        .post(
            "/console/vehicles",
            &[
                ("plate", "X-1"),
                ("products", "diesel"),
                ("tank_litres", "fifty"),
                ("group_id", &north),
            ],
        )
        .await;
    assert_eq!(tank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(tank.body.contains("tank_litres"));
    let blank = b.post(&format!("/console/groups/{north}"), &[("name", "")]).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(blank.body.contains("form-error") && blank.body.contains("name"));
    let card = app.north_card();
    let limits = b.post(&format!("/console/cards/{card}/limits"), &[("daily", "12.345")]).await;
    assert_eq!(limits.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        limits.body.contains("form-error") && limits.body.contains("daily: not a valid amount")
    );
    assert!(limits.body.contains("id=\"card-status\"") && limits.body.contains("value=\"12.345\""));
    let (_, controls) = app.get(&format!("/v1/cards/{card}/controls"), &app.owner().await).await;
    assert!(controls["controls"]["daily"]["amount"].is_null(), "nothing saved: {controls}");
    // The issue form on the cards page: the choices made are kept.
    let before = app.count("/v1/cards", &app.owner().await).await;
    let issue =
        b.post("/console/cards", &[("group_id", &north), ("driver_id", "not-a-uuid")]).await;
    assert_eq!(issue.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(issue.body.contains("id=\"cards\"") && issue.body.contains("form-error"));
    assert!(issue.body.contains(&format!("value=\"{north}\" selected")), "choice kept");
    assert_eq!(app.count("/v1/cards", &app.owner().await).await, before);
    // The bind and status forms on the card page too.
    for (form, fields, message) in [
        ("binding", vec![("driver_id", "not-a-uuid")], "driver_id: must be a UUID"),
        ("status", vec![("status", "melted"), ("reason", "x")], "unknown card status"),
    ] {
        let page = b.post(&format!("/console/cards/{card}/{form}"), &fields).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{form}");
        assert!(page.body.contains("id=\"card-status\""), "{form}: the card page itself");
        let error = page.body.find("class=\"form-error\"").expect("inline error");
        let own_form =
            page.body.find(&format!("action=\"/console/cards/{card}/{form}\"")).expect("form");
        assert!(
            own_form < error && page.body[error..].contains(message),
            "{form}: next to its form"
        );
    }
}

async fn limits_left_after_a_real_fill(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().expect("org").to_owned();
    let credit = serde_json::json!({"amount": 1_000_000});
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(app.post(&path, &app.operator().await, credit).await.0, StatusCode::OK);
    let card = app.north_card();
    let card_path = format!("/console/cards/{card}");
    let mut b = Browser::new(&app);
    b.login("owner@demo-taxi.example").await;
    let limits = b
        .post(
            &format!("{card_path}/limits"),
            &[
                ("daily", "300.00"),
                ("daily_count", "5"),
                ("weekly", "1000"),
                ("monthly", "2000"),
                ("daily_litres", "80.5"),
            ],
        )
        .await;
    assert_eq!(limits.status, StatusCode::SEE_OTHER, "{}", limits.body);
    let before = b.get(&card_path).await;
    assert!(before
        .body
        .contains(r#"data-measure="amount" data-used="0" data-limit="30000" data-left="30000""#));

    let terminal = Terminal::register(&app).await;
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &card).await;
    let answer = terminal.authorize(&app, &phone.qr(0, 1, now_ms()), 5_000, false).await;
    assert_eq!(answer["approved"], true, "{answer}");

    // The service's numbers: limit minus the 50.00 fill, per period.
    let page = b.get(&card_path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for (limit, left) in [(30_000, 25_000), (100_000, 95_000), (200_000, 195_000)] {
        let row = format!(
            r#"data-measure="amount" data-used="5000" data-limit="{limit}" data-left="{left}""#
        );
        assert!(page.body.contains(&row), "{row}");
    }
    assert!(page
        .body
        .contains(r#"data-measure="count" data-used="1" data-limit="5" data-left="4""#));
    let (_, controls) = app.get(&format!("/v1/cards/{card}/controls"), &owner).await;
    assert_eq!(controls["controls"]["daily"]["volume_ml"], 80_500, "litres read as ml");
    assert!(page.body.contains("80.500 l"), "the effective volume limit");
    // The fill's volume counts against the daily volume limit.
    let day_volume = attr_after(&page.body, r#"data-measure="volume_ml""#, "data-used");
    let used: i64 = day_volume.parse().expect("number");
    assert!(used > 0, "the fill has a volume");
    assert!(
        page.body.contains(&format!(
            r#"data-measure="volume_ml" data-used="{used}" data-limit="80500" data-left="{}""#,
            80_500 - used
        )),
        "{used}"
    );
    assert!(page.body.contains("250.00 EUR") && page.body.contains("<meter"));
    let day = page.body.find(r#"data-period="day""#).expect("day");
    let week = page.body.find(r#"data-period="week""#).expect("week");
    assert!(day < week && page.body[day..week].contains(r#"data-left="25000""#));
}

async fn the_card_products_and_stations_form(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let card = app.north_card();
    let card_path = format!("/console/cards/{card}");
    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;
    let limits = b.post(&format!("{card_path}/limits"), &[("daily", "80")]).await;
    assert_eq!(limits.status, StatusCode::SEE_OTHER, "{}", limits.body);
    let saved = b
        .post(
            &format!("{card_path}/restrictions"),
            &[
                ("products", "diesel"),
                ("products", "adblue"),
                ("allowed_stations", "st-1, st-2"),
                ("blocked_stations", "st-9"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, controls) = app.get(&format!("/v1/cards/{card}/controls"), &owner).await;
    let c = &controls["controls"];
    let mut products: Vec<&str> = c["allowed_products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    products.sort_unstable();
    assert_eq!(products, ["adblue", "diesel"]);
    assert_eq!(c["allowed_stations"], serde_json::json!(["st-1", "st-2"]));
    assert_eq!(c["blocked_stations"], serde_json::json!(["st-9"]));
    assert_eq!(c["daily"]["amount"], 8_000, "the limits are kept");
    let page = b.get(&card_path).await;
    assert!(page.body.contains("value=\"st-1, st-2\""));

    // A station in both lists: the service's 422, next to the form, the typed values kept.
    let both = b
        .post(
            &format!("{card_path}/restrictions"),
            &[("products", "diesel"), ("allowed_stations", "st-1"), ("blocked_stations", "st-1")],
        )
        .await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(both.body.contains("form-error") && both.body.contains("also in allowed_stations"));
    assert!(both.body.contains("value=\"st-1\""));
    let (_, after) = app.get(&format!("/v1/cards/{card}/controls"), &owner).await;
    assert_eq!(after["controls"]["allowed_stations"], serde_json::json!(["st-1", "st-2"]));

    // Nothing ticked, blank lists: the card level sets none.
    let cleared = b
        .post(
            &format!("{card_path}/restrictions"),
            &[("allowed_stations", ""), ("blocked_stations", "")],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    let (_, after) = app.get(&format!("/v1/cards/{card}/controls"), &owner).await;
    assert!(after["controls"]["allowed_products"].is_null(), "{after}");
    assert!(after["controls"]["allowed_stations"].is_null(), "{after}");
    assert_eq!(after["controls"]["daily"]["amount"], 8_000);
    // Out of scope is the 404 page, and changes nothing.
    let south = b
        .post(&format!("/console/cards/{}/restrictions", app.south_card()), &[("products", "lpg")])
        .await;
    assert_eq!(south.status, StatusCode::NOT_FOUND);
}

async fn the_alert_page_lists_alerts_by_driver_and_station(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().expect("org").to_owned();
    let credit = serde_json::json!({"amount": 1_000_000});
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(app.post(&path, &app.operator().await, credit).await.0, StatusCode::OK);
    let anna_id = app.user_id_by_email("anna@demo-taxi.example").await;
    let north = app.group_id("North depot").await;
    let (status, second) = app
        .post("/v1/cards", &owner, serde_json::json!({"group_id": north, "driver_id": anna_id}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["id"].as_str().expect("card").to_owned();
    let first = app.north_card();
    // Three fills within the hour on each of Anna's two cards, at one station: each card
    // trips `rapid_refills`.
    let terminal = Terminal::register(&app).await;
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    for card in [&first, &second] {
        phone.provision(&app, &anna, card).await;
        for atc in 1..=3u16 {
            let answer = terminal.authorize(&app, &phone.qr(0, atc, now_ms()), 2_000, false).await;
            assert_eq!(answer["approved"], true, "{answer}");
        }
    }
    let (_, queue) = app.get("/v1/alerts?rule_id=rapid_refills", &app.analyst().await).await;
    let alert_on = |card: &str| {
        queue["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .find(|a| a["card_id"] == card)
            .unwrap_or_else(|| panic!("an alert on {card}: {queue}"))["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (on_first, on_second) = (alert_on(&first), alert_on(&second));

    let mut b = Browser::new(&app);
    b.login("fraud@forecourt.example").await;
    let page = b.get(&format!("/console/alerts/{on_first}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let driver_at = page.body.find("id=\"related-driver\"").expect("driver section");
    let station_at = page.body.find("id=\"related-station\"").expect("station section");
    let end = page.body.find("id=\"recent-fills\"").expect("fills section");
    let by_driver = &page.body[driver_at..station_at];
    let by_station = &page.body[station_at..end];
    assert!(by_driver.contains(&format!("data-driver=\"{anna_id}\"")), "{by_driver}");
    let second_row = format!("data-alert=\"{on_second}\"");
    assert!(by_driver.contains(&second_row), "{by_driver}");
    assert!(by_station.contains(&second_row), "{by_station}");
    assert!(!by_driver.contains(&format!("data-card=\"{first}\"")), "same card listed above");

    // Unbound since: the driver of the fill is no longer known, and the page says so.
    let mut owner_browser = Browser::new(&app);
    owner_browser.login("owner@demo-taxi.example").await;
    let unbound = owner_browser
        .post(&format!("/console/cards/{second}/binding"), &[("driver_id", ""), ("vehicle_id", "")])
        .await;
    assert_eq!(unbound.status, StatusCode::SEE_OTHER, "{}", unbound.body);
    let page = b.get(&format!("/console/alerts/{on_second}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-driver=\"\"") && page.body.contains("is not known"));
    let station_at = page.body.find("id=\"related-station\"").expect("station section");
    assert!(page.body[station_at..].contains(&format!("data-alert=\"{on_first}\"")));

    // Fleet users never reach it.
    assert_eq!(
        owner_browser.get(&format!("/console/alerts/{on_first}")).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn the_language_follows_the_user_to_another_browser(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let email = "admin.north@demo-taxi.example";
    let mut first = Browser::new(&app);
    first.login(email).await;
    let dash = first.get("/console").await;
    assert!(dash.body.contains("lang=\"en\""), "English by default");

    // Switching while signed in stores the choice on the user.
    let switched = first.post("/console/lang", &[("lang", "ru"), ("next", "/console/cards")]).await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.body);
    let token = app.admin_north().await;
    assert_eq!(app.get("/v1/me", &token).await.1["language"], "ru");

    // A fresh browser (no cookies at all): after login the pages are Russian.
    let mut second = Browser::new(&app);
    second.get("/console/login").await;
    assert!(!second.cookies.contains_key("fc_lang"));
    second.login(email).await;
    assert_eq!(second.cookies.get("fc_lang").map(String::as_str), Some("ru"));
    let page = second.get("/console/cards").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("lang=\"ru\"") && page.body.contains("Карты"), "{}", page.body);

    // A switch before signing in is this browser's only: the login brings the user's.
    let mut third = Browser::new(&app);
    third.get("/console/login").await;
    third.post("/console/lang", &[("lang", "en"), ("next", "/console/login")]).await;
    assert_eq!(app.get("/v1/me", &token).await.1["language"], "ru", "anonymous switch");
    third.login(email).await;
    assert!(third.get("/console").await.body.contains("lang=\"ru\""));

    // Back to English from the second browser: the next fresh login is English.
    second.post("/console/lang", &[("lang", "en"), ("next", "/console")]).await;
    let mut fourth = Browser::new(&app);
    fourth.login(email).await;
    assert!(fourth.get("/console").await.body.contains("lang=\"en\""));
    // The other user was never touched.
    let owner = app.owner().await;
    assert_eq!(app.get("/v1/me", &owner).await.1["language"], "en");
}

async fn the_dashboard_counts_the_fleets_days(backend: Backend) {
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().expect("org").to_owned();
    let credit = serde_json::json!({"amount": 1_000_000});
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(app.post(&path, &app.operator().await, credit).await.0, StatusCode::OK);

    // One completed 40.00 fill, now.
    let card = app.north_card();
    let terminal = Terminal::register(&app).await;
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &card).await;
    let answer = terminal.authorize(&app, &phone.qr(0, 1, now_ms()), 5_000, false).await;
    assert_eq!(answer["approved"], true, "{answer}");
    let id = answer["authorization_id"].as_str().expect("id");
    let body = serde_json::json!({"amount": 4_000, "volume_ml": 22_000, "product": "diesel"});
    let done = format!("/v1/terminal/authorizations/{id}/completion");
    assert_eq!(terminal.send(&app, &done, &body).await.0, StatusCode::OK);
    let (_, fills) = app.get("/v1/authorizations", &owner).await;
    let created = fills[0]["created_at"].as_str().expect("created_at");
    let at = OffsetDateTime::parse(created, &Rfc3339).expect("rfc3339");

    // A zone whose date differs from UTC's at this instant, chosen from the fill's own
    // time (so the test never depends on when it runs): both zones have no daylight
    // saving, their offsets are fixed. Kiritimati is UTC+14 (a day ahead from 10:00 UTC),
    // Pago Pago UTC-11 (a day behind before 11:00 UTC); neither has a midnight near the fill.
    let (zone, offset) = if at.hour() >= 10 {
        ("Pacific/Kiritimati", UtcOffset::from_hms(14, 0, 0).expect("offset"))
    } else {
        ("Pacific/Pago_Pago", UtcOffset::from_hms(-11, 0, 0).expect("offset"))
    };
    let local_day = at.to_offset(offset).date();
    let utc_day = at.date();
    assert_ne!(local_day, utc_day, "the case the test is about");
    let tz = serde_json::json!({"time_zone": zone});
    let (status, body) = app.patch(&format!("/v1/orgs/{org}"), &owner, tz).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut b = Browser::new(&app);
    b.login("owner@demo-taxi.example").await;
    let dash = b.get("/console").await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
    // The chart's bar of the fleet's day holds the fill; the UTC day's bar (when it is on
    // the chart) does not, and the axis ends on the fleet's today.
    assert!(dash.body.contains(&format!("{local_day}: 40.00 EUR")), "{}", dash.body);
    assert!(!dash.body.contains(&format!("{utc_day}: 40.00 EUR")));
    assert!(dash.body.contains(&format!("<span>{local_day}</span></div>")), "axis ends today");
    let today = section(&dash.body, "id=\"spent-today\"");
    assert!(today.contains("40.00 EUR"), "{today}");
    let month = section(&dash.body, "id=\"spent-month\"");
    assert!(month.contains("40.00 EUR"), "{month}");
}

/// Spend today is a sum over every completed fill, not over a page of them: 250 copies of
/// one real 40.00 fill (more than the 200 a listing returns) all count; a reversal and a fill
/// 40 days old do not; South's fills count for the owner and not for North's admin.
async fn the_dashboard_sums_every_fill_in_scope(backend: Backend) {
    use sqlx::Connection;
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().expect("org").to_owned();
    let credit = serde_json::json!({"amount": 1_000_000});
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(app.post(&path, &app.operator().await, credit).await.0, StatusCode::OK);
    let terminal = Terminal::register(&app).await;
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &app.north_card()).await;
    let answer = terminal.authorize(&app, &phone.qr(0, 1, now_ms()), 5_000, false).await;
    assert_eq!(answer["approved"], true, "{answer}");
    let id = answer["authorization_id"].as_str().expect("id").to_owned();
    let body = serde_json::json!({"amount": 4_000, "volume_ml": 22_000, "product": "diesel"});
    let done = format!("/v1/terminal/authorizations/{id}/completion");
    assert_eq!(terminal.send(&app, &done, &body).await.0, StatusCode::OK);

    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("connect");
    let forty_days_us: i64 = 40 * 86_400 * 1_000_000;
    let copies = (0..250)
        .map(|n| (n, "completed", app.north_card(), 0))
        .chain((250..255).map(|n| (n, "completed", app.south_card(), 0)))
        .chain([
            (255, "reversed", app.north_card(), 0),
            (256, "completed", app.north_card(), forty_days_us),
        ]);
    for (n, status, card, age_us) in copies {
        sqlx::query(COPY_FILL_SQL)
            // A valid UUID (the store parses ids): the fill's own with a new tail.
            .bind(format!("{}{:012x}", &id[..24], 0xc0_ffee_0000_u64 + n))
            .bind(card)
            .bind(format!("copy-{n}"))
            .bind(status)
            .bind(age_us)
            .bind(id.as_str())
            .execute(&mut db)
            .await
            .expect("copy the fill");
    }
    let listed = app.get("/v1/authorizations?status=completed", &owner).await.1;
    assert_eq!(listed.as_array().map(Vec::len), Some(200), "more than a listing returns: {listed}");

    let spent = |who: &'static str| {
        let app = &app;
        async move {
            let mut b = Browser::new(app);
            b.login(who).await;
            let dash = b.get("/console").await;
            assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
            let today = section(&dash.body, "id=\"spent-today\"").to_owned();
            let month = section(&dash.body, "id=\"spent-month\"").to_owned();
            (today, month)
        }
    };
    // The real fill and 250 copies on North, 5 on South: 256 × 40.00 for the owner.
    let (today, month) = spent("owner@demo-taxi.example").await;
    assert!(today.contains("10240.00 EUR"), "{today}");
    assert!(month.contains("10240.00 EUR"), "{month}");
    let (today, _) = spent("admin.north@demo-taxi.example").await;
    assert!(today.contains("10040.00 EUR"), "North only: {today}");
}

/// The driver, vehicle and depot pages edit that level's own limits (counts per week and
/// month included), keep what the form does not show, and the card page names the level
/// each effective limit comes from.
async fn limits_at_driver_vehicle_and_depot_level(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let card = app.north_card();
    let (_, api) = app.get(&format!("/v1/cards/{card}"), &owner).await;
    let field = |name: &str| api[name].as_str().expect(name).to_owned();
    let (driver, group) = (field("driver_id"), field("group_id"));
    let (_, vehicles) = app.get("/v1/vehicles", &owner).await;
    let vehicle = vehicles
        .as_array()
        .expect("vehicles")
        .iter()
        .find(|x| x["plate"] == "B-TX 101")
        .expect("north vehicle")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // A product restriction set through the API at depot level survives the form.
    let products = serde_json::json!({"allowed_products": ["diesel", "adblue"]});
    let (status, body) = app.put(&format!("/v1/groups/{group}/controls"), &owner, products).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;
    let levels = [("drivers", &driver), ("vehicles", &vehicle), ("groups", &group)];
    for (kind, id) in levels {
        let page = b.get(&format!("/console/{kind}/{id}")).await;
        assert_eq!(page.status, StatusCode::OK, "{kind}: {}", page.body);
        assert!(page.body.contains(&format!("action=\"/console/{kind}/{id}/limits\"")), "{kind}");
        assert!(page.body.contains("name=\"weekly_count\""), "{kind}: weekly count editable");
    }
    let saved = b
        .post(
            &format!("/console/drivers/{driver}/limits"),
            &[
                ("daily", "120.50"),
                ("weekly_count", "9"),
                ("monthly_count", "30"),
                ("daily_litres", "80.5"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let saved = b
        .post(&format!("/console/vehicles/{vehicle}/limits"), &[("per_authorization", "70")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    // North is the admin's own depot: the owner caps it, so the admin sees it read-only.
    let own_depot = b.get(&format!("/console/groups/{group}")).await;
    assert!(own_depot.body.contains("limits-locked") && !own_depot.body.contains("save-limits"));
    let mut o = Browser::new(&app);
    o.login("owner@demo-taxi.example").await;
    let saved = o.post(&format!("/console/groups/{group}/limits"), &[("monthly", "5000")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);

    let (_, d) = app.get(&format!("/v1/drivers/{driver}/controls"), &owner).await;
    let d = &d["controls"];
    assert_eq!(
        (d["daily"]["amount"].as_i64(), d["daily"]["volume_ml"].as_i64()),
        (Some(12_050), Some(80_500))
    );
    assert_eq!(
        (d["weekly"]["count"].as_i64(), d["monthly"]["count"].as_i64()),
        (Some(9), Some(30))
    );
    assert!(d["weekly"]["amount"].is_null() && d["per_authorization"].is_null(), "{d}");
    let (_, x) = app.get(&format!("/v1/vehicles/{vehicle}/controls"), &owner).await;
    assert_eq!(x["controls"]["per_authorization"]["amount"], 7_000);
    let (_, g) = app.get(&format!("/v1/groups/{group}/controls"), &owner).await;
    assert_eq!(g["controls"]["monthly"]["amount"], 500_000);
    assert_eq!(g["controls"]["allowed_products"], serde_json::json!(["diesel", "adblue"]), "kept");

    // The forms show what is stored; the card page says where each limit comes from.
    let page = b.get(&format!("/console/drivers/{driver}")).await;
    assert_eq!(attr_after(&page.body, "id=\"limit-daily\"", "value"), "120.50");
    assert_eq!(attr_after(&page.body, "id=\"limit-weekly-count\"", "value"), "9");
    let (_, eff) = app.get(&format!("/v1/cards/{card}/controls/effective"), &owner).await;
    assert_eq!(eff["effective"]["daily"]["amount"]["value"], 12_050, "{eff}");
    let card_page = b.get(&format!("/console/cards/{card}")).await;
    let controls = &card_page.body[card_page.body.find("id=\"controls\"").expect("controls")..];
    let controls = &controls[..controls.find("</section>").expect("end")];
    assert!(
        controls.contains("120.50 EUR") && controls.contains("driver · Anna Driver"),
        "{controls}"
    );
    assert!(
        controls.contains("70.00 EUR") && controls.contains("vehicle · B-TX 101"),
        "{controls}"
    );
    assert!(
        controls.contains("5000.00 EUR") && controls.contains("group · North depot"),
        "{controls}"
    );

    // A bad value is refused next to the limits form, typed values kept, nothing saved.
    let bad = b
        .post(
            &format!("/console/drivers/{driver}/limits"),
            &[("daily", "1.234"), ("weekly_count", "x")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    let panel = &bad.body[bad.body.find("id=\"limits\"").expect("limits panel")..];
    assert!(panel[..panel.find("</section>").expect("end")].contains("form-error"), "{panel}");
    assert_eq!(attr_after(&bad.body, "id=\"limit-daily\"", "value"), "1.234");
    let (_, d) = app.get(&format!("/v1/drivers/{driver}/controls"), &owner).await;
    assert_eq!(d["controls"]["daily"]["amount"], 12_050);

    // Another depot's levels are the 404 page; no CSRF token, no change.
    let south = app.group_id("South depot").await;
    let boris = app.user_id_by_email("boris@demo-taxi.example").await;
    for path in
        [format!("/console/groups/{south}/limits"), format!("/console/drivers/{boris}/limits")]
    {
        assert_eq!(b.post(&path, &[("daily", "1")]).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, s) = app.get(&format!("/v1/groups/{south}/controls"), &owner).await;
    assert!(s["controls"]["daily"].is_null(), "{s}");
    let forged = b
        .send(Method::POST, &format!("/console/groups/{group}/limits"), Some(&[("monthly", "1")]))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

/// Copies a fill row under a new id, card, STAN and status, `$5` microseconds earlier.
const COPY_FILL_SQL: &str = "INSERT INTO authorizations (id, org_id, card_id, token_id, \
     terminal_id, station_id, stan, transmitted_at, request_hash, entry_mode, status, \
     response_code, reason, requested_amount, approved_amount, approved_volume_ml, \
     held_amount, final_amount, final_volume_ml, product, period_day, period_week, \
     period_month, hold_expires_us, created_us, settled_us, response, trace, version) \
     SELECT $1, org_id, $2, token_id, terminal_id, station_id, $3, transmitted_at, \
     request_hash, entry_mode, $4, response_code, reason, requested_amount, approved_amount, \
     approved_volume_ml, held_amount, CASE WHEN $4 = 'completed' THEN final_amount END, \
     final_volume_ml, product, period_day, period_week, period_month, hold_expires_us, \
     created_us - $5, settled_us, response, trace, version FROM authorizations WHERE id = $6";

/// The markup of a dashboard panel: from `marker` to the panel's end.
fn section<'b>(body: &'b str, marker: &str) -> &'b str {
    let start = body.find(marker).expect(marker);
    let len = body[start..].find("</div></div>").expect("panel end");
    &body[start..start + len]
}

async fn the_card_time_windows_form(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let card = app.north_card();
    let card_path = format!("/console/cards/{card}");
    let windows_path = format!("{card_path}/windows");
    let controls_path = format!("/v1/cards/{card}/controls");
    let mut b = Browser::new(&app);
    b.login("admin.north@demo-taxi.example").await;
    let limits = b.post(&format!("{card_path}/limits"), &[("daily", "80")]).await;
    assert_eq!(limits.status, StatusCode::SEE_OTHER, "{}", limits.body);
    let page = b.get(&card_path).await;
    assert!(page.body.contains("name=\"start_0\"") && !page.body.contains("name=\"start_1\""));

    let saved = b
        .post(
            &windows_path,
            &[("days_0", "mon"), ("days_0", "tue"), ("start_0", "06:00"), ("end_0", "22:00")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, controls) = app.get(&controls_path, &owner).await;
    let c = &controls["controls"];
    assert_eq!(
        c["time_windows"],
        serde_json::json!([{"days": ["mon", "tue"], "start": "06:00", "end": "22:00"}])
    );
    assert_eq!(c["daily"]["amount"], 8_000, "the limits are kept");
    // The form shows the stored window and an empty row to add another.
    let page = b.get(&card_path).await;
    assert!(page.body.contains(r#"name="days_0" value="mon" checked"#), "{}", page.body);
    assert!(!page.body.contains(r#"name="days_0" value="wed" checked"#));
    assert!(page.body.contains(r#"name="start_0" placeholder="06:00" value="06:00""#));
    assert!(page.body.contains(r#"name="end_0" placeholder="22:00" value="22:00""#));
    assert!(page.body.contains(r#"name="start_1" placeholder="06:00" value="""#));

    // A second window, over midnight on Saturday.
    let two = b
        .post(
            &windows_path,
            &[
                ("days_0", "mon"),
                ("days_0", "tue"),
                ("start_0", "06:00"),
                ("end_0", "22:00"),
                ("days_1", "sat"),
                ("start_1", "22:00"),
                ("end_1", "02:00"),
            ],
        )
        .await;
    assert_eq!(two.status, StatusCode::SEE_OTHER, "{}", two.body);
    let (_, controls) = app.get(&controls_path, &owner).await;
    let stored = controls["controls"]["time_windows"].clone();
    assert_eq!(stored[1], serde_json::json!({"days": ["sat"], "start": "22:00", "end": "02:00"}));
    assert_eq!(stored.as_array().map(Vec::len), Some(2));

    // Refusals re-render the card page with the message next to this form, the values
    // typed kept, and change nothing: a time the console cannot read, then the service's
    // refusals (no day; start equal to end).
    let typo =
        b.post(&windows_path, &[("days_0", "mon"), ("start_0", "6:00"), ("end_0", "22:00")]).await;
    assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
    let form = windows_section(&typo.body);
    assert!(
        form.contains("form-error") && form.contains("window 1: from must be a time"),
        "{form}"
    );
    assert!(form.contains(r#"value="6:00""#), "typed value kept");
    let no_day = b.post(&windows_path, &[("start_0", "06:00"), ("end_0", "22:00")]).await;
    assert_eq!(no_day.status, StatusCode::UNPROCESSABLE_ENTITY);
    let form = windows_section(&no_day.body);
    assert!(form.contains("form-error") && form.contains("at least one day"), "{form}");
    let same =
        b.post(&windows_path, &[("days_0", "sun"), ("start_0", "08:00"), ("end_0", "08:00")]).await;
    assert_eq!(same.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(windows_section(&same.body).contains("must differ from start"));
    let (_, controls) = app.get(&controls_path, &owner).await;
    assert_eq!(controls["controls"]["time_windows"], stored, "refusals changed nothing");

    // Every row blank: the card level sets no windows; the limits are kept.
    let cleared = b.post(&windows_path, &[("start_0", ""), ("end_0", "")]).await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    let (_, controls) = app.get(&controls_path, &owner).await;
    assert!(controls["controls"]["time_windows"].is_null(), "{controls}");
    assert_eq!(controls["controls"]["daily"]["amount"], 8_000);

    // Another depot's card is the 404 page and changes nothing; no CSRF token is a 403.
    let south = format!("/console/cards/{}/windows", app.south_card());
    let refused =
        b.post(&south, &[("days_0", "mon"), ("start_0", "06:00"), ("end_0", "07:00")]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let (_, controls) = app.get(&format!("/v1/cards/{}/controls", app.south_card()), &owner).await;
    assert!(controls["controls"]["time_windows"].is_null(), "{controls}");
    let forged = b.send(Method::POST, &windows_path, Some(&[("days_0", "mon")])).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // In Russian the form is translated.
    b.post("/console/lang", &[("lang", "ru"), ("next", &card_path)]).await;
    let ru = b.get(&card_path).await;
    assert!(ru.body.contains("Окна времени карты") && ru.body.contains(">Пн<"), "{}", ru.body);
}

/// The card page's windows section.
fn windows_section(body: &str) -> &str {
    let start = body.find("id=\"windows\"").expect("windows section");
    let len = body[start..].find("</section>").expect("section end");
    &body[start..start + len]
}

async fn an_impossible_travel_alert_shows_both_stations_distance_and_speed(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else { return };
    let owner = app.owner().await;
    let (_, me) = app.get("/v1/me", &owner).await;
    let org = me["org_id"].as_str().expect("org").to_owned();
    let credit = serde_json::json!({"amount": 1_000_000});
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(app.post(&path, &app.operator().await, credit).await.0, StatusCode::OK);
    // Autohof Nord is in Hamburg; a second station in Munich, 612 km away.
    let hamburg = Terminal::register(&app).await;
    let operator = app.operator().await;
    let station = serde_json::json!({"name": "Rasthof Muenchen", "merchant_id": "M-4004",
        "lat_e6": 48_137_154, "lon_e6": 11_576_124, "time_zone": "Europe/Berlin",
        "products": ["diesel"]});
    let (status, station) = app.post("/v1/stations", &operator, station).await;
    assert_eq!(status, StatusCode::CREATED, "{station}");
    let munich_station = station["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/stations/{munich_station}/terminals");
    let (status, created) = app.post(&path, &operator, serde_json::json!({"label": "Pump"})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let munich = Terminal {
        id: created["terminal"]["id"].as_str().expect("terminal").to_owned(),
        station_id: munich_station.clone(),
        secret: hex::decode(created["secret"].as_str().expect("secret"))
            .expect("hex")
            .try_into()
            .expect("32 bytes"),
    };
    // Two fills on Anna's card minutes apart: Hamburg, then Munich.
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &app.north_card()).await;
    let first = hamburg.authorize(&app, &phone.qr(0, 1, now_ms()), 2_000, false).await;
    assert_eq!(first["approved"], true, "{first}");
    // At least a second later, so the rule computes a speed (no elapsed time has none).
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let second = munich.authorize(&app, &phone.qr(0, 2, now_ms()), 2_000, false).await;
    assert_eq!(second["approved"], true, "{second}");

    let analyst = app.analyst().await;
    let (_, queue) = app.get("/v1/alerts?rule_id=impossible_travel", &analyst).await;
    let alert = queue["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .find(|a| a["card_id"] == app.north_card().as_str())
        .unwrap_or_else(|| panic!("an impossible_travel alert: {queue}"))["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The rule's observed values, as the API gives them.
    let (status, detail) = app.get(&format!("/v1/alerts/{alert}"), &analyst).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let observed = detail["authorization"]["trace"]["fraud"]["trace"]
        .as_array()
        .expect("fraud trace")
        .iter()
        .find(|r| r["rule_id"] == "impossible_travel")
        .expect("rule evaluated")["hit"]["observed"]
        .clone();
    let distance_m = observed["distance_m"].as_u64().expect("distance");
    let speed = observed["speed_kmh"].as_u64().expect("speed");
    let max = observed["max_kmh"].as_u64().expect("max");
    assert!((600_000..625_000).contains(&distance_m), "{observed}");

    let mut b = Browser::new(&app);
    b.login("fraud@forecourt.example").await;
    let page = b.get(&format!("/console/alerts/{alert}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let start = page.body.find("id=\"travel\"").expect("the impossible-travel panel");
    let end = page.body.find("id=\"checks\"").expect("checks section");
    let panel = &page.body[start..end];
    let from_at = panel.find("id=\"travel-from\"").expect("from");
    let to_at = panel.find("id=\"travel-to\"").expect("to");
    let (from, to) = (&panel[from_at..to_at], &panel[to_at..]);
    assert!(from.contains("Autohof Nord") && from.contains(&hamburg.station_id), "{from}");
    assert!(to.contains("Rasthof Muenchen") && to.contains(&munich_station), "{to}");
    let km = format!("{}.{} km", distance_m / 1000, distance_m % 1000 / 100);
    assert!(panel.contains(&km), "{km} in {panel}");
    assert!(panel.contains(&format!("{speed} km/h")), "{panel}");
    assert!(panel.contains(&format!("{max} km/h")), "{panel}");
    assert!(!panel.contains("not among the recent fills"), "{panel}");
}
