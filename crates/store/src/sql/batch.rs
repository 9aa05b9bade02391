//! Statements that go to the database together.
//!
//! A [`Batch`] is run by whichever driver serves the caller ([`Tx`]):
//! - the terminal path on SQLite: on a thread that owns its rusqlite connection (the group
//!   commit's writer, or a reader: `lite.rs`, `readers.rs`), every statement in place;
//! - the terminal path on PostgreSQL: pipelined through tokio-postgres (`pg.rs`), every
//!   statement sent before the first answer, so the batch costs one round trip;
//! - elsewhere through sqlx: SQLite gets the batch as one multi-statement query (one trip
//!   to the connection's worker thread), PostgreSQL one statement after another.
//!
//! Every way, the statements run in order, inside the caller's transaction, and the
//! caller reads each one's outcome afterwards. A statement that fails stops the batch
//! (pipelined, the ones after it were sent, but the aborted transaction runs none): the
//! error comes back and the caller's transaction is rolled back. So a batch may only hold
//! statements whose *parameters* do not depend on an earlier statement's result; a check
//! on a result (a conditional UPDATE that touched no row) is made after the batch, and a
//! refusal rolls back everything the batch wrote.

use super::lite::OwnedRow;
use super::rows::RowExt;
use super::Backend;
use crate::StoreError;
use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Either, Executor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Most statements in one batch: bounds the SQL text the statement cache keeps.
pub(super) const MAX_BATCH_STATEMENTS: usize = 32;

/// A bound value: the types the store binds.
#[derive(Clone)]
pub(super) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Vec<u8>),
}

impl std::fmt::Debug for Value {
    // Bound values may be secrets or personal data: never printed (tokio-postgres's
    // `ToSql` asks for `Debug`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Value(..)")
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(Some(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(Some(v.to_owned()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Self::Text(v)
    }
}

/// One statement, written with its own `$1..$n` placeholders.
struct Statement {
    sql: String,
    values: Vec<Value>,
}

/// What one statement did: rows it changed (INSERT/UPDATE/DELETE) and rows it returned.
#[derive(Default)]
pub(super) struct Done {
    pub rows_affected: u64,
    pub rows: Vec<Row>,
}

/// A row a batch returned, from whichever driver ran it; read it through [`RowExt`].
pub(super) enum Row {
    Any(AnyRow),
    Owned(OwnedRow),
}

impl RowExt for Row {
    fn text(&self, col: &str) -> Result<String, StoreError> {
        match self {
            Row::Any(r) => r.text(col),
            Row::Owned(r) => r.text(col),
        }
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        match self {
            Row::Any(r) => r.opt_text(col),
            Row::Owned(r) => r.opt_text(col),
        }
    }
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        match self {
            Row::Any(r) => r.int(col),
            Row::Owned(r) => r.int(col),
        }
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        match self {
            Row::Any(r) => r.opt_int(col),
            Row::Owned(r) => r.opt_int(col),
        }
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Row::Any(r) => r.bytes(col),
            Row::Owned(r) => r.bytes(col),
        }
    }
}

/// The connection a write's batches run on.
pub(super) enum Tx<'c> {
    /// A sqlx connection or transaction (the standalone cryptogram claim, tests).
    Sqlx(&'c mut AnyConnection, Backend),
    /// The SQLite group commit's own connection, on the writer's thread.
    Lite(&'c mut rusqlite::Connection),
    /// A pipelined PostgreSQL connection inside its transaction (`pg.rs`).
    Pg(&'c mut super::pg::PgConn),
}

impl Tx<'_> {
    pub(super) fn backend(&self) -> Backend {
        match self {
            Tx::Sqlx(_, backend) => *backend,
            Tx::Lite(_) => Backend::Sqlite,
            Tx::Pg(_) => Backend::Postgres,
        }
    }

    /// [`Batch::run`] on this connection.
    pub(super) async fn run(&mut self, batch: Batch) -> Result<Vec<Done>, StoreError> {
        match self {
            Tx::Sqlx(conn, backend) => batch.run(conn, *backend).await,
            Tx::Lite(conn) => batch.run_here(conn),
            Tx::Pg(conn) => batch.run_pipelined(conn).await,
        }
    }

    /// Runs a write's last batch, after which nothing of it may be refused: a rule it
    /// enforces must fail a statement (a CHECK), not leave a row count to inspect. On
    /// PostgreSQL `COMMIT` travels with it, so the rows it locks (the fleet's shared
    /// account) stay locked for no round trip to the server (`docs/SCALING.md`, "The hot
    /// account"); a failed statement turns that `COMMIT` into a rollback. Elsewhere the
    /// caller's transaction (the group commit's, a test's) ends as before.
    pub(super) async fn run_last(self, mut batch: Batch) -> Result<Vec<Done>, StoreError> {
        match self {
            Tx::Pg(conn) => {
                batch.push("COMMIT", Vec::new());
                let mut done = batch.run_pipelined(conn).await?;
                done.pop();
                Ok(done)
            }
            mut tx => tx.run(batch).await,
        }
    }
}

#[derive(Default)]
pub(super) struct Batch {
    statements: Vec<Statement>,
    /// Set once the batch's first statement, `SAVEPOINT job`, ran ([`Batch::in_savepoint`]).
    savepoint_taken: Option<Arc<AtomicBool>>,
}

impl Batch {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// A batch that first opens the group commit's savepoint for a job, and tells
    /// `taken` once it did: the job's own statements then cost no extra trip.
    pub(super) fn in_savepoint(taken: &Arc<AtomicBool>) -> Self {
        let mut b = Self { statements: Vec::new(), savepoint_taken: Some(Arc::clone(taken)) };
        b.push("SAVEPOINT job", Vec::new());
        b
    }

    /// A batch of one statement without values.
    #[cfg(test)]
    fn from_sql(sql: &str) -> Self {
        let mut b = Self::new();
        b.push(sql, Vec::new());
        b
    }

    /// Adds a statement; returns its index in the outcomes of [`Batch::run`].
    pub(super) fn push(&mut self, sql: impl Into<String>, values: Vec<Value>) -> usize {
        assert!(self.statements.len() < MAX_BATCH_STATEMENTS, "batch too long");
        self.statements.push(Statement { sql: sql.into(), values });
        self.statements.len() - 1
    }

    /// Adds one multi-row INSERT, `head` (`INSERT INTO t (a, b)`) followed by a `VALUES`
    /// tuple per row; returns its index. Every row has the same number of values.
    pub(super) fn push_rows(&mut self, head: &str, rows: Vec<Vec<Value>>) -> usize {
        let width = rows.first().map_or(0, Vec::len);
        assert!(width > 0, "push_rows needs at least one row of values");
        let mut sql = format!("{head} VALUES ");
        let mut values = Vec::with_capacity(width * rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            assert_eq!(row.len(), width, "every row of a multi-row INSERT has one width");
            let first = i * width;
            let tuple: Vec<String> = (1..=width).map(|n| format!("${}", first + n)).collect();
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("({})", tuple.join(", ")));
            values.extend(row);
        }
        self.push(sql, values)
    }

    /// Runs every statement in order; one outcome per statement.
    pub(super) async fn run(
        self,
        conn: &mut AnyConnection,
        backend: Backend,
    ) -> Result<Vec<Done>, StoreError> {
        if self.statements.is_empty() {
            return Ok(Vec::new());
        }
        let taken = self.savepoint_taken.clone();
        let (ran, result) = match backend {
            Backend::Sqlite => self.run_as_one(conn).await,
            Backend::Postgres => self.run_one_by_one(conn).await,
        };
        if let Some(taken) = taken.filter(|_| ran > 0) {
            taken.store(true, Ordering::Release);
        }
        result
    }

    /// A batch that first begins the transaction (PostgreSQL's pipelined writes): `BEGIN`
    /// travels with the job's first statements.
    pub(super) fn beginning() -> Self {
        let mut b = Self::new();
        b.push("BEGIN", Vec::new());
        b
    }

    /// Sends every statement at once on a pipelined PostgreSQL connection (`pg.rs`).
    pub(super) async fn run_pipelined(
        self,
        conn: &mut super::pg::PgConn,
    ) -> Result<Vec<Done>, StoreError> {
        if self.statements.is_empty() {
            return Ok(Vec::new());
        }
        let statements: Vec<(&str, &[Value])> =
            self.statements.iter().map(|s| (s.sql.as_str(), s.values.as_slice())).collect();
        conn.run(&statements).await
    }

    /// Runs every statement in order on this thread (the SQLite writer's connection).
    pub(super) fn run_here(self, conn: &rusqlite::Connection) -> Result<Vec<Done>, StoreError> {
        let mut outcomes = Vec::with_capacity(self.statements.len());
        let mut result = Ok(());
        for statement in &self.statements {
            match super::lite::run(conn, &statement.sql, &statement.values) {
                Ok(done) => outcomes.push(done),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if let Some(taken) = self.savepoint_taken.filter(|_| !outcomes.is_empty()) {
            taken.store(true, Ordering::Release);
        }
        result.map(|()| outcomes)
    }

    /// Runs the statements; also says how many completed (before an error, if any).
    async fn run_one_by_one(
        self,
        conn: &mut AnyConnection,
    ) -> (usize, Result<Vec<Done>, StoreError>) {
        let mut outcomes = Vec::with_capacity(self.statements.len());
        for statement in &self.statements {
            let query = bind_all(sqlx::query(&statement.sql), &statement.values);
            match collect(conn.fetch_many(query), 1).await {
                Ok(mut done) => outcomes.push(done.pop().unwrap_or_default()),
                Err((_, e)) => return (outcomes.len(), Err(e)),
            }
        }
        (outcomes.len(), Ok(outcomes))
    }

    async fn run_as_one(self, conn: &mut AnyConnection) -> (usize, Result<Vec<Done>, StoreError>) {
        let (sql, values) = self.joined();
        let query = bind_all(sqlx::query(&sql), &values);
        let n = self.statements.len();
        match collect(conn.fetch_many(query), n).await {
            Ok(outcomes) if outcomes.len() == n => (n, Ok(outcomes)),
            Ok(outcomes) => {
                let e = StoreError::Corrupt(format!("a batch of {n} ran {}", outcomes.len()));
                (outcomes.len(), Err(e))
            }
            Err((ran, e)) => (ran, Err(e)),
        }
    }

    /// One SQL text: each statement's placeholders moved past the earlier statements'.
    fn joined(&self) -> (String, Vec<Value>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        for statement in &self.statements {
            sql.push_str(&renumber(&statement.sql, values.len()));
            sql.push_str(";\n");
            values.extend(statement.values.iter().cloned());
        }
        (sql, values)
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: &'q [Value],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            Value::Int(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.as_deref()),
            Value::Blob(v) => query.bind(v.as_slice()),
        };
    }
    query
}

/// Splits a multi-statement stream into one outcome per statement: a statement's rows come
/// first, then its result.
async fn collect<'e>(
    mut stream: futures_util::stream::BoxStream<
        'e,
        Result<Either<sqlx::any::AnyQueryResult, AnyRow>, sqlx::Error>,
    >,
    expected: usize,
) -> Result<Vec<Done>, (usize, StoreError)> {
    let mut outcomes = Vec::with_capacity(expected);
    let mut current = Done::default();
    loop {
        let item = match stream.try_next().await {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => return Err((outcomes.len(), e.into())),
        };
        match item {
            Either::Right(row) => current.rows.push(Row::Any(row)),
            Either::Left(result) => {
                current.rows_affected = result.rows_affected();
                outcomes.push(std::mem::take(&mut current));
            }
        }
    }
    Ok(outcomes)
}

/// `$n` → `$(n + offset)`. The store's SQL has no `$` inside string literals.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn placeholders_move_past_earlier_statements() {
        assert_eq!(
            renumber("UPDATE t SET a = $1 WHERE b = $2", 0),
            "UPDATE t SET a = $1 WHERE b = $2"
        );
        assert_eq!(
            renumber("UPDATE t SET a = $1, c = $10 WHERE b = $2 AND $1 IS NULL", 7),
            "UPDATE t SET a = $8, c = $17 WHERE b = $9 AND $8 IS NULL"
        );
        assert_eq!(renumber("SELECT '$' || x", 3), "SELECT '$' || x");
    }
}

#[cfg(test)]
mod on_both_databases {
    //! The batch against real databases, through each driver that runs one (sqlx on both,
    //! and the SQLite writer's own connection): outcomes split per statement,
    //! placeholders renumbered, and a failing statement stopping the batch.
    use super::{Backend, Batch, Done, Tx};
    use crate::sql::rows::RowExt;
    use crate::StoreError;
    use sqlx::{AnyConnection, Connection, Executor};

    const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

    /// A connection of one driver.
    pub(super) enum Db {
        Any(Backend, AnyConnection),
        Lite(rusqlite::Connection),
        Pipelined(crate::sql::pg::Lease),
    }

    impl Db {
        pub(super) fn backend(&self) -> Backend {
            match self {
                Db::Any(backend, _) => *backend,
                Db::Lite(_) => Backend::Sqlite,
                Db::Pipelined(_) => Backend::Postgres,
            }
        }

        pub(super) async fn run(&mut self, b: Batch) -> Result<Vec<Done>, StoreError> {
            match self {
                Db::Any(backend, conn) => Tx::Sqlx(conn, *backend).run(b).await,
                Db::Lite(conn) => Tx::Lite(conn).run(b).await,
                Db::Pipelined(lease) => Tx::Pg(lease.conn()).run(b).await,
            }
        }

        /// A temporary table `(k <key_type> PRIMARY KEY, <columns>)`; returns its name.
        pub(super) async fn table(&mut self, key_type: &str, columns: &str) -> String {
            let table = format!("batch_test_{}", uuid::Uuid::new_v4().simple());
            let sql =
                format!("CREATE TEMPORARY TABLE {table} (k {key_type} PRIMARY KEY, {columns})");
            match self {
                Db::Any(_, conn) => {
                    conn.execute(sql.as_str()).await.unwrap();
                }
                Db::Lite(conn) => conn.execute_batch(&sql).unwrap(),
                Db::Pipelined(lease) => {
                    lease.conn().run(&[(sql.as_str(), &[])]).await.unwrap();
                }
            }
            table
        }

        pub(super) fn name(&self) -> &'static str {
            match self {
                Db::Any(Backend::Sqlite, _) => "SQLite (sqlx)",
                Db::Any(Backend::Postgres, _) => "PostgreSQL",
                Db::Lite(_) => "SQLite (writer thread)",
                Db::Pipelined(_) => "PostgreSQL (pipelined)",
            }
        }
    }

    pub(super) async fn connections() -> Vec<Db> {
        sqlx::any::install_default_drivers();
        let mut out = vec![
            Db::Any(Backend::Sqlite, AnyConnection::connect("sqlite::memory:").await.unwrap()),
            Db::Lite(rusqlite::Connection::open_in_memory().unwrap()),
        ];
        let url = std::env::var("FORECOURT_TEST_PG_URL").unwrap_or_else(|_| PG_URL.to_owned());
        match AnyConnection::connect(&url).await {
            Ok(pg) => {
                out.push(Db::Any(Backend::Postgres, pg));
                let pool =
                    crate::sql::pg::PgPool::new(&url, std::time::Duration::from_secs(5)).unwrap();
                out.push(Db::Pipelined(pool.acquire().await.unwrap()));
            }
            Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("PostgreSQL is required on CI ({url})")
            }
            Err(_) => eprintln!("*** SKIPPED: PostgreSQL test of sql::batch (no server at {url})"),
        }
        out
    }

    /// The `(k, v)` rows a SELECT of a test table returned.
    fn key_values(done: &Done) -> Vec<(String, i64)> {
        done.rows.iter().map(|r| (r.text("k").unwrap(), r.int("v").unwrap())).collect()
    }

    #[tokio::test]
    async fn each_statement_gets_its_own_outcome() {
        for mut db in connections().await {
            let table = db.table("TEXT", "v BIGINT").await;
            let mut b = Batch::new();
            b.push(
                format!("INSERT INTO {table} (k, v) VALUES ($1, $2), ($3, $4)"),
                vec!["a".into(), 1.into(), "b".into(), 2.into()],
            );
            // Placeholders out of order and repeated: each binds the value its number names.
            let bumped = b.push(
                format!("UPDATE {table} SET v = v + $2 - $1 + $1 WHERE k = $3"),
                vec![7.into(), 40.into(), "a".into()],
            );
            let all = b.push(format!("SELECT k, v FROM {table} ORDER BY k"), vec![]);
            let missed = b.push(
                format!("UPDATE {table} SET v = $1 WHERE k = $2"),
                vec![0.into(), "zz".into()],
            );
            let none = b.push(format!("SELECT k FROM {table} WHERE k = $1"), vec!["zz".into()]);
            let done = db.run(b).await.unwrap();
            let name = db.name();
            assert_eq!(done.len(), 5, "{name}");
            assert_eq!(done[bumped].rows_affected, 1, "{name}");
            let values = key_values(&done[all]);
            assert_eq!(values, [("a".to_owned(), 41), ("b".to_owned(), 2)], "{name}");
            assert_eq!(done[missed].rows_affected, 0, "{name}");
            assert!(done[none].rows.is_empty(), "{name}");
        }
    }

    /// A multi-row INSERT numbers each row's placeholders after the row before, also
    /// behind an earlier statement of the same batch (which renumbers them again on sqlx).
    #[tokio::test]
    async fn a_multi_row_insert_binds_every_row() {
        for mut db in connections().await {
            let table = db.table("TEXT", "v BIGINT").await;
            let mut b = Batch::new();
            b.push(
                format!("INSERT INTO {table} (k, v) VALUES ($1, $2)"),
                vec!["a".into(), 1.into()],
            );
            let rows = (0..3).map(|i| vec![format!("r{i}").into(), (10 * i).into()]).collect();
            let inserted = b.push_rows(&format!("INSERT INTO {table} (k, v)"), rows);
            let all = b.push(format!("SELECT k, v FROM {table} ORDER BY k"), vec![]);
            let done = db.run(b).await.unwrap();
            let name = db.name();
            assert_eq!(done[inserted].rows_affected, 3, "{name}");
            let values = key_values(&done[all]);
            let want =
                [("a", 1), ("r0", 0), ("r1", 10), ("r2", 20)].map(|(k, v)| (k.to_owned(), v));
            assert_eq!(values, want, "{name}");
        }
    }

    /// Pipelined, the statements after a failing one were sent already; inside the
    /// transaction every write runs in, they do not take effect, and the error that comes
    /// back is the failure itself, not PostgreSQL's "transaction is aborted" after it.
    #[tokio::test]
    async fn a_pipelined_failure_reports_its_own_error_and_aborts_the_rest() {
        for mut db in connections().await {
            if !matches!(db, Db::Pipelined(_)) {
                continue;
            }
            let table = db.table("TEXT", "v BIGINT").await;
            let mut b = Batch::beginning();
            b.push(format!("INSERT INTO {table} (k, v) VALUES ($1, 1)"), vec!["a".into()]);
            b.push(format!("INSERT INTO {table} (k, v) VALUES ($1, 2)"), vec!["a".into()]);
            b.push(format!("INSERT INTO {table} (k, v) VALUES ($1, 3)"), vec!["c".into()]);
            let failed = db.run(b).await;
            assert!(matches!(failed, Err(StoreError::Duplicate(_))), "{:?}", failed.err());
            db.run(Batch::from_sql("ROLLBACK")).await.unwrap();
            let mut read = Batch::new();
            read.push(format!("SELECT k FROM {table} ORDER BY k"), vec![]);
            let done = db.run(read).await.unwrap();
            assert!(done[0].rows.is_empty(), "the aborted transaction left rows");
        }
    }

    #[tokio::test]
    async fn a_failing_statement_stops_the_batch() {
        for mut db in connections().await {
            if matches!(db, Db::Pipelined(_)) {
                continue; // outside a transaction later statements run: see above
            }
            let table = db.table("TEXT", "v BIGINT").await;
            let mut b = Batch::new();
            b.push(format!("INSERT INTO {table} (k, v) VALUES ($1, 1)"), vec!["a".into()]);
            b.push(format!("INSERT INTO {table} (k, v) VALUES ($1, 2)"), vec!["a".into()]);
            b.push(format!("INSERT INTO {table} (k, v) VALUES ($1, 3)"), vec!["c".into()]);
            let failed = db.run(b).await;
            let name = db.name();
            assert!(matches!(failed, Err(StoreError::Duplicate(_))), "{name}");
            let mut read = Batch::new();
            read.push(format!("SELECT k FROM {table} ORDER BY k"), vec![]);
            let done = db.run(read).await.unwrap();
            let keys: Vec<String> = done[0].rows.iter().map(|r| r.text("k").unwrap()).collect();
            assert_eq!(keys, ["a"], "{name}: the statement after the failure ran");
        }
    }

    /// A job's first batch tells the group commit that its savepoint was taken: without
    /// it a refused job would leave what it wrote (`group_commit.rs::run_job`).
    #[tokio::test]
    async fn the_first_batch_reports_its_savepoint_taken() {
        for mut db in connections().await {
            if db.backend() == Backend::Postgres {
                continue; // the group commit is SQLite's
            }
            db.run(Batch::from_sql("BEGIN")).await.unwrap();
            let taken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let mut b = Batch::in_savepoint(&taken);
            b.push("SELECT 1 AS one", vec![]);
            db.run(b).await.unwrap();
            assert!(taken.load(std::sync::atomic::Ordering::Acquire), "{}", db.name());
            db.run(Batch::from_sql("ROLLBACK TO SAVEPOINT job")).await.unwrap();
            db.run(Batch::from_sql("ROLLBACK")).await.unwrap();
        }
    }
}

#[cfg(test)]
mod values_round_trip {
    //! Whatever a value holds (SQL metacharacters, `$n` that look like placeholders,
    //! non-ASCII, extreme integers), the batch binds it and returns it unchanged on both
    //! databases and through both SQLite drivers (docs/THREAT-MODEL.md, T13).
    use super::{Backend, Batch, Value};
    use crate::sql::rows::RowExt;

    const HOSTILE: &[&str] = &[
        "",
        "'",
        "''; DROP TABLE t; --",
        "\\",
        "\\'",
        "a\\' OR '1'='1",
        "$1 $2 $$ $tag$ x $tag$",
        "/* c */ -- c\n; SELECT 1;",
        "E'\\x41'",
        "naïve café ✓ 🚚 Ж",
        "\t\r\n",
    ];

    #[tokio::test]
    async fn hostile_text_ints_and_blobs_come_back_unchanged() {
        for mut db in super::on_both_databases::connections().await {
            let blob_type = if db.backend() == Backend::Postgres { "BYTEA" } else { "BLOB" };
            let table = db.table("BIGINT", &format!("t TEXT, i BIGINT, b {blob_type}")).await;
            let ints = [0, -1, 1, i64::MIN, i64::MAX, -5];
            let mut b = Batch::new();
            for (k, text) in HOSTILE.iter().enumerate() {
                let blob: Vec<u8> = text.bytes().chain([0, 0xff]).collect();
                b.push(
                    format!("INSERT INTO {table} (k, t, i, b) VALUES ($1, $2, $3 - $4, $5)"),
                    vec![
                        i64::try_from(k).unwrap().into(),
                        (*text).into(),
                        ints[k % ints.len()].into(),
                        0.into(),
                        Value::Blob(blob),
                    ],
                );
            }
            b.push(
                format!("INSERT INTO {table} (k, t, i) VALUES ($1, $2, $3)"),
                vec![100.into(), Value::Text(None), Value::Int(None)],
            );
            let found = b.push(
                format!("SELECT k FROM {table} WHERE t = $1 AND i = $2"),
                vec![HOSTILE[2].into(), ints[2].into()],
            );
            let all = b.push(format!("SELECT k, t, i, b FROM {table} ORDER BY k"), vec![]);
            let done = db.run(b).await.unwrap();
            let name = db.name();
            assert_eq!(done[found].rows.len(), 1, "{name}: a bound text did not match itself");

            let rows = &done[all].rows;
            assert_eq!(rows.len(), HOSTILE.len() + 1, "{name}");
            for (k, text) in HOSTILE.iter().enumerate() {
                let row = &rows[k];
                assert_eq!(row.text("t").unwrap(), *text, "{name}");
                assert_eq!(row.int("i").unwrap(), ints[k % ints.len()], "{name}");
                let blob = row.bytes("b").unwrap();
                assert_eq!(blob, text.bytes().chain([0, 0xff]).collect::<Vec<_>>(), "{name}");
            }
            assert_eq!(rows[HOSTILE.len()].opt_text("t").unwrap(), None, "{name}");
            assert_eq!(rows[HOSTILE.len()].opt_int("i").unwrap(), None, "{name}");
        }
    }
}
