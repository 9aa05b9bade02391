//! The web console in a real browser: headless Chromium driven through chromedriver's W3C
//! WebDriver API against the real `forecourt` binary on SQLite.
//!
//! A North-depot admin logs in, issues a card, re-binds it to another driver, changes a
//! limit and sees it on the card page, invites a driver from the drivers page and finds them
//! in the list; a fill on that card trips a fraud rule (lowered by
//! the analyst through the API), appears in the analyst's queue, the analyst resolves it as
//! confirmed fraud, and the admin sees the card blocked. Access control through the pages:
//! another depot's card is the 404 page, a driver gets the 403 page, and a form without a
//! valid CSRF token is refused. Screenshots go to a folder the test prints.
//!
//! Without chromedriver the test fails on CI and skips loudly elsewhere.

mod support;

use reqwest::Method as M;
use serde_json::{json, Value};
use std::path::PathBuf;
use support::{now_ms, on_ci, Api, Phone, Terminal};
use tests::webdriver::{self, Driver, Session};
use tests::Server;

const PASSWORD: &str = "forecourt-demo";

fn screenshot_dir() -> PathBuf {
    // target/<profile>/deps/<test> → target/browser-screenshots/<run>
    let exe = std::env::current_exe().expect("exe");
    let target = exe.ancestors().nth(3).map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir =
        target.join("browser-screenshots").join(format!("run-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn login(s: &Session, base: &str, email: &str) {
    s.goto(&format!("{base}/console/login")).await;
    s.fill("#email", email).await;
    s.fill("#password", PASSWORD).await;
    s.click("#login").await;
    // Every console page has the logout button once signed in.
    s.wait_for("#logout").await;
}

async fn no_horizontal_scroll(s: &Session, what: &str) {
    let fits = s
        .script(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
        )
        .await;
    assert_eq!(fits, json!(true), "{what} scrolls horizontally");
}

/// Waits (10 s at most) until `script`, which returns a boolean, returns true.
async fn wait_until(s: &Session, script: &str, what: &str) {
    for _ in 0..100 {
        if s.script(script).await == json!(true) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting: {what}");
}

fn qr_request(qr: &str, stan: u32) -> Value {
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    json!({"stan": format!("{stan:06}"), "transmitted_at": at, "entry_mode": "qr", "qr": qr,
           "pump": 1, "products": ["diesel"], "amount": 1_000, "unit_price": 179_900,
           "partial_supported": false})
}

/// A new driver in `group`, active with the demo password; returns its id.
async fn new_driver(api: &Api, owner: &str, group: &str, email: &str, name: &str) -> String {
    let body = json!({"email": email, "name": name, "role": "driver", "group_id": group});
    let (status, created) = api.send(M::POST, "/v1/users", Some(owner), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let accept = json!({"invite_token": created["invite_token"], "password": PASSWORD});
    let (status, user) = api.send(M::POST, "/v1/auth/accept-invite", None, Some(accept)).await;
    assert_eq!(status, 200, "{user}");
    created["user"]["id"].as_str().expect("id").to_owned()
}

fn set_cookie_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|l| l.split(';').next())
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Logs in through the console's form with plain HTTP; returns the cookie header.
async fn http_login(client: &reqwest::Client, base: &str, email: &str) -> (String, String) {
    let form = client.get(format!("{base}/console/login")).send().await.expect("login form");
    let csrf = set_cookie_value(form.headers(), "fc_csrf").expect("csrf cookie");
    let body = format!("email={}&password={PASSWORD}&csrf={csrf}", email.replace('@', "%40"));
    let done = client
        .post(format!("{base}/console/login"))
        .header("cookie", format!("fc_csrf={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("login");
    assert_eq!(done.status().as_u16(), 303);
    let session = set_cookie_value(done.headers(), "fc_session").expect("session");
    let csrf = set_cookie_value(done.headers(), "fc_csrf").expect("csrf");
    (format!("fc_session={session}; fc_csrf={csrf}"), csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_real_browser() {
    if !webdriver::available() {
        let why = format!("{} or {} is missing", webdriver::CHROMEDRIVER, webdriver::CHROMIUM);
        assert!(!on_ci(), "the browser tests must run on CI but {why}");
        eprintln!("\n*** SKIPPED console_in_a_real_browser: {why} (apt-get install chromium chromium-driver) ***\n");
        return;
    }
    let shots = screenshot_dir();
    println!("browser screenshots: {}", shots.display());
    eprintln!("browser screenshots: {}", shots.display());

    let server = Server::start().await;
    let base = server.base_url.clone();
    let api = Api { client: reqwest::Client::new(), base: base.clone() };
    let operator = api.login("operator@forecourt.example").await;
    let owner = api.login("owner@demo-taxi.example").await;
    let analyst = api.login("fraud@forecourt.example").await;
    let (_, me) = api.send(M::GET, "/v1/me", Some(&owner), None).await;
    let org = me["org_id"].as_str().expect("org").to_owned();
    let credit = json!({"amount": 1_000_000});
    let path = format!("/v1/orgs/{org}/account/credits");
    assert_eq!(api.send(M::POST, &path, Some(&operator), Some(credit)).await.0, 200);
    let (_, groups) = api.send(M::GET, "/v1/groups", Some(&owner), None).await;
    let group = |name: &str| {
        groups.as_array().expect("groups").iter().find(|g| g["name"] == name).expect(name)["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (north, south) = (group("North depot"), group("South depot"));
    let (_, cards) = api.send(M::GET, "/v1/cards", Some(&owner), None).await;
    let south_card = cards
        .as_array()
        .expect("cards")
        .iter()
        .find(|c| c["group_id"] == south.as_str())
        .expect("a South card")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let dmitri =
        new_driver(&api, &owner, &north, "dmitri@demo-taxi.example", "Dmitri Driver").await;
    let (_, users) = api.send(M::GET, "/v1/users?role=driver", Some(&owner), None).await;
    let anna = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == "anna@demo-taxi.example")
        .expect("anna")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let driver = Driver::start().await;
    let admin = driver.session().await;

    // The admin logs in and issues a card to Dmitri.
    admin.goto(&format!("{base}/")).await;
    admin.wait_for("#email").await;
    login(&admin, &base, "admin.north@demo-taxi.example").await;
    admin.wait_for("#spent-today").await;
    admin.goto(&format!("{base}/console/cards")).await;
    admin.click(&format!("#issue select[name=group_id] option[value=\"{north}\"]")).await;
    admin.click(&format!("#issue select[name=driver_id] option[value=\"{dmitri}\"]")).await;
    admin.click("#issue-card").await;
    admin.wait_for_text("#card-driver", "Dmitri Driver").await;
    let card_url = admin.current_url().await;
    let card = card_url.rsplit('/').next().expect("card id").to_owned();
    assert!(card.len() == 36, "{card_url}");

    // Re-binds it to Anna, and changes its daily limit.
    admin.click(&format!("#bind-driver option[value=\"{anna}\"]")).await;
    admin.click("#save-binding").await;
    admin.wait_for_text("#card-driver", "Anna Driver").await;
    admin.fill("#limit-daily", "250.00").await;
    admin.click("#save-limits").await;
    admin.wait_for_text("tr[data-limit=\"limit.daily\"]", "250.00 EUR").await;
    admin.wait_for("#timeline tr[data-action=\"card.rebound\"]").await;
    no_horizontal_scroll(&admin, "the card page").await;

    // The admin invites a driver from the drivers page and finds them in the list.
    admin.goto(&format!("{base}/console/drivers")).await;
    admin.fill("#driver-name", "Galina Driver").await;
    admin.fill("#driver-email", "galina@demo-taxi.example").await;
    admin.click(&format!("#driver-group option[value=\"{north}\"]")).await;
    admin.click("#invite-driver").await;
    let token = admin.wait_for("#invite-token").await;
    assert!(admin.text(&token).await.len() >= 32, "the one-time invite token is shown");
    assert!(!admin.current_url().await.contains("token"), "never in the address");
    admin.goto(&format!("{base}/console/drivers")).await;
    admin.fill("#drivers-filter input[name=q]", "galina").await;
    // htmx swaps the list as the search is typed: Galina stays, Anna goes.
    wait_until(
        &admin,
        "const t = document.querySelector('#drivers tbody'); \
         return !!t && t.innerText.includes('Galina Driver') && !t.innerText.includes('Anna Driver');",
        "the search narrows the drivers list",
    )
    .await;
    no_horizontal_scroll(&admin, "the drivers page").await;
    admin.screenshot(&shots.join("drivers.png")).await;
    for page in ["vehicles", "groups", &format!("groups/{north}")] {
        admin.goto(&format!("{base}/console/{page}")).await;
        admin.wait_for("#logout").await;
        no_horizontal_scroll(&admin, page).await;
    }

    // Anna pays with the card; the analyst first lowered rapid_refills to two fills, so
    // the second fill is flagged for review.
    let edit = json!({"rule": {"kind": "rapid_refills", "max_fills": 2, "window_secs": 3600}});
    let path = format!("/v1/fraud/rules/rapid_refills?org_id={org}");
    let (status, rules) = api.send(M::PUT, &path, Some(&analyst), Some(edit)).await;
    assert_eq!(status, 200, "{rules}");
    let anna_token = api.login("anna@demo-taxi.example").await;
    let phone = Phone::provisioned(&api, &anna_token, &card).await;
    let terminal = Terminal::register(&api, &operator).await;
    let now = now_ms();
    for atc in 1..=2u16 {
        let body = qr_request(&phone.qr(0, atc, now), u32::from(atc));
        let (status, answer) =
            terminal.post(&api.client, &base, "/v1/terminal/authorizations", &body).await;
        assert_eq!((status, &answer["approved"]), (200, &json!(true)), "{answer}");
        let path = format!(
            "/v1/terminal/authorizations/{}/completion",
            answer["authorization_id"].as_str().expect("id")
        );
        let done = json!({"amount": 1_000, "volume_ml": 5_558, "product": "diesel"});
        let (status, completed) = terminal.post(&api.client, &base, &path, &done).await;
        assert_eq!(status, 200, "{completed}");
    }
    admin.goto(&format!("{base}/console/cards/{card}")).await;
    admin.wait_for("#fills table").await;
    // Two fills of 10.00 against the 250.00 daily limit.
    admin.wait_for_text("#limits-left [data-period=\"day\"] strong.left", "230.00 EUR").await;
    admin.screenshot(&shots.join("card.png")).await;

    // The analyst finds the alert in the queue and resolves it as fraud.
    let fraud = driver.session().await;
    login(&fraud, &base, "fraud@forecourt.example").await;
    let row = format!("#queue tr[data-card=\"{card}\"]");
    fraud.wait_for(&row).await;
    no_horizontal_scroll(&fraud, "the queue").await;
    fraud.screenshot(&shots.join("queue.png")).await;
    fraud.click(&format!("{row} a")).await;
    fraud.wait_for("#rules tr[data-rule=\"rapid_refills\"] td.hit").await;
    fraud.click("#take").await;
    fraud.wait_for("#alert-status[data-status=\"taken\"]").await;
    fraud.click("#resolve-fraud").await;
    fraud.fill("#resolve-note", "driver confirms the phone was stolen").await;
    fraud.screenshot(&shots.join("alert.png")).await;
    fraud.click("#resolve").await;
    fraud.wait_for("#alert-status[data-status=\"confirmed_fraud\"]").await;

    // The admin sees the card blocked.
    admin.goto(&format!("{base}/console/cards/{card}")).await;
    admin.wait_for_text("#card-status", "blocked").await;
    admin.goto(&format!("{base}/console")).await;
    admin.wait_for_text("#spent-today", "20.00 EUR").await;
    // The re-bind alerts on the card are still open: the dashboard lists them.
    admin.wait_for(&format!("#open-alerts tr[data-card=\"{card}\"]")).await;
    no_horizontal_scroll(&admin, "the dashboard").await;
    admin.screenshot(&shots.join("dashboard.png")).await;

    // On a phone: no page scrolls sideways (wide tables scroll inside their box).
    admin.set_window_size(390, 844).await;
    for page in [
        format!("{base}/console"),
        format!("{base}/console/cards/{card}"),
        format!("{base}/console/cards"),
        format!("{base}/console/drivers"),
        format!("{base}/console/vehicles"),
        format!("{base}/console/groups"),
    ] {
        admin.goto(&page).await;
        admin.wait_for("#logout").await;
        no_horizontal_scroll(&admin, &page).await;
    }
    admin.goto(&format!("{base}/console/cards/{card}")).await;
    admin.wait_for("#card-status").await;
    admin.screenshot(&shots.join("card-phone.png")).await;
    admin.set_window_size(1280, 900).await;

    // Another depot's card by URL: the 404 page.
    admin.goto(&format!("{base}/console/cards/{south_card}")).await;
    admin.wait_for("section.error[data-status=\"404\"]").await;
    assert!(!admin.source().await.contains("B-TX 202"), "nothing of the South card shows");

    // A driver gets the 403 page, on the dashboard and on admin pages.
    let anna_browser = driver.session().await;
    anna_browser.goto(&format!("{base}/console/login")).await;
    anna_browser.fill("#email", "anna@demo-taxi.example").await;
    anna_browser.fill("#password", PASSWORD).await;
    anna_browser.click("#login").await;
    anna_browser.wait_for("section.error[data-status=\"403\"]").await;
    anna_browser.goto(&format!("{base}/console/cards/{card}")).await;
    anna_browser.wait_for("section.error[data-status=\"403\"]").await;

    // A form posted without a valid CSRF token is refused and changes nothing.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let (cookies, csrf) = http_login(&client, &base, "admin.north@demo-taxi.example").await;
    let status_path = format!("{base}/console/cards/{card}/status");
    for token in ["", "0000", &"f".repeat(64)] {
        let refused = client
            .post(&status_path)
            .header("cookie", &cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("status=closed&reason=csrf&csrf={token}"))
            .send()
            .await
            .expect("post");
        assert_eq!(refused.status().as_u16(), 403, "token {token:?}");
    }
    let without = client
        .post(&status_path)
        .header("cookie", &cookies)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("status=closed&reason=csrf")
        .send()
        .await
        .expect("post");
    assert_eq!(without.status().as_u16(), 403);
    let (_, after) = api.send(M::GET, &format!("/v1/cards/{card}"), Some(&owner), None).await;
    assert_eq!(after["status"], "blocked", "still blocked, not closed");
    assert!(!csrf.is_empty());

    admin.close().await;
    fraud.close().await;
    anna_browser.close().await;
    for shot in ["dashboard.png", "card.png", "queue.png", "alert.png", "drivers.png"] {
        let size = std::fs::metadata(shots.join(shot)).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1_000, "{shot} is a real screenshot");
    }
    println!("browser screenshots: {}", shots.display());
}
