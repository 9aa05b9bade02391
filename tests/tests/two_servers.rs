//! Two `forecourt` processes on one PostgreSQL database (and one out-of-process HSM), 200
//! pre-authorizations on one card sent to both at once: the database is the arbiter, so
//! exactly the card's daily count is approved and the ledger holds exactly that.

mod support;

use serde_json::{json, Value};
use sqlx::Connection;
use support::{now_ms, Api, Phone, Terminal};
use tests::{HsmProcess, Server};

const PG_ADMIN_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PHONES: u16 = 10;
const REQUESTS_PER_PHONE: u16 = 20;
const DAILY_FILLS: i64 = 7;

/// A fresh PostgreSQL database; `None` (said loudly) when no server answers outside CI.
async fn fresh_database() -> Option<(String, String)> {
    let admin =
        std::env::var("FORECOURT_TEST_PG_URL").unwrap_or_else(|_| PG_ADMIN_URL_DEFAULT.into());
    let on_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let mut conn = match sqlx::postgres::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) if !on_ci => {
            eprintln!("\n*** SKIPPED: two-server test needs PostgreSQL at {admin}: {e} ***\n");
            return None;
        }
        Err(e) => panic!("PostgreSQL is required on CI but {admin} is unreachable: {e}"),
    };
    let name = format!("forecourt_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create db");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some((name.clone(), format!("{base}/{name}")))
}

fn qr_request(qr: &str, stan: u32) -> Value {
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    json!({"stan": format!("{stan:06}"), "transmitted_at": at, "entry_mode": "qr", "qr": qr, "pump": 1,
           "products": ["diesel"], "amount": 1_000, "unit_price": 179_900, "partial_supported": false})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_never_exceed_a_limit() {
    let Some((db_name, db_url)) = fresh_database().await else { return };
    let hsm = HsmProcess::start();
    // 200 requests at once on debug builds may outlast the production deadline (then 91);
    // this test is about limits, so the burst is given time and room to queue (no shedding).
    let env = [
        ("FORECOURT_DATABASE_URL", db_url.as_str()),
        ("FORECOURT_HSM_ADDR", &hsm.addr),
        ("FORECOURT_HSM_PSK", &hsm.psk_hex),
        ("FORECOURT_AUTHORIZATION_DEADLINE_MS", "60000"),
        ("FORECOURT_HSM_TIMEOUT_MS", "30000"),
        ("FORECOURT_DB_ACQUIRE_TIMEOUT_MS", "30000"),
        ("FORECOURT_MAX_PENDING_AUTHORIZATIONS", "1000"),
    ];
    let first = Server::start_with(&env).await;
    let second = Server::start_with(&env).await;
    let client = reqwest::Client::new();
    let api = Api { client: client.clone(), base: first.base_url.clone() };
    let (operator, owner, anna) = (
        api.login("operator@forecourt.example").await,
        api.login("owner@demo-taxi.example").await,
        api.login("anna@demo-taxi.example").await,
    );
    let terminal = Terminal::register(&api, &operator).await;
    let (_, me) = api.send(reqwest::Method::GET, "/v1/me", Some(&owner), None).await;
    let org = me["org_id"].as_str().unwrap().to_owned();
    let credit = json!({"amount": 10_000_000});
    assert_eq!(
        api.send(
            reqwest::Method::POST,
            &format!("/v1/orgs/{org}/account/credits"),
            Some(&operator),
            Some(credit)
        )
        .await
        .0,
        200
    );
    let (_, cards) = api.send(reqwest::Method::GET, "/v1/cards", Some(&anna), None).await;
    let card = cards[0]["id"].as_str().unwrap().to_owned();
    let limit = json!({"daily": {"count": DAILY_FILLS}});
    assert_eq!(
        api.send(
            reqwest::Method::PUT,
            &format!("/v1/cards/{card}/controls"),
            Some(&owner),
            Some(limit)
        )
        .await
        .0,
        200
    );

    // A burst of limit declines would trip `repeated_failures`; this test is about limits.
    let analyst = api.login("fraud@forecourt.example").await;
    let rule = format!("/v1/fraud/rules/repeated_failures?org_id={org}");
    let shadow = json!({"mode": "shadow"});
    assert_eq!(api.send(reqwest::Method::PUT, &rule, Some(&analyst), Some(shadow)).await.0, 200);
    let mut phones = Vec::new();
    for _ in 0..PHONES {
        phones.push(Phone::provisioned(&api, &anna, &card).await);
    }
    let now = now_ms();
    let mut bodies = Vec::new();
    for (p, phone) in phones.iter().enumerate() {
        for atc in 1..=REQUESTS_PER_PHONE {
            let stan = u32::try_from(p).unwrap() * 100 + u32::from(atc);
            bodies.push(qr_request(&phone.qr(usize::from(atc / 4), atc, now), stan));
        }
    }
    let bases = [first.base_url.clone(), second.base_url.clone()];
    let sends = bodies.iter().enumerate().map(|(i, body)| {
        terminal.post(&client, &bases[i % 2], "/v1/terminal/authorizations", body)
    });
    let answers = futures_util::future::join_all(sends).await;
    let approved = answers.iter().filter(|(_, a)| a["approved"] == true).count();
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert!(answer["approved"] == true || answer["reason"] == "LIMIT_DAILY_COUNT", "{answer}");
    }
    assert_eq!(
        approved,
        usize::try_from(DAILY_FILLS).unwrap(),
        "exactly the daily count, across both processes"
    );
    let other = Api { client, base: second.base_url.clone() };
    let (_, account) = other
        .send(reqwest::Method::GET, &format!("/v1/orgs/{org}/account"), Some(&owner), None)
        .await;
    assert_eq!(account["held"].as_i64(), Some(DAILY_FILLS * 1_000), "{account}");

    drop((first, second, hsm));
    let admin =
        std::env::var("FORECOURT_TEST_PG_URL").unwrap_or_else(|_| PG_ADMIN_URL_DEFAULT.into());
    if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}
