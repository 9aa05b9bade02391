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
//! exactly as with one transaction per job. The writer is its own thread with its own
//! connection (`lite.rs`), so a job's statements run there without a thread switch each;
//! a caller that gives up (a deadline, a client hanging up) stops waiting, never the write.
//!
//! PostgreSQL does not use it: it already flushes the WAL of concurrent commits together,
//! and its transactions run in parallel on all cores, which measured faster than one
//! serialized writer (docs/BENCHMARKS.md); one writer per node would also need a lock
//! across nodes, or two nodes' batches deadlock on each other's row locks.

use super::batch::{Batch, Tx};
use crate::StoreError;
use rusqlite::Connection;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one transaction: bounds how long one batch holds the write lock.
pub const MAX_BATCH_JOBS: usize = 128;
/// Most jobs waiting for the writer; a caller past it waits for room (back-pressure).
const MAX_QUEUED_JOBS: usize = 4_096;

type R<T> = Result<T, StoreError>;
/// A boxed future borrowing the batch's connection for `'c`.
pub(super) type BoxFuture<'c, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// What a job reports once it ran: keep its writes or roll its savepoint back, and how to
/// tell its caller once the batch's fate is known.
struct Ran {
    keep: bool,
    /// The work returned an error (not a refusal).
    failed: bool,
    settle: Settle,
}

/// Tells a job's caller the batch's fate.
type Settle = Box<dyn FnOnce(Result<(), BatchFailure>) + Send>;

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

type Job = Box<dyn for<'c> FnOnce(Tx<'c>, Batch) -> BoxFuture<'c, Ran> + Send>;

/// Why a batch did not commit, copied to each of its jobs (the cause is logged once).
#[derive(Debug, Clone, Copy)]
struct BatchFailure {
    unavailable: bool,
}

/// The handle callers queue jobs on; cloning shares the one writer.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<(Isolation, Job)>,
    closed: Arc<AtomicBool>,
}

impl GroupCommit {
    /// Opens the writer's connection to the database file and starts its thread.
    pub(super) fn start(path: &Path) -> R<Self> {
        let pragmas = super::sqlite_pragmas();
        let conn = super::lite::open(path, &pragmas)?;
        let (jobs, queue) = mpsc::channel(MAX_QUEUED_JOBS);
        let closed = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            conn: Some(conn),
            path: path.to_owned(),
            pragmas,
            closed: Arc::clone(&closed),
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        Ok(Self { jobs, closed })
    }

    /// No batch starts after this; queued and later jobs fail as unavailable.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Runs `work` inside the next batch. `work` answers whether to keep what it wrote
    /// (false rolls back its savepoint: a refusal, or any error) and its result, which
    /// reaches the caller once the batch committed.
    pub(super) async fn run<T, F>(&self, isolation: Isolation, work: F) -> R<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(Tx<'c>, Batch) -> BoxFuture<'c, (bool, R<T>)> + Send + 'static,
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
        if self.closed.load(Ordering::Acquire) {
            return Err(BatchFailure::stopped().into());
        }
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

/// The writer thread's state: its connection, reopened after a batch that failed.
struct Writer {
    conn: Option<Connection>,
    path: PathBuf,
    pragmas: Vec<String>,
    closed: Arc<AtomicBool>,
}

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<(Isolation, Job)>) {
        let mut batch = Vec::with_capacity(MAX_BATCH_JOBS);
        while let Some(first) = queue.blocking_recv() {
            if self.closed.load(Ordering::Acquire) {
                // Dropping the jobs drops their answers: each caller hears "unavailable".
                return;
            }
            batch.push(first);
            while batch.len() < MAX_BATCH_JOBS {
                let Ok(next) = queue.try_recv() else { break };
                batch.push(next);
            }
            self.run_batch(batch.drain(..));
        }
    }

    fn connection(&mut self) -> R<&mut Connection> {
        if self.conn.is_none() {
            self.conn = Some(super::lite::open(&self.path, &self.pragmas)?);
        }
        Ok(self.conn.as_mut().expect("opened above"))
    }

    fn run_batch(&mut self, jobs: impl Iterator<Item = (Isolation, Job)>) {
        let conn = match self.connection() {
            Ok(conn) => conn,
            Err(e) => return log_failure("no connection for a group commit", &e),
        };
        // Take the write lock at once, as `SqlStore::begin_write` does.
        if let Err(e) = super::lite::execute(conn, "BEGIN IMMEDIATE") {
            self.conn = None;
            return log_failure("group commit could not begin", &e);
        }
        let mut settles = Vec::with_capacity(MAX_BATCH_JOBS);
        let mut outcome = Ok(());
        for (isolation, job) in jobs {
            match run_job(conn, isolation, job) {
                Ok(settle) => settles.push(settle),
                Err(failure) => {
                    outcome = Err(failure);
                    break;
                }
            }
        }
        if outcome.is_ok() {
            outcome = finish(conn, "COMMIT");
        }
        if outcome.is_err() {
            // The transaction may be half-done: roll back and never reuse the connection.
            let _ = super::lite::execute(conn, "ROLLBACK");
            self.conn = None;
        }
        for settle in settles {
            settle(outcome);
        }
    }
}

/// Runs one job, in its own savepoint unless queued without (the savepoint opens in the
/// job's first statement batch); an error here breaks the whole batch. Savepoints are not
/// released one by one: nested ones cost SQLite nothing, `ROLLBACK TO` undoes the most
/// recent of that name, and `COMMIT` releases them all (one statement less per job).
fn run_job(conn: &mut Connection, isolation: Isolation, job: Job) -> Result<Settle, BatchFailure> {
    let taken = Arc::new(AtomicBool::new(false));
    let first = match isolation {
        Isolation::Savepoint => Batch::in_savepoint(&taken),
        Isolation::None => Batch::new(),
    };
    let Some(ran) = poll_once(job(Tx::Lite(&mut *conn), first)) else {
        tracing::error!("a group commit job waited on something other than its statements");
        return Err(BatchFailure { unavailable: false });
    };
    if ran.keep {
        return Ok(ran.settle);
    }
    let undone = match isolation {
        // `ROLLBACK TO` goes to the most recent savepoint of the name: only this job's
        // own, once its first batch took it. A job that failed before taking it wrote
        // nothing of its own, but the batch is not trusted further.
        Isolation::Savepoint if taken.load(Ordering::Acquire) => {
            finish(conn, "ROLLBACK TO SAVEPOINT job")
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

/// A job's future on this thread: its statements run in place (`Tx::Lite`), so it is
/// ready at the first poll. One that is not (it awaited something else) is dropped.
fn poll_once<T>(mut job: BoxFuture<'_, T>) -> Option<T> {
    match job.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(ran) => Some(ran),
        Poll::Pending => None,
    }
}

fn finish(conn: &Connection, statement: &str) -> Result<(), BatchFailure> {
    match super::lite::execute(conn, statement) {
        Ok(()) => Ok(()),
        Err(e) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh database file with one table, and a writer on it.
    fn writer_on_fresh_file() -> (GroupCommit, Connection, PathBuf) {
        let dir = std::env::temp_dir().join(format!("forecourt-gc-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gc.db");
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)").unwrap();
        (GroupCommit::start(&path).unwrap(), reader, dir)
    }

    async fn insert(group: &GroupCommit, key: &'static str) -> R<usize> {
        group
            .run(Isolation::Savepoint, move |mut tx, mut first| {
                Box::pin(async move {
                    first.push("INSERT INTO t (k) VALUES ($1)", vec![key.into()]);
                    let done = tx.run(first).await.map(|done| done.len());
                    (true, done)
                })
            })
            .await
    }

    fn keys(reader: &Connection) -> Vec<String> {
        let mut select = reader.prepare("SELECT k FROM t ORDER BY k").unwrap();
        select.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }

    /// A job that waits on anything but its statements fails its batch (rolled back)
    /// instead of stalling the writer, which goes on with the next batch.
    #[tokio::test]
    async fn a_job_that_would_wait_fails_and_the_writer_goes_on() {
        let (group, reader, dir) = writer_on_fresh_file();
        let waited = group
            .run(Isolation::Savepoint, |mut tx, mut first| {
                Box::pin(async move {
                    first.push("INSERT INTO t (k) VALUES ($1)", vec!["lost".into()]);
                    let _ = tx.run(first).await;
                    tokio::task::yield_now().await;
                    (true, Ok(()))
                })
            })
            .await;
        // Its answer went with the dropped future: the caller hears the batch did not commit.
        assert!(matches!(waited, Err(StoreError::BatchAborted { .. })), "{waited:?}");
        assert_eq!(insert(&group, "kept").await.unwrap(), 2, "SAVEPOINT and INSERT");
        assert_eq!(keys(&reader), ["kept"], "the waiting job's INSERT was rolled back");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A refused job rolls back alone; the others of its batch commit.
    #[tokio::test]
    async fn a_refusing_job_rolls_back_alone() {
        let (group, reader, dir) = writer_on_fresh_file();
        let refused = group.run(Isolation::Savepoint, |mut tx, mut first| {
            Box::pin(async move {
                first.push("INSERT INTO t (k) VALUES ($1)", vec!["refused".into()]);
                let done = tx.run(first).await.map(|_| ());
                (false, done)
            })
        });
        let (a, refused, b) = tokio::join!(insert(&group, "a"), refused, insert(&group, "b"));
        assert!(a.is_ok() && b.is_ok() && refused.is_ok(), "{a:?} {refused:?} {b:?}");
        assert_eq!(keys(&reader), ["a", "b"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// After `close`, writes fail at once as unavailable, and nothing more is written.
    #[tokio::test]
    async fn after_close_writes_fail_as_unavailable() {
        let (group, reader, dir) = writer_on_fresh_file();
        insert(&group, "before").await.unwrap();
        group.close();
        let after = insert(&group, "after").await;
        assert!(matches!(after, Err(StoreError::BatchAborted { unavailable: true })), "{after:?}");
        assert!(StoreError::BatchAborted { unavailable: true }.is_unavailable());
        assert_eq!(keys(&reader), ["before"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
