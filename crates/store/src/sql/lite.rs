//! SQLite through rusqlite, run on the thread that calls it.
//!
//! sqlx hands every SQLite statement to the connection's own worker thread and wakes the
//! caller with the answer: two thread switches per statement, which the profile of the
//! terminal path showed costing more CPU than SQLite itself (docs/BENCHMARKS.md). The
//! group commit's writer (`group_commit.rs`) is one thread that owns one connection and
//! runs every job's statements in turn, so it opens that connection here and runs them
//! in place: a job costs no switch per statement, only the one to queue it and the one
//! to answer it.
//!
//! Statements are the same `$n` SQL the sqlx path runs. sqlx reads the number in each
//! `$n`; SQLite numbers named parameters by first appearance, so each one is bound by
//! its name, as sqlx does.

use super::batch::{Done, Row, Value};
use super::rows::RowExt;
use crate::StoreError;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::Arc;

/// Distinct statements the writer keeps prepared: the terminal path's writes are about
/// twenty-five; rusqlite's default of 16 would re-prepare some on every job.
const STATEMENT_CACHE_CAPACITY: usize = 128;

type R<T> = Result<T, StoreError>;

/// Opens the database file `path` (sqlx made it) with the pool's pragmas.
pub(super) fn open(path: &Path, pragmas: &[String]) -> R<Connection> {
    // No SQLite mutex: a `Connection` is used by one thread at a time (it is not `Sync`).
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    with_pragmas(Connection::open_with_flags(path, flags)?, pragmas)
}

/// [`open`], creating the file (tests).
#[cfg(test)]
pub(super) fn open_new(path: &Path, pragmas: &[String]) -> R<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    with_pragmas(Connection::open_with_flags(path, flags)?, pragmas)
}

fn with_pragmas(conn: Connection, pragmas: &[String]) -> R<Connection> {
    for pragma in pragmas {
        conn.execute_batch(pragma)?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(conn)
}

/// Runs one statement without values or rows (`BEGIN`, `COMMIT`, `ROLLBACK TO ...`).
pub(super) fn execute(conn: &Connection, sql: &str) -> R<()> {
    run(conn, sql, &[]).map(drop)
}

/// Runs one statement with its values; its rows if it returns any, else the rows it changed.
pub(super) fn run(conn: &Connection, sql: &str, values: &[Value]) -> R<Done> {
    let mut statement = conn.prepare_cached(sql)?;
    for index in 1..=statement.parameter_count() {
        let value = value_for(statement.parameter_name(index), values)?;
        statement.raw_bind_parameter(index, value)?;
    }
    if statement.column_count() == 0 {
        let changed = statement.raw_execute()?;
        return Ok(Done { rows_affected: changed as u64, rows: Vec::new() });
    }
    let columns: Arc<[String]> =
        statement.column_names().into_iter().map(str::to_owned).collect::<Vec<_>>().into();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let cells =
            (0..columns.len()).map(|i| cell(row.get_ref(i)?, &columns[i])).collect::<R<_>>()?;
        out.push(Row::Owned(OwnedRow::new(Arc::clone(&columns), cells)));
    }
    Ok(Done { rows_affected: 0, rows: out })
}

/// The value `$n` names (`values[n - 1]`).
fn value_for<'v>(name: Option<&str>, values: &'v [Value]) -> R<&'v Value> {
    let n = name.and_then(|name| name.strip_prefix('$')).and_then(|n| n.parse::<usize>().ok());
    n.and_then(|n| values.get(n.checked_sub(1)?)).ok_or_else(|| {
        StoreError::Corrupt(format!("placeholder {name:?} has no value among {}", values.len()))
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Int(Some(v)) => ValueRef::Integer(*v),
            Value::Text(Some(v)) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
            Value::Int(None) | Value::Text(None) => ValueRef::Null,
        }))
    }
}

/// One column's value. The store keeps no floats, so a REAL is corrupt data.
pub(super) enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

fn cell(value: ValueRef<'_>, column: &str) -> R<Cell> {
    Ok(match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(v) => Cell::Int(v),
        ValueRef::Text(v) => Cell::Text(
            String::from_utf8(v.to_vec())
                .map_err(|_| StoreError::Corrupt(format!("column {column} is not UTF-8")))?,
        ),
        ValueRef::Blob(v) => Cell::Blob(v.to_vec()),
        ValueRef::Real(_) => {
            return Err(StoreError::Corrupt(format!("column {column} holds a REAL")))
        }
    })
}

/// A row read by [`run`] (or by PostgreSQL's pipelined path, `pg.rs`): its columns' names
/// (shared by the statement's rows) and values.
pub(super) struct OwnedRow {
    columns: Arc<[String]>,
    cells: Vec<Cell>,
}

impl OwnedRow {
    pub(super) fn new(columns: Arc<[String]>, cells: Vec<Cell>) -> Self {
        debug_assert_eq!(columns.len(), cells.len());
        Self { columns, cells }
    }

    fn cell(&self, col: &str) -> R<&Cell> {
        let at = self.columns.iter().position(|c| c == col);
        at.map(|i| &self.cells[i]).ok_or_else(|| StoreError::Corrupt(format!("no column {col}")))
    }
}

fn mismatch(col: &str, want: &str) -> StoreError {
    StoreError::Corrupt(format!("column {col} does not hold {want}"))
}

impl RowExt for OwnedRow {
    fn text(&self, col: &str) -> R<String> {
        self.opt_text(col)?.ok_or_else(|| mismatch(col, "text"))
    }
    fn opt_text(&self, col: &str) -> R<Option<String>> {
        match self.cell(col)? {
            Cell::Text(v) => Ok(Some(v.clone())),
            Cell::Null => Ok(None),
            _ => Err(mismatch(col, "text")),
        }
    }
    fn int(&self, col: &str) -> R<i64> {
        self.opt_int(col)?.ok_or_else(|| mismatch(col, "an integer"))
    }
    fn opt_int(&self, col: &str) -> R<Option<i64>> {
        match self.cell(col)? {
            Cell::Int(v) => Ok(Some(*v)),
            Cell::Null => Ok(None),
            _ => Err(mismatch(col, "an integer")),
        }
    }
    fn bytes(&self, col: &str) -> R<Vec<u8>> {
        match self.cell(col)? {
            Cell::Blob(v) => Ok(v.clone()),
            Cell::Text(v) => Ok(v.as_bytes().to_vec()),
            _ => Err(mismatch(col, "bytes")),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        match &e {
            rusqlite::Error::SqliteFailure(f, message)
                if matches!(
                    f.extended_code,
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                StoreError::Duplicate(crate::error::unique_target(
                    message.as_deref().unwrap_or(""),
                    None,
                ))
            }
            rusqlite::Error::SqliteFailure(f, message)
                if f.extended_code == ffi::SQLITE_CONSTRAINT_CHECK =>
            {
                StoreError::CheckFailed(crate::error::check_target(
                    message.as_deref().unwrap_or(""),
                    None,
                ))
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's and readers' connections run as durable as the pool's: WAL,
    /// `synchronous=FULL`, foreign keys on, temporary files in memory.
    #[test]
    fn connections_get_the_pools_pragmas() {
        let dir = std::env::temp_dir().join(format!("forecourt-lite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.db");
        drop(open_new(&path, &[]).unwrap());
        let conn = open(&path, &crate::sql::sqlite_pragmas()).unwrap();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, String>(0).or_else(|_| row.get::<_, i64>(0).map(|v| v.to_string()))
            })
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "FULL");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("temp_store"), "2", "MEMORY");
        let _ = std::fs::remove_dir_all(dir);
    }
}
