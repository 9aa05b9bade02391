//! A random walk over the ledger: credits, pre-authorizations (full and partial),
//! completions, reversals and expiries in random order, with the invariants checked after
//! every step against a model and the database: the ledger balances, the holds are exactly
//! the open approvals, and no period limit is ever exceeded.

mod common;

use axum::http::StatusCode;
use common::phone::{now_ms, Phone};
use common::terminal::Terminal;
use common::{Backend, TestApp};
use serde_json::json;
use sqlx::{Connection, Row};

both_backends!(random_sequences_keep_the_ledger_and_the_limits);

/// Steps per walk, and the card's daily amount limit the walk pushes against.
const STEPS: usize = 60;
const DAILY_LIMIT: i64 = 60_000;

/// xorshift64*: deterministic, so a failing walk can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Default)]
struct Model {
    credited: i64,
    /// Open approvals: (id, held).
    open: Vec<(String, i64)>,
    spent: i64,
}

async fn random_sequences_keep_the_ledger_and_the_limits(b: Backend) {
    let Some(app) = TestApp::start_with(b, |c| {
        c.tokens.luk_batch_size = 32;
        c.tokens.luk_max_uses = 8;
    })
    .await
    else {
        return;
    };
    let terminal = Terminal::register(&app).await;
    let (owner, operator, anna) = (app.owner().await, app.operator().await, app.anna().await);
    let org = app.get("/v1/me", &owner).await.1["org_id"].as_str().unwrap().to_owned();
    let card = app.north_card();
    assert_eq!(
        app.put(
            &format!("/v1/cards/{card}/controls"),
            &owner,
            json!({"daily": {"amount": DAILY_LIMIT}})
        )
        .await
        .0,
        StatusCode::OK
    );
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    phone.provision(&app, &anna, &card).await;
    let mut rng = Rng(0x5EED_F0E1_C0DE_u64 ^ (b as u64 + 1));
    let mut model = Model::default();
    let mut atc = 0u16;
    for step in 0..STEPS {
        match rng.below(6) {
            0 => {
                let amount = i64::try_from(1_000 + rng.below(30_000)).unwrap();
                let (status, _) = app
                    .post(
                        &format!("/v1/orgs/{org}/account/credits"),
                        &operator,
                        json!({"amount": amount}),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK);
                model.credited += amount;
            }
            1 | 2 => {
                atc += 1;
                let amount = i64::try_from(500 + rng.below(20_000)).unwrap();
                let qr = phone.qr(usize::from(atc / 8), atc, now_ms());
                let answer = terminal.authorize(&app, &qr, amount, rng.below(2) == 0).await;
                if answer["approved"] == true {
                    let held = answer["approved_amount"].as_i64().unwrap();
                    assert!(held <= amount && held > 0, "step {step}: {answer}");
                    model
                        .open
                        .push((answer["authorization_id"].as_str().unwrap().to_owned(), held));
                }
            }
            3 if !model.open.is_empty() => {
                let (id, held) =
                    model.open.remove(usize::try_from(rng.below(model.open.len() as u64)).unwrap());
                let amount = i64::try_from(rng.below(u64::try_from(held).unwrap() + 1)).unwrap();
                let body = json!({"amount": amount, "volume_ml": amount * 5, "product": "diesel"});
                let (status, done) = terminal
                    .send(&app, &format!("/v1/terminal/authorizations/{id}/completion"), &body)
                    .await;
                assert_eq!(status, StatusCode::OK, "step {step}: {done}");
                model.spent += amount;
            }
            4 if !model.open.is_empty() => {
                let (id, _) =
                    model.open.remove(usize::try_from(rng.below(model.open.len() as u64)).unwrap());
                let (status, _) = terminal
                    .send(&app, &format!("/v1/terminal/authorizations/{id}/reversal"), &json!({}))
                    .await;
                assert_eq!(status, StatusCode::OK);
            }
            5 if !model.open.is_empty() => {
                let (id, _) =
                    model.open.remove(usize::try_from(rng.below(model.open.len() as u64)).unwrap());
                expire_now(&app, &id).await;
                assert_eq!(app.state.authorizer.expire_holds().await.unwrap(), 1, "step {step}");
            }
            _ => {}
        }
        check_invariants(&app, &org, &owner, &card, &model, step).await;
    }
}

async fn check_invariants(
    app: &TestApp,
    org: &str,
    owner: &str,
    card: &str,
    model: &Model,
    step: usize,
) {
    let (_, account) = app.get(&format!("/v1/orgs/{org}/account"), owner).await;
    let field = |k: &str| account[k].as_i64().unwrap();
    assert_eq!(
        field("available") + field("held") + field("spent"),
        field("credited"),
        "step {step}: {account}"
    );
    assert_eq!(field("credited"), model.credited, "step {step}");
    assert_eq!(
        field("held"),
        model.open.iter().map(|(_, h)| h).sum::<i64>(),
        "step {step}: holds are the open approvals"
    );
    assert_eq!(field("spent"), model.spent, "step {step}");
    assert!(field("available") >= 0, "step {step}: no credit line, never negative");
    let used = daily_usage(app, card).await;
    assert!(used <= DAILY_LIMIT, "step {step}: daily usage {used} over {DAILY_LIMIT}");
    let open_plus_spent_today = model.open.iter().map(|(_, h)| h).sum::<i64>() + model.spent;
    assert_eq!(used, open_plus_spent_today, "step {step}: usage counts holds and spending");
}

async fn daily_usage(app: &TestApp, card: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("db");
    let row = sqlx::query("SELECT amount FROM card_usage WHERE card_id = $1 AND period LIKE 'D%'")
        .bind(card)
        .fetch_optional(&mut db)
        .await
        .expect("usage");
    row.map_or(0, |r| r.try_get::<i64, _>("amount").expect("amount"))
}

async fn expire_now(app: &TestApp, id: &str) {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("db");
    sqlx::query("UPDATE authorizations SET hold_expires_us = 0 WHERE id = $1")
        .bind(id)
        .execute(&mut db)
        .await
        .expect("expire");
}
