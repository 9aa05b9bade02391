//! A write cancelled at any moment must not poison the pool.
//!
//! A request can be cancelled at any await (the authorization deadline, a client that
//! hangs up), so a store future can be dropped anywhere. sqlx
//! 0.8's SQLite `begin_with` has an await between the worker running `BEGIN IMMEDIATE`
//! and the `Transaction` existing (it asks the worker whether the statement opened a
//! transaction): dropped there, the connection went back to the pool inside a transaction
//! nobody could end, holding the write lock, and every later write failed ("begin_with at
//! non-zero transaction depth" on it, the busy timeout on the others). The benchmark
//! found it: 96 for everything under overload.

use domain::{OrgId, Product, StationId, TerminalId};
use sqlx::{Connection, Executor, SqliteConnection};
use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};
use store::{
    AuthorizerStore, FraudRuleRecord, SqlStore, StationRecord, TerminalRecord, TerminalStatus,
};

/// Long enough for the store's `BEGIN IMMEDIATE` to be queued behind the held lock.
const CANCEL_AFTER_MS: u64 = 200;
/// Writes after the cancellations (through the group commit, whose writer takes a pooled
/// connection and the write lock): more than the pool's connections, so each is reused.
const WRITES_AFTER: usize = 40;
/// Cancellation points swept through one write (BEGIN, DELETE, INSERT, COMMIT with fsync).
const SWEEP_STEPS: u64 = 600;
const SWEEP_STEP_US: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_cancelled_at_every_moment_leave_the_pool_usable() {
    let (store, dir) = fresh_store().await;
    let terminal = terminal(&store).await;
    for step in 0..SWEEP_STEPS {
        // A write on its own transaction (`begin_write`), not one of the group commit's.
        let rules = [FraudRuleRecord {
            org_id: OrgId::new(),
            rule_id: format!("rule-{step}"),
            config: "{}".into(),
            updated_us: 1,
        }];
        let write = store.put_fraud_rules(&rules);
        poll_then_drop(write, Duration::from_micros(step * SWEEP_STEP_US)).await;
    }
    writes_succeed(&store, terminal).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_cancelled_write_leaves_no_connection_inside_a_transaction() {
    let (store, dir) = fresh_store().await;
    let url = url_of(&dir);
    let terminal = terminal(&store).await;

    // Another process holds the write lock, as a long commit would.
    let mut holder = SqliteConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();

    let cancelled = tokio::time::timeout(
        Duration::from_millis(CANCEL_AFTER_MS),
        store.remember_nonce(terminal, "cancelled", 1),
    )
    .await;
    assert!(cancelled.is_err(), "the write should still be waiting for the lock");

    holder.execute("ROLLBACK").await.unwrap();
    holder.close().await.unwrap();

    writes_succeed(&store, terminal).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Polls `write` until it finishes or `budget` passes, then drops it: a cancellation at
/// a point the tokio timer (1 ms granularity) cannot reach.
async fn poll_then_drop(write: impl Future, budget: Duration) {
    let mut write = std::pin::pin!(write);
    let deadline = Instant::now() + budget;
    loop {
        let polled = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
        if polled.is_ready() || Instant::now() >= deadline {
            return;
        }
        tokio::task::yield_now().await;
    }
}

async fn writes_succeed(store: &SqlStore, terminal: TerminalId) {
    for i in 0..WRITES_AFTER {
        let nonce = format!("after-{i}");
        let fresh = store.remember_nonce(terminal, &nonce, 2).await;
        assert!(matches!(fresh, Ok(true)), "write {i} after the cancellations: {fresh:?}");
    }
}

async fn fresh_store() -> (SqlStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("forecourt-cancel-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqlStore::connect(&url_of(&dir)).await.unwrap();
    (store, dir)
}

fn url_of(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display())
}

async fn terminal(store: &SqlStore) -> TerminalId {
    let station = StationRecord {
        id: StationId::new(),
        name: "Test station".into(),
        merchant_id: "M1".into(),
        lat_e6: 0,
        lon_e6: 0,
        time_zone: "UTC".into(),
        products: vec![Product::Diesel],
        created_us: 0,
    };
    store.create_station(&station).await.unwrap();
    let terminal = TerminalRecord {
        id: TerminalId::new(),
        station_id: station.id,
        label: "pump 1".into(),
        secret_wrapped: vec![0; 16],
        status: TerminalStatus::Active,
        created_us: 0,
        version: 1,
    };
    store.create_terminal(&terminal).await.unwrap();
    terminal.id
}
