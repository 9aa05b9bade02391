//! A small migration runner: the SQL files are compiled into the binary, applied in order,
//! each in its own transaction, and recorded with a checksum so an edited migration that
//! was already applied is detected instead of silently diverging.

use super::{Backend, SqlStore};
use crate::StoreError;
use sha2::{Digest, Sha256};
use sqlx::{Executor, Row};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "issuing",
        sql: include_str!("../../../../migrations/sqlite/0001_issuing.sql"),
    },
    Migration {
        version: 2,
        name: "tokens",
        sql: include_str!("../../../../migrations/sqlite/0002_tokens.sql"),
    },
    Migration {
        version: 3,
        name: "authorizer",
        sql: include_str!("../../../../migrations/sqlite/0003_authorizer.sql"),
    },
    Migration {
        version: 4,
        name: "fraud",
        sql: include_str!("../../../../migrations/sqlite/0004_fraud.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "issuing",
        sql: include_str!("../../../../migrations/postgres/0001_issuing.sql"),
    },
    Migration {
        version: 2,
        name: "tokens",
        sql: include_str!("../../../../migrations/postgres/0002_tokens.sql"),
    },
    Migration {
        version: 3,
        name: "authorizer",
        sql: include_str!("../../../../migrations/postgres/0003_authorizer.sql"),
    },
    Migration {
        version: 4,
        name: "fraud",
        sql: include_str!("../../../../migrations/postgres/0004_fraud.sql"),
    },
];

pub(super) async fn run(store: &SqlStore) -> Result<(), StoreError> {
    let migrations = match store.backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    for migration in migrations {
        apply(store, migration).await?;
    }
    Ok(())
}

async fn apply(store: &SqlStore, migration: &Migration) -> Result<(), StoreError> {
    let checksum = hex::encode(Sha256::digest(migration.sql.as_bytes()));
    let mut tx = store.begin_write().await?;
    if store.backend == Backend::Postgres {
        // Two servers starting together must not both apply the same migration.
        (&mut *tx).execute("SELECT pg_advisory_xact_lock(4242001)").await?;
    }
    (&mut *tx)
        .execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL)",
        )
        .await?;
    let applied = sqlx::query("SELECT checksum FROM schema_migrations WHERE version = $1")
        .bind(migration.version)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(row) = applied {
        let recorded: String = row.try_get("checksum")?;
        if recorded != checksum {
            return Err(StoreError::Corrupt(format!(
                "migration {} ({}) was changed after it was applied",
                migration.version, migration.name
            )));
        }
        return Ok(());
    }
    // Multi-statement migration text runs as one unprepared batch.
    (&mut *tx).execute(migration.sql).await?;
    sqlx::query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)")
        .bind(migration.version)
        .bind(migration.name)
        .bind(&checksum)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(version = migration.version, name = migration.name, "applied migration");
    Ok(())
}
