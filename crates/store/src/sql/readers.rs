//! SQLite's hot-path reads on threads of their own, each owning a connection.
//!
//! Through sqlx a read batch is one command to the connection's worker thread, and then one
//! wake-up of the caller per row and per statement result it streams back; after the
//! writer left sqlx, those trips were 30 % of the server's CPU (docs/BENCHMARKS.md). A
//! reader here runs the whole batch where it is and answers once: one hand-over each way.
//! WAL mode lets readers run beside the writer; each statement reads the last commit, as
//! through sqlx.

use super::batch::{Batch, Done};
use crate::StoreError;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// Reader threads, each with its own connection: reads of one request run one after
/// another, so two cores are kept busy by two; a third covers a reader waiting on the disk.
pub(super) const READER_THREADS: usize = 3;

type R<T> = Result<T, StoreError>;
type Read = (Batch, oneshot::Sender<R<Vec<Done>>>);

/// The handle callers queue reads on; cloning shares the threads.
#[derive(Clone)]
pub(super) struct Readers {
    queue: mpsc::Sender<Read>,
    closed: Arc<AtomicBool>,
}

impl Readers {
    /// Opens `threads` connections to the database file and starts a thread for each.
    pub(super) fn start(path: &Path, pragmas: &[String], threads: usize) -> R<Self> {
        let (queue, reads) = mpsc::channel::<Read>();
        let reads = Arc::new(Mutex::new(reads));
        for n in 0..threads {
            let conn = super::lite::open(path, pragmas)?;
            let reads = Arc::clone(&reads);
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{n}"))
                .spawn(move || serve(&conn, &reads))
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        Ok(Self { queue, closed: Arc::new(AtomicBool::new(false)) })
    }

    /// No read runs after this: they fail as the closed pool does.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Runs `batch` on the next free reader.
    pub(super) async fn run(&self, batch: Batch) -> R<Vec<Done>> {
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let (answer, answered) = oneshot::channel();
        self.queue.send((batch, answer)).map_err(|_| closed())?;
        answered.await.map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?
    }
}

/// One reader: takes the next read (the lock is held only while waiting for one), runs it,
/// answers; ends when every handle is gone.
fn serve(conn: &rusqlite::Connection, reads: &Mutex<mpsc::Receiver<Read>>) {
    loop {
        let next = reads.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
        let Ok((batch, answer)) = next else { return };
        // A caller that gave up (its deadline) no longer listens; nothing was written.
        let _ = answer.send(batch.run_here(conn));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::rows::RowExt;

    fn select(k: i64) -> Batch {
        let mut b = Batch::new();
        b.push("SELECT k, v FROM t WHERE k = $1", vec![k.into()]);
        b
    }

    /// Reads see what another connection committed, many at once are each answered with
    /// their own rows, and after `close` a read fails as the closed pool does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_see_commits_are_answered_each_and_stop_at_close() {
        let dir = std::env::temp_dir().join(format!("forecourt-readers-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.db");
        let pragmas = crate::sql::sqlite_pragmas();
        let writer = crate::sql::lite::open_new(&path, &pragmas).unwrap();
        writer.execute_batch("CREATE TABLE t (k BIGINT PRIMARY KEY, v TEXT)").unwrap();
        let readers = Readers::start(&path, &pragmas, READER_THREADS).unwrap();
        for k in 0..64 {
            writer.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", (k, format!("v{k}"))).unwrap();
        }
        let reads = (0..64).map(|k| {
            let readers = readers.clone();
            tokio::spawn(async move { (k, readers.run(select(k)).await) })
        });
        for read in reads {
            let (k, done) = read.await.unwrap();
            let done = done.unwrap();
            assert_eq!(done[0].rows.len(), 1, "row {k}");
            assert_eq!(done[0].rows[0].text("v").unwrap(), format!("v{k}"));
        }
        readers.close();
        let closed = readers.run(select(1)).await;
        assert!(closed.as_ref().is_err_and(StoreError::is_unavailable), "{:?}", closed.err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
