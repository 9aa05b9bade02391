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
    /// The idempotency key was recorded by a concurrent request first.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Duplicate(unique_target(db.message(), db.constraint()))
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Names the uniqueness rule that was hit, from the PostgreSQL constraint name or the SQLite
/// message ("UNIQUE constraint failed: users.email").
fn unique_target(message: &str, constraint: Option<&str>) -> &'static str {
    let text = constraint.unwrap_or(message);
    const TARGETS: &[(&str, &str)] = &[
        ("idempotency_keys", "idempotency_key"),
        ("email", "email"),
        ("plate", "plate"),
        ("fingerprint", "pan"),
        ("invite", "invite"),
    ];
    TARGETS.iter().find(|(needle, _)| text.contains(needle)).map_or("row", |(_, name)| name)
}
