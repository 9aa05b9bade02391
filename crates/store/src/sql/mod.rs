//! The one SQL implementation of [`crate::Store`], over sqlx's `Any` driver so that the
//! backend is chosen at run time from the URL. Queries are runtime-checked strings written
//! in the subset both SQLite and PostgreSQL accept (`$n` placeholders, no `RETURNING`-only
//! features, integers instead of booleans and timestamps).

mod authorizer_impl;
mod batch;
mod dialect;
mod fraud_impl;
mod group_commit;
mod lite;
mod migrate;
mod pg;
mod readers;
mod rows;
mod snapshot_impl;
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

/// What a write's work answers: keep what it wrote, and its result.
type Work<T> = (bool, Result<T, StoreError>);

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// What the terminal path's reads and writes run on ([`SqlStore::read`],
    /// [`SqlStore::write`]); the rest of the store uses `pool`.
    hot: HotPath,
}

#[derive(Clone)]
enum HotPath {
    /// The writer the money writes share transactions on, and the reader threads.
    Sqlite { group: group_commit::GroupCommit, readers: readers::Readers },
    /// The pipelined connections.
    Postgres(pg::PgPool),
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
            // sqlx pings every connection on release, which drains what was queued on it;
            // after that its transaction depth is final, so the check runs at acquire.
            .before_acquire(|conn, _meta| Box::pin(async move { Ok(outside_transaction(conn)) }))
            // A ping before every query is a second worker round trip per statement on
            // SQLite (the profile's largest cost); a connection PostgreSQL dropped is worth
            // finding before a request uses it.
            .test_before_acquire(backend == Backend::Postgres);
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
        let hot = match backend {
            Backend::Sqlite => {
                let file = sqlite_file(&url)?;
                let readers =
                    readers::Readers::start(&file, &sqlite_pragmas(), readers::READER_THREADS)?;
                HotPath::Sqlite { group: group_commit::GroupCommit::start(&file)?, readers }
            }
            Backend::Postgres => {
                let timeout = Duration::from_millis(acquire_timeout_ms.max(1));
                HotPath::Postgres(pg::PgPool::new(&url, timeout)?)
            }
        };
        let store = Self { pool, backend, hot };
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

    /// Runs one money write of the terminal path: `work` says whether to keep what it
    /// wrote, and its result. SQLite: in the next group commit ([`group_commit`]), inside
    /// a savepoint of its own; PostgreSQL: in a transaction of its own. `work` gets the
    /// batch its first statements must go into (on SQLite it opens the savepoint, so that
    /// costs no trip of its own).
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(batch::Tx<'c>, batch::Batch) -> group_commit::BoxFuture<'c, Work<T>>
            + Send
            + 'static,
    {
        self.write_with(group_commit::Isolation::Savepoint, work).await
    }

    /// [`Self::write`] for work that is one statement batch whose refusal leaves nothing
    /// it must undo: on SQLite no savepoint, and what it wrote is kept.
    async fn write_unguarded<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(batch::Tx<'c>, batch::Batch) -> group_commit::BoxFuture<'c, Work<T>>
            + Send
            + 'static,
    {
        self.write_with(group_commit::Isolation::None, work).await
    }

    async fn write_with<T, F>(
        &self,
        isolation: group_commit::Isolation,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(batch::Tx<'c>, batch::Batch) -> group_commit::BoxFuture<'c, Work<T>>
            + Send
            + 'static,
    {
        match &self.hot {
            HotPath::Sqlite { group, .. } => group.run(isolation, work).await,
            HotPath::Postgres(pg) => write_pipelined(pg, work).await,
        }
    }

    /// Runs a read batch of the terminal path: on SQLite on a reader thread ([`readers`]),
    /// on PostgreSQL pipelined ([`pg`]).
    async fn read(&self, batch: batch::Batch) -> Result<Vec<batch::Done>, StoreError> {
        match &self.hot {
            HotPath::Sqlite { readers, .. } => readers.run(batch).await,
            HotPath::Postgres(pg) => batch.run_pipelined(pg.acquire().await?.conn()).await,
        }
    }

    /// [`Self::read`] of one statement.
    async fn read_one(
        &self,
        sql: impl Into<String>,
        values: Vec<batch::Value>,
    ) -> Result<batch::Done, StoreError> {
        let mut b = batch::Batch::new();
        b.push(sql, values);
        let mut done = self.read(b).await?;
        done.pop().ok_or_else(|| StoreError::Corrupt("a read of one statement ran none".into()))
    }

    /// [`Self::read_one`] that expects a row: [`StoreError::NotFound`] when there is none.
    async fn read_row(
        &self,
        sql: impl Into<String>,
        values: Vec<batch::Value>,
    ) -> Result<batch::Row, StoreError> {
        self.read_one(sql, values).await?.rows.into_iter().next().ok_or(StoreError::NotFound)
    }

    /// Closes the pool; the terminal path's writer, readers or pipelined pool take no more
    /// work.
    pub async fn close(&self) {
        match &self.hot {
            HotPath::Sqlite { group, readers } => {
                group.close();
                readers.close();
            }
            HotPath::Postgres(pg) => pg.close(),
        }
        self.pool.close().await;
    }
}

/// A write on PostgreSQL's pipelined pool: `BEGIN` goes with the work's first batch,
/// `COMMIT` if it keeps what it wrote, else `ROLLBACK`. A connection whose transaction did
/// not end (cancelled, or the rollback failed) is closed, never reused (`pg::Lease`).
async fn write_pipelined<T, F>(pg: &pg::PgPool, work: F) -> Result<T, StoreError>
where
    F: for<'c> FnOnce(batch::Tx<'c>, batch::Batch) -> group_commit::BoxFuture<'c, Work<T>>,
{
    let mut lease = pg.acquire().await?;
    let (keep, result) = work(batch::Tx::Pg(lease.conn()), batch::Batch::beginning()).await;
    if !lease.conn().in_transaction() {
        // The work's last batch carried `COMMIT` (`Tx::run_last`): committed if that
        // batch succeeded, rolled back by the statement that failed otherwise.
        return result;
    }
    let end = if keep && result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let mut finish = batch::Batch::new();
    finish.push(end, Vec::new());
    let ended = finish.run_pipelined(lease.conn()).await;
    if end == "COMMIT" {
        ended?;
    }
    result
}

/// Hands out a pooled connection only if it is outside any transaction.
///
/// A request cancelled at the wrong await inside sqlx's `begin_with` (the deadline, or a
/// client hanging up) leaves the connection inside a transaction no `Transaction` value
/// owns: nobody can commit or roll it back, and on SQLite it holds the database's write
/// lock. Handed out again it would fail every later transaction. sqlx's ping on release
/// lets the connection finish what was queued on it (a `BEGIN` in flight, a dropped
/// transaction's rollback) before it is idle, so the depth read here is final. Refusing
/// closes the connection, which rolls its transaction back; the pool opens a fresh one.
fn outside_transaction(conn: &AnyConnection) -> bool {
    if conn.is_in_transaction() {
        tracing::warn!("closing a pooled connection left inside a cancelled transaction");
        return false;
    }
    true
}

/// Durability first: WAL with `synchronous=FULL` makes an acknowledged commit survive power
/// loss; foreign keys are off by default in SQLite. Temporary files in memory: each group
/// commit job's savepoint copies every page it first changes to the statement subjournal,
/// which is otherwise a file written by syscall (11 % of the server's CPU in the profile,
/// docs/BENCHMARKS.md); it holds nothing that must outlive the transaction.
pub(super) fn sqlite_pragmas() -> Vec<String> {
    vec![
        "PRAGMA journal_mode = WAL".into(),
        "PRAGMA synchronous = FULL".into(),
        "PRAGMA foreign_keys = ON".into(),
        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
        "PRAGMA temp_store = MEMORY".into(),
    ]
}

/// The file a `sqlite:` URL names (the group commit's writer opens it beside the pool).
fn sqlite_file(url: &str) -> Result<std::path::PathBuf, StoreError> {
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    let path = options.get_filename();
    if path == std::path::Path::new(":memory:") {
        return Err(StoreError::Corrupt("an in-memory SQLite database has no writer".into()));
    }
    Ok(path.to_owned())
}

/// An UPDATE guarded by `version = $n` touched no row: someone else wrote first.
fn expect_one(result: AnyQueryResult) -> Result<(), StoreError> {
    expect_one_row(result.rows_affected())
}

/// [`expect_one`] of a batch statement's `rows_affected`.
fn expect_one_row(rows_affected: u64) -> Result<(), StoreError> {
    match rows_affected {
        1 => Ok(()),
        0 => Err(StoreError::VersionConflict),
        n => Err(StoreError::Corrupt(format!("guarded update touched {n} rows"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    async fn pragma(conn: &mut AnyConnection, name: &str) -> String {
        let row = sqlx::query(&format!("PRAGMA {name}")).fetch_one(conn).await.unwrap();
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|v| v.to_string()))
            .unwrap()
    }

    /// Every pooled SQLite connection runs durable (WAL, `synchronous=FULL`) with its
    /// temporary files, the savepoints' subjournal among them, in memory.
    #[tokio::test]
    async fn every_sqlite_connection_gets_the_pragmas() {
        let dir = std::env::temp_dir().join(format!("forecourt-pragmas-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqlStore::connect(&format!("sqlite://{}/p.db", dir.display())).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..Backend::Sqlite.max_connections() {
            let mut conn = store.pool.acquire().await.unwrap();
            assert_eq!(pragma(&mut conn, "journal_mode").await, "wal");
            assert_eq!(pragma(&mut conn, "synchronous").await, "2", "FULL");
            assert_eq!(pragma(&mut conn, "temp_store").await, "2", "MEMORY");
            held.push(conn);
        }
        drop(held);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
