//! PostgreSQL's terminal path through tokio-postgres, which pipelines a batch.
//!
//! sqlx 0.8 sends one statement and waits for its answer before the next: a fill's ~45
//! statements were ~45 network round trips, each a wake-up of a backend process and of a
//! runtime thread (docs/BENCHMARKS.md). tokio-postgres sends every query that is polled
//! before the first answer comes back, so a batch here is sent at once: still prepared
//! and bound, one round trip. The statements still run in order, and inside a
//! transaction a failing one aborts it, so none after it takes effect.
//!
//! Only the terminal path's batches come here (`SqlStore::read`, `SqlStore::write`); the
//! API's queries stay on sqlx. Its own small pool: connections made on demand up to
//! `PG_PIPELINE_CONNECTIONS`, a dead one replaced, one left inside a transaction (its
//! request was cancelled) closed rather than reused.

use super::batch::{Done, Row, Value};
use super::lite::{Cell, OwnedRow};
use crate::StoreError;
use futures_util::future::join_all;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

/// Most connections of the pipelined pool, per node (beside sqlx's pool for the API).
pub(super) const PG_PIPELINE_CONNECTIONS: usize = 16;
/// Most statements kept prepared per connection; the terminal path has a few dozen, so
/// past this the cache starts over rather than grow.
const PREPARED_PER_CONNECTION: usize = 256;

type R<T> = Result<T, StoreError>;

/// The pool; cloning shares it.
#[derive(Clone)]
pub(super) struct PgPool {
    inner: Arc<Inner>,
}

struct Inner {
    config: tokio_postgres::Config,
    idle: Mutex<Vec<PgConn>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

/// One connection and the statements prepared on it.
pub(super) struct PgConn {
    client: Client,
    prepared: HashMap<String, (Statement, Arc<[String]>)>,
    /// Inside a transaction this pool began: never handed out again in that state.
    in_transaction: bool,
}

/// A connection borrowed from the pool; back to it on drop unless dead or mid-transaction.
pub(super) struct Lease {
    conn: Option<PgConn>,
    inner: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl PgPool {
    /// A pool for `url`; connects on first use. `acquire_timeout` bounds both the wait for
    /// a free connection and the connect.
    pub(super) fn new(url: &str, acquire_timeout: Duration) -> R<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| StoreError::Corrupt("the PostgreSQL URL does not parse".into()))?;
        config.connect_timeout(acquire_timeout);
        let inner = Inner {
            config,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(PG_PIPELINE_CONNECTIONS)),
            acquire_timeout,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// No connection is handed out after this.
    pub(super) fn close(&self) {
        self.inner.permits.close();
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PgConn>> {
        self.inner.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) async fn acquire(&self) -> R<Lease> {
        let unavailable = || StoreError::Database(sqlx::Error::PoolTimedOut);
        let permit = tokio::time::timeout(
            self.inner.acquire_timeout,
            Arc::clone(&self.inner.permits).acquire_owned(),
        )
        .await
        .map_err(|_| unavailable())?
        .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let reused = std::iter::from_fn(|| self.idle().pop()).find(|c| !c.client.is_closed());
        let conn = match reused {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        Ok(Lease { conn: Some(conn), inner: Arc::clone(&self.inner), _permit: permit })
    }

    async fn connect(&self) -> R<PgConn> {
        let (client, connection) = self.inner.config.connect(NoTls).await?;
        // The connection's socket is driven by its own task; it ends when the client drops.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a pipelined PostgreSQL connection ended");
            }
        });
        Ok(PgConn { client, prepared: HashMap::new(), in_transaction: false })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.in_transaction && !conn.client.is_closed() && !self.inner.permits.is_closed() {
            self.inner.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(conn);
        }
        // Otherwise dropped: its socket closes, and PostgreSQL rolls back what it held.
    }
}

impl Lease {
    pub(super) fn conn(&mut self) -> &mut PgConn {
        self.conn.as_mut().expect("a lease holds its connection until dropped")
    }
}

impl PgConn {
    /// Inside a transaction this pool began (its `COMMIT` or `ROLLBACK` not yet confirmed).
    pub(super) fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Runs the statements pipelined; one outcome each, in order, or the first error.
    pub(super) async fn run(&mut self, statements: &[(&str, &[Value])]) -> R<Vec<Done>> {
        self.prepare_missing(statements).await?;
        let client = &self.client;
        let prepared = &self.prepared;
        let sent = statements.iter().map(|(sql, values)| {
            let (statement, columns) = &prepared[*sql];
            run_one(client, statement, columns, values)
        });
        // In a transaction from the moment `BEGIN` is sent; out of it only once its end
        // is confirmed.
        self.in_transaction |= statements.iter().any(|(sql, _)| *sql == "BEGIN");
        let outcomes = join_all(sent).await;
        let ended = statements
            .iter()
            .zip(&outcomes)
            .any(|((sql, _), outcome)| matches!(*sql, "COMMIT" | "ROLLBACK") && outcome.is_ok());
        if ended {
            self.in_transaction = false;
        }
        // A failed statement aborts the rest of its transaction: the first error is the
        // cause, the later ones only say "current transaction is aborted".
        outcomes.into_iter().collect()
    }

    /// Prepares, pipelined, the statements this connection has not seen. Parameters are
    /// typed from the values, as sqlx types them (`$1 - $2` has no type of its own).
    async fn prepare_missing(&mut self, statements: &[(&str, &[Value])]) -> R<()> {
        let mut missing: Vec<(&str, &[Value])> =
            statements.iter().copied().filter(|(s, _)| !self.prepared.contains_key(*s)).collect();
        missing.sort_unstable_by_key(|(sql, _)| *sql);
        missing.dedup_by_key(|(sql, _)| *sql);
        if self.prepared.len() + missing.len() > PREPARED_PER_CONNECTION {
            self.prepared.clear();
            return Box::pin(self.prepare_missing(statements)).await;
        }
        let client = &self.client;
        let made = join_all(missing.iter().map(|(sql, values)| {
            let types: Vec<Type> = values.iter().map(Value::pg_type).collect();
            async move { client.prepare_typed(sql, &types).await }
        }))
        .await;
        for ((sql, _), statement) in missing.into_iter().zip(made) {
            let statement = statement?;
            let columns: Arc<[String]> =
                statement.columns().iter().map(|c| c.name().to_owned()).collect::<Vec<_>>().into();
            self.prepared.insert(sql.to_owned(), (statement, columns));
        }
        Ok(())
    }
}

async fn run_one(
    client: &Client,
    statement: &Statement,
    columns: &Arc<[String]>,
    values: &[Value],
) -> R<Done> {
    let params: Vec<&(dyn ToSql + Sync)> =
        values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    if statement.columns().is_empty() {
        let changed = client.execute(statement, &params).await?;
        return Ok(Done { rows_affected: changed, rows: Vec::new() });
    }
    let rows = client.query(statement, &params).await?;
    let rows = rows.iter().map(|row| owned(row, columns)).collect::<R<_>>()?;
    Ok(Done { rows_affected: 0, rows })
}

/// A row's values by column type; the schema keeps BIGINT, TEXT and BYTEA only.
fn owned(row: &tokio_postgres::Row, columns: &Arc<[String]>) -> R<Row> {
    let mut cells = Vec::with_capacity(columns.len());
    for (i, column) in row.columns().iter().enumerate() {
        let cell = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
            Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|v| Cell::Int(v.into())),
            Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|v| Cell::Int(v.into())),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                row.try_get::<_, Option<String>>(i)?.map(Cell::Text)
            }
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Cell::Blob),
            ref other => {
                return Err(StoreError::Corrupt(format!(
                    "column {} has type {other}, which the store does not read",
                    column.name()
                )))
            }
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row::Owned(OwnedRow::new(Arc::clone(columns), cells)))
}

impl Value {
    fn pg_type(&self) -> Type {
        match self {
            Value::Int(_) => Type::INT8,
            Value::Text(_) => Type::TEXT,
            Value::Blob(_) => Type::BYTEA,
        }
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Int(None) | Value::Text(None) => Ok(IsNull::Yes),
            Value::Int(Some(v)) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                _ => Err(format!("an integer bound to a {ty} parameter").into()),
            },
            Value::Text(Some(v)) if <String as ToSql>::accepts(ty) => v.to_sql(ty, out),
            Value::Blob(v) if *ty == Type::BYTEA => v.to_sql(ty, out),
            Value::Text(_) | Value::Blob(_) => {
                Err(format!("a value bound to a {ty} parameter").into())
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`: a NULL fits any parameter.
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            use tokio_postgres::error::SqlState;
            if *db.code() == SqlState::UNIQUE_VIOLATION {
                return StoreError::Duplicate(crate::error::unique_target(
                    db.message(),
                    db.constraint(),
                ));
            }
            if *db.code() == SqlState::CHECK_VIOLATION {
                return StoreError::CheckFailed(crate::error::check_target(
                    db.message(),
                    db.constraint(),
                ));
            }
        }
        StoreError::Postgres(e)
    }
}
