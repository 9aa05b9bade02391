//! Group commit on SQLite: the terminal path's writes share transactions, and so fsyncs.
//!
//! SQLite runs one write transaction at a time, and with `synchronous=FULL` each commit
//! costs an fsync of the WAL; that, not the CPU, bounded how many authorizations a second
//! it took. So the money writes of the terminal path (the request nonce, the
//! pre-authorization commit, completion, release) are queued to one writer task, which
//! runs whatever is waiting as one transaction: each job inside its own savepoint, so a job
//! that refuses (a limit, funds, a replayed ATC) or fails rolls back alone, then one
//! `COMMIT` for the batch. A job's caller hears its result only after that `COMMIT`: an
//! answer never reports a write that could still be lost.
//!
//! Jobs run one after another on one connection, so each sees every earlier job's writes
//! and the database's conditional updates stay the arbiter of funds, limits and replay,
//! exactly as with one transaction per job. The writer is its own task: a caller that
//! gives up (a deadline, a client hanging up) stops waiting, never the write.
//!
//! PostgreSQL does not use it: it already flushes the WAL of concurrent commits together,
//! and its transactions run in parallel on all cores, which measured faster than one
//! serialized writer (docs/BENCHMARKS.md); one writer per node would also need a lock
//! across nodes, or two nodes' batches deadlock on each other's row locks.

use super::batch::Batch;
use crate::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    /// The work returned an error (not a refusal).
    failed: bool,
    settle: Box<dyn FnOnce(Result<(), BatchFailure>) + Send>,
}

/// How a job is set apart from the other jobs of its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isolation {
    /// In a savepoint: a refusal rolls back all the job wrote.
    Savepoint,
    /// None: one statement batch whose refusal leaves nothing it must undo (a nonce
    /// already seen fails its INSERT alone), so what it wrote is kept either way; one
    /// that fails outright stops the whole group commit, which rolls back.
    None,
}

type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection, Batch) -> BoxFuture<'c, Ran> + Send>;

/// Why a batch did not commit, copied to each of its jobs (the cause is logged once).
#[derive(Debug, Clone, Copy)]
struct BatchFailure {
    unavailable: bool,
}

/// The handle callers queue jobs on; cloning shares the one writer.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<(Isolation, Job)>,
}

impl GroupCommit {
    /// Starts the writer task on the current runtime.
    pub(super) fn start(pool: AnyPool) -> Self {
        let (jobs, queue) = mpsc::channel(MAX_QUEUED_JOBS);
        tokio::spawn(writer(pool, queue));
        Self { jobs }
    }

    /// Runs `work` inside the next batch. `work` answers whether to keep what it wrote
    /// (false rolls back its savepoint: a refusal, or any error) and its result, which
    /// reaches the caller once the batch committed.
    pub(super) async fn run<T, F>(&self, isolation: Isolation, work: F) -> R<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection, Batch) -> BoxFuture<'c, (bool, R<T>)>
            + Send
            + 'static,
    {
        let (answer, answered) = oneshot::channel::<R<T>>();
        let job: Job = Box::new(move |conn, first| {
            Box::pin(async move {
                let (keep, result) = work(conn, first).await;
                let failed = result.is_err();
                let keep = keep && !failed;
                let settle = Box::new(move |batch: Result<(), BatchFailure>| {
                    let _ = answer.send(batch.map_err(StoreError::from).and(result));
                });
                Ran { keep, failed, settle }
            })
        });
        self.jobs
            .send((isolation, job))
            .await
            .map_err(|_| StoreError::from(BatchFailure::stopped()))?;
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

async fn writer(pool: AnyPool, mut queue: mpsc::Receiver<(Isolation, Job)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH_JOBS);
    while queue.recv_many(&mut batch, MAX_BATCH_JOBS).await > 0 {
        run_batch(&pool, batch.drain(..)).await;
    }
}

async fn run_batch(pool: &AnyPool, jobs: impl Iterator<Item = (Isolation, Job)>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return log_failure("no connection for a group commit", &e),
    };
    // Take the write lock at once, as `SqlStore::begin_write` does.
    if let Err(e) = conn.execute("BEGIN IMMEDIATE").await {
        conn.close_on_drop();
        return log_failure("group commit could not begin", &e);
    }
    let mut settles = Vec::with_capacity(MAX_BATCH_JOBS);
    let mut outcome = Ok(());
    for (isolation, job) in jobs {
        match run_job(&mut conn, isolation, job).await {
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

/// Runs one job, in its own savepoint unless queued without (the savepoint opens in the
/// job's first statement batch); an error here breaks the whole batch. Savepoints are not
/// released one by one: nested ones cost SQLite nothing, `ROLLBACK TO` undoes the most
/// recent of that name, and `COMMIT` releases them all (one statement less per job).
async fn run_job(
    conn: &mut PoolConnection<Any>,
    isolation: Isolation,
    job: Job,
) -> Result<Box<dyn FnOnce(Result<(), BatchFailure>) + Send>, BatchFailure> {
    let taken = Arc::new(AtomicBool::new(false));
    let first = match isolation {
        Isolation::Savepoint => Batch::in_savepoint(&taken),
        Isolation::None => Batch::new(),
    };
    let ran = job(conn, first).await;
    if ran.keep {
        return Ok(ran.settle);
    }
    let undone = match isolation {
        // `ROLLBACK TO` goes to the most recent savepoint of the name: only this job's
        // own, once its first batch took it. A job that failed before taking it wrote
        // nothing of its own, but the batch is not trusted further.
        Isolation::Savepoint if taken.load(Ordering::Acquire) => {
            finish(conn, "ROLLBACK TO SAVEPOINT job").await
        }
        Isolation::Savepoint | Isolation::None if ran.failed => {
            Err(BatchFailure { unavailable: true })
        }
        // Refused without writing (no savepoint taken), or a refusal that keeps its writes.
        Isolation::Savepoint | Isolation::None => Ok(()),
    };
    if let Err(failure) = undone {
        (ran.settle)(Err(failure));
        return Err(failure);
    }
    Ok(ran.settle)
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
