use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The row changed since it was read (optimistic concurrency): the caller re-reads and
    /// decides again.
    #[error("changed concurrently")]
    VersionConflict,
    /// A uniqueness rule was hit; the value names which (`email`, `plate`, ...).
    #[error("already exists: {0}")]
    Duplicate(&'static str),
    /// A CHECK constraint refused the write; the value names which rule (`funds`: the
    /// fleet account does not cover a hold, `docs/ARCHITECTURE.md` "The ledger balances").
    #[error("refused by the database's rule: {0}")]
    CheckFailed(&'static str),
    /// The idempotency key was recorded by a concurrent request first.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    /// The group a write puts an object into is deactivated (`Effects::into_group`).
    #[error("the group is deactivated")]
    GroupDeactivated,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// From the SQLite group commit's own connection (`sql/lite.rs`).
    #[error("database error")]
    Sqlite(#[source] rusqlite::Error),
    /// From PostgreSQL's pipelined connections (`sql/pg.rs`).
    #[error("database error")]
    Postgres(#[source] tokio_postgres::Error),
    /// The group commit this write joined did not commit (its cause is logged once by the
    /// writer): nothing of the write is stored. `unavailable`: the database could not be
    /// reached or locked in time, as [`Self::is_unavailable`] means it.
    #[error("the group commit this write joined did not commit")]
    BatchAborted { unavailable: bool },
}

impl StoreError {
    /// The database could not be reached or is restarting (no pooled connection in time, a
    /// broken connection, an administrator shutdown, a lock not granted in time): an outage
    /// to retry after, unlike a failed query. A connection lost during `COMMIT` may still
    /// have committed; terminals reconcile with a timeout reversal (docs/TERMINAL-API.md).
    pub fn is_unavailable(&self) -> bool {
        if let StoreError::BatchAborted { unavailable } = self {
            return *unavailable;
        }
        if let StoreError::Sqlite(e) = self {
            // SQLITE_BUSY / SQLITE_LOCKED past the busy timeout, as below.
            use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
            return matches!(e.sqlite_error_code(), Some(DatabaseBusy | DatabaseLocked));
        }
        if let StoreError::Postgres(e) = self {
            // A closed or unreachable connection, or the classes below.
            let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
            let code = e.code().map(tokio_postgres::error::SqlState::code);
            return e.is_closed()
                || io
                || code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P"));
        }
        let StoreError::Database(e) = self else { return false };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => match db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                // SQLITE_BUSY / SQLITE_LOCKED (primary code of an extended one) past the
                // busy timeout.
                Some(_) => db
                    .code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
                // PostgreSQL: class 08 connection exception, 57P0x admin shutdown, crash
                // shutdown, cannot connect now (starting up).
                None => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            },
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Duplicate(unique_target(db.message(), db.constraint()))
            }
            sqlx::Error::Database(db) if db.is_check_violation() => {
                StoreError::CheckFailed(check_target(db.message(), db.constraint()))
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Names the uniqueness rule that was hit, from the PostgreSQL constraint name or the SQLite
/// message ("UNIQUE constraint failed: users.email").
pub(crate) fn unique_target(message: &str, constraint: Option<&str>) -> &'static str {
    let text = constraint.unwrap_or(message);
    const TARGETS: &[(&str, &str)] = &[
        ("idempotency_keys", "idempotency_key"),
        ("terminal_nonces", "nonce"),
        ("email", "email"),
        ("plate", "plate"),
        ("fingerprint", "pan"),
        ("invite", "invite"),
    ];
    TARGETS.iter().find(|(needle, _)| text.contains(needle)).map_or("row", |(_, name)| name)
}

/// Names the CHECK rule that refused a write, from the PostgreSQL constraint name or the
/// SQLite message, which quotes an unnamed constraint's expression ("CHECK constraint
/// failed: available + credit_limit >= 0").
pub(crate) fn check_target(message: &str, constraint: Option<&str>) -> &'static str {
    let text = constraint.unwrap_or(message);
    const TARGETS: &[(&str, &str)] =
        &[("accounts_funds_cover", "funds"), ("available + credit_limit >= 0", "funds")];
    TARGETS.iter().find(|(needle, _)| text.contains(needle)).map_or("row", |(_, name)| name)
}
