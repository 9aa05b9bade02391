//! A property test over the ledger: random sequences of credits, pre-authorizations (full
//! and partial), completions, reversals and expiries, with the invariants checked after
//! every step against a model and the database: the ledger balances, the holds are exactly
//! the open approvals, and no period limit is ever exceeded. A failing sequence is shrunk
//! to a minimal one, which proptest prints.

mod common;

use axum::http::StatusCode;
use common::phone::{now_ms, Phone};
use common::terminal::Terminal;
use common::{Backend, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::json;
use sqlx::{Connection, Row};

both_backends!(random_sequences_keep_the_ledger_and_the_limits);

/// Sequences per backend, and steps per sequence: each sequence starts a fresh
/// application, so these keep the test to seconds.
const CASES: u32 = 12;
const MAX_STEPS: usize = 30;
/// Each shrink step replays a sequence on a fresh application: bound the time a failure
/// spends finding its minimal sequence.
const MAX_SHRINK_ITERS: u32 = 64;
/// The card's daily amount limit the walk pushes against.
const DAILY_LIMIT: i64 = 60_000;
/// Credited before the first step, so most sequences have money to hold.
const OPENING_CREDIT: i64 = 50_000;

/// One step. `pick` chooses among the open approvals (modulo their number), so a shrunk
/// sequence stays meaningful whatever came before.
#[derive(Debug, Clone)]
enum Op {
    Credit { amount: i64 },
    Authorize { amount: i64, partial: bool },
    Complete { pick: usize, permille: i64 },
    Reverse { pick: usize },
    Expire { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1_000i64..31_000).prop_map(|amount| Op::Credit { amount }),
        2 => (500i64..20_500, any::<bool>())
            .prop_map(|(amount, partial)| Op::Authorize { amount, partial }),
        1 => (0usize..16, 0i64..=1_000)
            .prop_map(|(pick, permille)| Op::Complete { pick, permille }),
        1 => (0usize..16).prop_map(|pick| Op::Reverse { pick }),
        1 => (0usize..16).prop_map(|pick| Op::Expire { pick }),
    ]
}

#[derive(Default)]
struct Model {
    credited: i64,
    /// Open approvals: (id, held).
    open: Vec<(String, i64)>,
    spent: i64,
}

impl Model {
    fn take(&mut self, pick: usize) -> Option<(String, i64)> {
        let n = self.open.len();
        (n > 0).then(|| self.open.remove(pick % n))
    }
}

/// The runner is synchronous; each case runs its async walk on this test's runtime.
async fn random_sequences_keep_the_ledger_and_the_limits(b: Backend) {
    let config = ProptestConfig {
        cases: CASES,
        max_shrink_iters: MAX_SHRINK_ITERS,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let sequences = prop::collection::vec(op(), 1..=MAX_STEPS);
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&sequences, |ops| {
            handle.block_on(walk(b, &ops));
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// A fleet with the opening credit, a daily limit on Anna's card, a terminal, her phone.
struct Walk {
    app: TestApp,
    terminal: Terminal,
    phone: Phone,
    owner: String,
    operator: String,
    org: String,
    card: String,
    model: Model,
    atc: u16,
}

async fn walk(b: Backend, ops: &[Op]) {
    let Some(app) = TestApp::start_with(b, |c| {
        c.tokens.luk_batch_size = 32;
        c.tokens.luk_max_uses = 8;
    })
    .await
    else {
        return;
    };
    let mut w = Walk::setup(app).await;
    for (step, op) in ops.iter().enumerate() {
        w.apply(op, step).await;
        check_invariants(&w.app, &w.org, &w.owner, &w.card, &w.model, step).await;
    }
}

impl Walk {
    async fn setup(app: TestApp) -> Walk {
        let terminal = Terminal::register(&app).await;
        let (owner, operator, anna) = (app.owner().await, app.operator().await, app.anna().await);
        let org = app.get("/v1/me", &owner).await.1["org_id"].as_str().unwrap().to_owned();
        let card = app.north_card();
        let limit = json!({"daily": {"amount": DAILY_LIMIT}});
        let path = format!("/v1/cards/{card}/controls");
        assert_eq!(app.put(&path, &owner, limit).await.0, StatusCode::OK);
        let mut phone = Phone::new();
        phone.enrol(&app, &anna).await;
        phone.provision(&app, &anna, &card).await;
        let model = Model::default();
        let mut w = Walk { app, terminal, phone, owner, operator, org, card, model, atc: 0 };
        w.credit(OPENING_CREDIT).await;
        w
    }

    async fn apply(&mut self, op: &Op, step: usize) {
        match *op {
            Op::Credit { amount } => self.credit(amount).await,
            Op::Authorize { amount, partial } => self.authorize(amount, partial, step).await,
            Op::Complete { pick, permille } => {
                let Some((id, held)) = self.model.take(pick) else { return };
                self.complete(&id, held * permille / 1_000, step).await;
            }
            Op::Reverse { pick } => {
                let Some((id, _)) = self.model.take(pick) else { return };
                let path = format!("/v1/terminal/authorizations/{id}/reversal");
                let (status, body) = self.terminal.send(&self.app, &path, &json!({})).await;
                assert_eq!(status, StatusCode::OK, "step {step}: {body}");
            }
            Op::Expire { pick } => {
                let Some((id, _)) = self.model.take(pick) else { return };
                expire_now(&self.app, &id).await;
                let expired = self.app.state.authorizer.expire_holds().await.unwrap();
                assert_eq!(expired, 1, "step {step}");
            }
        }
    }

    async fn credit(&mut self, amount: i64) {
        let path = format!("/v1/orgs/{}/account/credits", self.org);
        let (status, body) = self.app.post(&path, &self.operator, json!({"amount": amount})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.model.credited += amount;
    }

    async fn authorize(&mut self, amount: i64, partial: bool, step: usize) {
        self.atc += 1;
        let qr = self.phone.qr(usize::from(self.atc / 8), self.atc, now_ms());
        let answer = self.terminal.authorize(&self.app, &qr, amount, partial).await;
        if answer["approved"] == true {
            let held = answer["approved_amount"].as_i64().unwrap();
            assert!(held <= amount && held > 0, "step {step}: {answer}");
            let id = answer["authorization_id"].as_str().unwrap().to_owned();
            self.model.open.push((id, held));
        }
    }

    async fn complete(&mut self, id: &str, amount: i64, step: usize) {
        let body = json!({"amount": amount, "volume_ml": amount * 5, "product": "diesel"});
        let path = format!("/v1/terminal/authorizations/{id}/completion");
        let (status, done) = self.terminal.send(&self.app, &path, &body).await;
        assert_eq!(status, StatusCode::OK, "step {step}: {done}");
        self.model.spent += amount;
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
