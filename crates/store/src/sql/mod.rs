//! The one SQL implementation of [`crate::Store`], over sqlx's `Any` driver so that the
//! backend is chosen at run time from the URL. Queries are runtime-checked strings written
//! in the subset both SQLite and PostgreSQL accept (`$n` placeholders, no `RETURNING`-only
//! features, integers instead of booleans and timestamps).

mod authorizer_impl;
mod dialect;
mod fraud_impl;
mod group_commit;
mod migrate;
mod rows;
mod store_impl;
mod tokens_impl;

pub use dialect::Backend;

use crate::StoreError;
use sqlx::any::{AnyPoolOptions, AnyQueryResult};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::time::Duration;

/// How long a request waits for a pooled connection before failing, by default.
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 5_000;
/// How long SQLite waits for the write lock held by another connection.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// The writer the terminal path's money writes share transactions on.
    group: group_commit::GroupCommit,
}

impl std::fmt::Debug for SqlStore {
    // The pool's options hold the URL, which may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects to `url` (`sqlite:...` or `postgres://...`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT_MS).await
    }

    /// [`Self::connect`], waiting at most `acquire_timeout_ms` for a pooled connection (a
    /// database that is down or restarting fails fast instead of queueing every request).
    pub async fn connect_with(url: &str, acquire_timeout_ms: u64) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = backend.normalise_url(url);
        let mut options = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            .acquire_timeout(Duration::from_millis(acquire_timeout_ms.max(1)))
            .after_release(|conn, _meta| Box::pin(release_outside_transaction(conn)));
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    for pragma in sqlite_pragmas() {
                        conn.execute(pragma.as_str()).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        let group = group_commit::GroupCommit::start(pool.clone(), backend);
        let store = Self { pool, backend, group };
        migrate::run(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that will write. SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of failing
    /// when a read lock cannot be upgraded.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Keeps a returned connection only if it is outside any transaction.
///
/// A request cancelled at the wrong await inside sqlx's `begin_with` (the deadline, or a
/// client hanging up) leaves the connection inside a transaction no `Transaction` value
/// owns: nobody can commit or roll it back, and on SQLite it holds the database's write
/// lock. Returned to the pool it would fail every later transaction. The ping first lets
/// the connection finish what was queued on it (a `BEGIN` in flight, a dropped
/// transaction's rollback), so the depth read after it is final. Closing such a connection
/// rolls its transaction back; the pool opens a fresh one when needed.
async fn release_outside_transaction(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("closing a pooled connection left inside a cancelled transaction");
        return Ok(false);
    }
    Ok(true)
}

/// Durability first: WAL with `synchronous=FULL` makes an acknowledged commit survive power
/// loss; foreign keys are off by default in SQLite.
fn sqlite_pragmas() -> Vec<String> {
    vec![
        "PRAGMA journal_mode = WAL".into(),
        "PRAGMA synchronous = FULL".into(),
        "PRAGMA foreign_keys = ON".into(),
        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
    ]
}

/// An UPDATE guarded by `version = $n` touched no row: someone else wrote first.
fn expect_one(result: AnyQueryResult) -> Result<(), StoreError> {
    match result.rows_affected() {
        1 => Ok(()),
        0 => Err(StoreError::VersionConflict),
        n => Err(StoreError::Corrupt(format!("guarded update touched {n} rows"))),
    }
}
