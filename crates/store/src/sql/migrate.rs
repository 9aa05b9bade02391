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

/// The migrations of one backend's directory, in order. Both directories hold the same
/// list; adding a migration means one line here and one file in each.
macro_rules! migrations {
    ($dir:literal) => {
        &[
            migration!(1, "issuing", $dir, "0001_issuing.sql"),
            migration!(2, "tokens", $dir, "0002_tokens.sql"),
            migration!(3, "authorizer", $dir, "0003_authorizer.sql"),
            migration!(4, "fraud", $dir, "0004_fraud.sql"),
            migration!(5, "hot_path_indexes", $dir, "0005_hot_path_indexes.sql"),
            migration!(6, "user_language", $dir, "0006_user_language.sql"),
            migration!(7, "group_status", $dir, "0007_group_status.sql"),
            migration!(8, "ledger_rule_names", $dir, "0008_ledger_rule_names.sql"),
            migration!(9, "nonce_sweep", $dir, "0009_nonce_sweep.sql"),
        ]
    };
}

macro_rules! migration {
    ($version:literal, $name:literal, $dir:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../../../migrations/", $dir, "/", $file)),
        }
    };
}

const SQLITE: &[Migration] = migrations!("sqlite");
const POSTGRES: &[Migration] = migrations!("postgres");

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
