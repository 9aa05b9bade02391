//! Group commit: the terminal path's writes share transactions, and so their fsyncs.
//!
//! A durable commit costs one log flush (an fsync on SQLite, a WAL flush on PostgreSQL),
//! and on this class of disk that flush, not the CPU, bounds how many authorizations a
//! second one database takes. So the money writes of the terminal path (the request nonce,
//! the pre-authorization commit, completion, release) are queued to one writer task, which
//! runs whatever is waiting as one transaction: each job inside its own savepoint, so a job
//! that refuses (a limit, funds, a replayed ATC) or fails rolls back alone, then one
//! `COMMIT` for the batch. A job's caller hears its result only after that `COMMIT`: an
//! answer never reports a write that could still be lost.
//!
//! Jobs run one after another on one connection, so each sees every earlier job's writes
//! and the database's conditional updates stay the arbiter of funds, limits and replay,
//! exactly as with one transaction per job. One writer also means a batch never waits on
//! another batch's row locks (two batches, each holding several jobs' locks, could
//! deadlock on PostgreSQL). The writer is its own task: a caller that gives up (a deadline,
//! a client hanging up) stops waiting, never the write.

use super::Backend;
use crate::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one transaction: bounds how long one batch holds the write lock.
pub const MAX_BATCH_JOBS: usize = 128;
/// Most jobs waiting for the writer; a caller past it waits for room (back-pressure).
const MAX_QUEUED_JOBS: usize = 4_096;

type R<T> = Result<T, StoreError>;
/// A boxed future borrowing the batch's connection for `'c`.
pub(super) type BoxFuture<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'c>>;

/// What a job reports once it ran: keep its writes or roll its savepoint back, and how to
/// tell its caller once the batch's fate is known.
struct Ran {
    keep: bool,
    settle: Box<dyn FnOnce(Result<(), BatchFailure>) + Send>,
}

type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Ran> + Send>;

/// Why a batch did not commit, copied to each of its jobs (the cause is logged once).
#[derive(Debug, Clone, Copy)]
struct BatchFailure {
    unavailable: bool,
}

/// The handle callers queue jobs on; cloning shares the one writer.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer task on the current runtime.
    pub(super) fn start(pool: AnyPool, backend: Backend) -> Self {
        let (jobs, queue) = mpsc::channel(MAX_QUEUED_JOBS);
        tokio::spawn(writer(pool, backend, queue));
        Self { jobs }
    }

    /// Runs `work` inside the next batch. `work` answers whether to keep what it wrote
    /// (false rolls back its savepoint: a refusal, or any error) and its result, which
    /// reaches the caller once the batch committed.
    pub(super) async fn run<T, F>(&self, work: F) -> R<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, (bool, R<T>)> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<R<T>>();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let (keep, result) = work(conn).await;
                let keep = keep && result.is_ok();
                let settle = Box::new(move |batch: Result<(), BatchFailure>| {
                    let _ = answer.send(batch.map_err(StoreError::from).and(result));
                });
                Ran { keep, settle }
            })
        });
        self.jobs.send(job).await.map_err(|_| StoreError::from(BatchFailure::stopped()))?;
        // A dropped answer means the batch never ran its job (no connection, or BEGIN failed).
        answered.await.map_err(|_| StoreError::from(BatchFailure { unavailable: true }))?
    }
}

impl BatchFailure {
    fn stopped() -> Self {
        Self { unavailable: true }
    }
}

impl From<BatchFailure> for StoreError {
    fn from(f: BatchFailure) -> Self {
        StoreError::BatchAborted { unavailable: f.unavailable }
    }
}

/// The transaction-scoped advisory lock every node's batch takes on PostgreSQL (the key
/// is any fixed number, here "Fore" in ASCII).
const PG_BATCH_LOCK: &str = "SELECT pg_advisory_xact_lock(1181708901)";

/// The statements a batch runs around its jobs, per backend.
struct Dialect {
    begin: &'static [&'static str],
    /// Release each job's savepoint after it. SQLite need not: nested savepoints cost it
    /// nothing, `ROLLBACK TO` undoes the most recent one of that name, and `COMMIT`
    /// releases them all (one statement less per job). PostgreSQL must: past 64 nested
    /// subtransactions each backend's snapshot gets slow.
    release_each: bool,
}

async fn writer(pool: AnyPool, backend: Backend, mut queue: mpsc::Receiver<Job>) {
    let dialect = match backend {
        // Take the write lock at once, as `SqlStore::begin_write` does.
        Backend::Sqlite => Dialect { begin: &["BEGIN IMMEDIATE"], release_each: false },
        // Batches of two nodes must not interleave: each holds many jobs' row locks until
        // its COMMIT, and two such sets taken in different orders deadlock (PostgreSQL
        // then aborts a whole batch). The lock serializes them, as SQLite's does.
        Backend::Postgres => Dialect { begin: &["BEGIN", PG_BATCH_LOCK], release_each: true },
    };
    let mut batch = Vec::with_capacity(MAX_BATCH_JOBS);
    while queue.recv_many(&mut batch, MAX_BATCH_JOBS).await > 0 {
        run_batch(&pool, &dialect, batch.drain(..)).await;
    }
}

async fn run_batch(pool: &AnyPool, dialect: &Dialect, jobs: impl Iterator<Item = Job>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return log_failure("no connection for a group commit", &e),
    };
    for statement in dialect.begin {
        if let Err(e) = conn.execute(*statement).await {
            let _ = conn.execute("ROLLBACK").await;
            conn.close_on_drop();
            return log_failure("group commit could not begin", &e);
        }
    }
    let mut settles = Vec::with_capacity(MAX_BATCH_JOBS);
    let mut outcome = Ok(());
    for job in jobs {
        match run_job(&mut conn, job, dialect.release_each).await {
            Ok(settle) => settles.push(settle),
            Err(failure) => {
                outcome = Err(failure);
                break;
            }
        }
    }
    if outcome.is_ok() {
        outcome = finish(&mut conn, "COMMIT").await;
    }
    if outcome.is_err() {
        // The transaction may be half-done: roll back and never reuse the connection.
        let _ = conn.execute("ROLLBACK").await;
        conn.close_on_drop();
    }
    for settle in settles {
        settle(outcome);
    }
}

/// Runs one job in its own savepoint; an error here breaks the whole batch.
async fn run_job(
    conn: &mut PoolConnection<Any>,
    job: Job,
    release: bool,
) -> Result<Box<dyn FnOnce(Result<(), BatchFailure>) + Send>, BatchFailure> {
    finish(conn, "SAVEPOINT job").await?;
    let ran = job(conn).await;
    let mut ended = Ok(());
    if !ran.keep {
        ended = finish(conn, "ROLLBACK TO SAVEPOINT job").await;
    }
    if ended.is_ok() && release {
        ended = finish(conn, "RELEASE SAVEPOINT job").await;
    }
    match ended {
        Ok(()) => Ok(ran.settle),
        Err(failure) => {
            (ran.settle)(Err(failure));
            Err(failure)
        }
    }
}

async fn finish(conn: &mut PoolConnection<Any>, statement: &str) -> Result<(), BatchFailure> {
    match conn.execute(statement).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = StoreError::from(e);
            let failure = BatchFailure { unavailable: e.is_unavailable() };
            log_failure("group commit failed", &e);
            Err(failure)
        }
    }
}

fn log_failure(what: &str, e: &dyn std::fmt::Display) {
    // Driver messages name the failure, never a bound value (see issuing's error mapping).
    tracing::warn!(error = %e, "{what}");
}
