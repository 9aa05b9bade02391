//! The authorizer's half of the SQL store. The money paths (`commit_authorization`,
//! `complete_authorization`, `release_authorization`) are single transactions whose
//! conditional updates make the database the arbiter of funds, limits and replay.

use super::batch::{Batch, Done, Tx, Value};
use super::rows::{atc_columns, RowExt};
use super::store_impl::id_str;
use super::SqlStore;
use crate::authorizer::*;
use crate::StoreError;
use domain::authorize::{PeriodUsage, Usage};
use domain::{AuthorizationId, CardId, OrgId, StationId, TerminalId};

type R<T> = Result<T, StoreError>;

/// A terminal request's identity; binds terminal, STAN, transmission time.
const BY_REQUEST: &str = "WHERE terminal_id = $1 AND stan = $2 AND transmitted_at = $3";
const EARLY_REVERSAL_SQL: &str = "SELECT 1 AS one FROM early_reversals \
     WHERE terminal_id = $1 AND stan = $2 AND transmitted_at = $3";
const STATION_SQL: &str = "SELECT * FROM stations WHERE id = $1";

const AUTH_COLS: &str = "id, org_id, card_id, token_id, terminal_id, station_id, stan, \
     transmitted_at, request_hash, entry_mode, status, response_code, reason, requested_amount, \
     approved_amount, approved_volume_ml, held_amount, final_amount, final_volume_ml, product, \
     period_day, period_week, period_month, hold_expires_us, created_us, settled_us, response, \
     trace, version";

/// The WHERE clause of an [`AuthorizationFilter`] over `authorizations a`, parameters
/// `$1`..`$10` bound by [`bind_filter`]. Driver and vehicle match the binding the card had
/// when the fill was made.
fn filter_where() -> String {
    let bound_to = |col: &str, n: u8| {
        format!(
            "(${n} = '' OR EXISTS (SELECT 1 FROM card_bindings b WHERE b.org_id = a.org_id \
             AND b.card_id = a.card_id AND b.{col} = ${n} AND b.bound_us <= a.created_us \
             AND (b.unbound_us IS NULL OR b.unbound_us > a.created_us)))"
        )
    };
    format!(
        "a.org_id = $1 \
         AND ($2 = '' OR a.card_id IN (SELECT c.id FROM cards c JOIN groups g \
              ON g.id = c.group_id WHERE c.org_id = $1 AND g.path LIKE $2 || '%')) \
         AND ($3 = '' OR a.card_id IN (SELECT c.id FROM cards c \
              WHERE c.org_id = $1 AND c.driver_id = $3)) \
         AND ($4 = '' OR a.card_id = $4) AND ($5 = '' OR a.status = $5) \
         AND {} AND {} AND ($8 = '' OR a.station_id = $8) \
         AND a.created_us >= $9 AND a.created_us < $10",
        bound_to("driver_id", 6),
        bound_to("vehicle_id", 7),
    )
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_filter<'q>(q: AnyQuery<'q>, org: OrgId, f: &AuthorizationFilter) -> AnyQuery<'q> {
    let text = |id: Option<String>| id.unwrap_or_default();
    q.bind(id_str(org))
        .bind(f.group_path.clone().unwrap_or_default())
        .bind(text(f.card_holder.map(id_str)))
        .bind(text(f.card_id.map(id_str)))
        .bind(f.status.map_or("", |s| s.as_str()))
        .bind(text(f.driver_id.map(id_str)))
        .bind(text(f.vehicle_id.map(id_str)))
        .bind(text(f.station_id.map(id_str)))
        .bind(f.from_us.unwrap_or(i64::MIN))
        .bind(f.to_us.unwrap_or(i64::MAX))
}

fn authorization(row: &impl RowExt) -> R<AuthorizationRecord> {
    let status = row.text("status")?;
    Ok(AuthorizationRecord {
        id: row.parse("id")?,
        org_id: row.opt_parse("org_id")?,
        card_id: row.opt_parse("card_id")?,
        token_id: row.opt_parse("token_id")?,
        terminal_id: row.parse("terminal_id")?,
        station_id: row.parse("station_id")?,
        stan: row.text("stan")?,
        transmitted_at: row.text("transmitted_at")?,
        request_hash: row.text("request_hash")?,
        entry_mode: row.text("entry_mode")?,
        status: AuthStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("authorization status {status:?}")))?,
        response_code: row.text("response_code")?,
        reason: row.opt_text("reason")?,
        requested_amount: row.int("requested_amount")?,
        approved_amount: row.int("approved_amount")?,
        approved_volume_ml: row.int("approved_volume_ml")?,
        held_amount: row.int("held_amount")?,
        final_amount: row.opt_int("final_amount")?,
        final_volume_ml: row.opt_int("final_volume_ml")?,
        product: row.opt_text("product")?,
        periods: [row.text("period_day")?, row.text("period_week")?, row.text("period_month")?],
        hold_expires_us: row.int("hold_expires_us")?,
        created_us: row.int("created_us")?,
        settled_us: row.opt_int("settled_us")?,
        response: row.text("response")?,
        trace: row.text("trace")?,
        version: row.int("version")?,
    })
}

pub(super) fn account(row: &impl RowExt) -> R<AccountRecord> {
    let record = AccountRecord {
        org_id: row.parse("org_id")?,
        credit_limit: row.int("credit_limit")?,
        credited: row.int("credited")?,
        available: row.int("available")?,
        held: row.int("held")?,
        spent: row.int("spent")?,
    };
    if !record.balances() {
        return Err(StoreError::Corrupt(format!("account of {} does not balance", record.org_id)));
    }
    Ok(record)
}

fn station(row: &impl RowExt) -> R<StationRecord> {
    let products = row.text("products")?;
    Ok(StationRecord {
        id: row.parse("id")?,
        name: row.text("name")?,
        merchant_id: row.text("merchant_id")?,
        lat_e6: row.int("lat_e6")?,
        lon_e6: row.int("lon_e6")?,
        time_zone: row.text("time_zone")?,
        products: products
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().map_err(|_| StoreError::Corrupt(format!("product {p:?}"))))
            .collect::<R<_>>()?,
        created_us: row.int("created_us")?,
    })
}

fn terminal(row: &impl RowExt) -> R<TerminalRecord> {
    Ok(TerminalRecord {
        id: row.parse("id")?,
        station_id: row.parse("station_id")?,
        label: row.text("label")?,
        secret_wrapped: row.bytes("secret_wrapped")?,
        status: match row.text("status")?.as_str() {
            "active" => TerminalStatus::Active,
            "suspended" => TerminalStatus::Suspended,
            other => return Err(StoreError::Corrupt(format!("terminal status {other:?}"))),
        },
        created_us: row.int("created_us")?,
        version: row.int("version")?,
    })
}

/// One balanced movement: `amount` leaves `from` and enters `to` (nothing for zero).
fn push_post(
    b: &mut Batch,
    org: OrgId,
    auth: Option<AuthorizationId>,
    kind: &str,
    (from, to): (&str, &str),
    amount: i64,
    now_us: i64,
) {
    if amount == 0 {
        return;
    }
    b.push(
        "INSERT INTO postings (id, org_id, authorization_id, kind, from_bucket, to_bucket, amount, at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vec![
            uuid::Uuid::now_v7().to_string().into(),
            id_str(org).into(),
            auth.map(id_str).into(),
            kind.into(),
            from.into(),
            to.into(),
            amount.into(),
            now_us.into(),
        ],
    );
}

/// Moves the account's buckets by the given deltas (they sum to zero except for credits);
/// the caller checks that it touched the one row.
fn push_move_buckets(b: &mut Batch, org: OrgId, available: i64, held: i64, spent: i64) -> usize {
    b.push(
        "UPDATE accounts SET available = available + $1, held = held + $2, spent = spent + $3, \
         version = version + 1 WHERE org_id = $4",
        vec![available.into(), held.into(), spent.into(), id_str(org).into()],
    )
}

/// Adds deltas to a card's usage in its three periods (completion, release).
fn push_adjust_usage(
    b: &mut Batch,
    card: CardId,
    periods: &[String; 3],
    (amount, volume, fills): (i64, i64, i64),
) {
    for period in periods {
        b.push(
            "UPDATE card_usage SET amount = amount + $1, volume_ml = volume_ml + $2, fills = fills + $3 \
             WHERE card_id = $4 AND period = $5",
            vec![amount.into(), volume.into(), fills.into(), id_str(card).into(), period.as_str().into()],
        );
    }
}

fn one_row(done: &[Done], at: usize, what: &str) -> R<()> {
    match done[at].rows_affected {
        1 => Ok(()),
        n => Err(StoreError::Corrupt(format!("{what} touched {n} rows"))),
    }
}

impl SqlStore {
    pub(super) async fn create_station_impl(&self, s: &StationRecord) -> R<()> {
        let products = s.products.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",");
        sqlx::query(
            "INSERT INTO stations (id, name, merchant_id, lat_e6, lon_e6, time_zone, products, created_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id_str(s.id))
        .bind(s.name.as_str())
        .bind(s.merchant_id.as_str())
        .bind(s.lat_e6)
        .bind(s.lon_e6)
        .bind(s.time_zone.as_str())
        .bind(products)
        .bind(s.created_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn get_station_impl(&self, id: StationId) -> R<StationRecord> {
        let row = sqlx::query(STATION_SQL).bind(id_str(id)).fetch_one(&self.pool).await?;
        station(&row)
    }

    pub(super) async fn list_stations_impl(&self) -> R<Vec<StationRecord>> {
        let rows =
            sqlx::query("SELECT * FROM stations ORDER BY name, id").fetch_all(&self.pool).await?;
        rows.iter().map(station).collect()
    }

    pub(super) async fn create_terminal_impl(&self, t: &TerminalRecord) -> R<()> {
        sqlx::query(
            "INSERT INTO terminals (id, station_id, label, secret_wrapped, status, created_us, version) \
             VALUES ($1, $2, $3, $4, $5, $6, 1)",
        )
        .bind(id_str(t.id))
        .bind(id_str(t.station_id))
        .bind(t.label.as_str())
        .bind(t.secret_wrapped.as_slice())
        .bind(t.status.as_str())
        .bind(t.created_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn get_terminal_impl(&self, id: TerminalId) -> R<TerminalRecord> {
        let done = self.read_one("SELECT * FROM terminals WHERE id = $1", vec![id_str(id).into()]);
        terminal(done.await?.rows.first().ok_or(StoreError::NotFound)?)
    }

    pub(super) async fn set_terminal_status_impl(&self, t: &TerminalRecord) -> R<()> {
        let done = sqlx::query("UPDATE terminals SET status = $1, version = version + 1 WHERE id = $2 AND version = $3")
            .bind(t.status.as_str())
            .bind(id_str(t.id))
            .bind(t.version)
            .execute(&self.pool)
            .await?;
        super::expect_one(done)
    }

    pub(super) async fn remember_nonce_impl(
        &self,
        terminal: TerminalId,
        nonce: &str,
        now_us: i64,
    ) -> R<bool> {
        // One statement: a nonce seen before fails its INSERT (the answer `false`).
        let nonce = nonce.to_owned();
        self.write_unguarded(move |tx, first| {
            Box::pin(async move {
                let fresh = remember_nonce_in(tx, first, (terminal, nonce.as_str()), now_us).await;
                (matches!(fresh, Ok(true)), fresh)
            })
        })
        .await
    }

    pub(super) async fn forget_nonces_impl(&self, seen_before_us: i64, limit: i64) -> R<u64> {
        // Row values, so one statement serves both dialects (PostgreSQL has no DELETE ...
        // LIMIT); the `terminal_nonces_seen` index finds the oldest.
        self.write_unguarded(move |tx, mut b| {
            Box::pin(async move {
                let at = b.push(
                    "DELETE FROM terminal_nonces WHERE (terminal_id, nonce) IN \
                     (SELECT terminal_id, nonce FROM terminal_nonces WHERE seen_us < $1 \
                      ORDER BY seen_us LIMIT $2)",
                    vec![seen_before_us.into(), limit.into()],
                );
                let forgot = tx.run_last(b).await.map(|done| done[at].rows_affected);
                (forgot.is_ok(), forgot)
            })
        })
        .await
    }

    pub(super) async fn account_impl(&self, org: OrgId, currency: &str) -> R<AccountRecord> {
        // Read first: every pre-authorization reads the account, and an INSERT, even one
        // that does nothing, is a write (SQLite's write lock, a commit) on the hot path.
        let row = sqlx::query("SELECT * FROM accounts WHERE org_id = $1")
            .bind(id_str(org))
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            return account(&row);
        }
        sqlx::query(
            "INSERT INTO accounts (org_id, currency, credit_limit, credited, available, held, spent, version) \
             VALUES ($1, $2, 0, 0, 0, 0, 0, 1) ON CONFLICT (org_id) DO NOTHING",
        )
        .bind(id_str(org))
        .bind(currency)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT * FROM accounts WHERE org_id = $1")
            .bind(id_str(org))
            .fetch_one(&self.pool)
            .await?;
        account(&row)
    }

    pub(super) async fn credit_account_impl(
        &self,
        org: OrgId,
        currency: &str,
        amount: i64,
        now_us: i64,
    ) -> R<AccountRecord> {
        self.account_impl(org, currency).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE accounts SET credited = credited + $1, available = available + $1, version = version + 1 WHERE org_id = $2")
            .bind(amount)
            .bind(id_str(org))
            .execute(&mut *tx)
            .await?;
        let mut b = Batch::new();
        push_post(&mut b, org, None, "credit", ("funding", "available"), amount, now_us);
        b.run(&mut tx, self.backend).await?;
        tx.commit().await?;
        self.account_impl(org, currency).await
    }

    pub(super) async fn set_credit_limit_impl(
        &self,
        org: OrgId,
        currency: &str,
        limit: i64,
    ) -> R<AccountRecord> {
        self.account_impl(org, currency).await?;
        sqlx::query(
            "UPDATE accounts SET credit_limit = $1, version = version + 1 WHERE org_id = $2",
        )
        .bind(limit)
        .bind(id_str(org))
        .execute(&self.pool)
        .await?;
        self.account_impl(org, currency).await
    }

    pub(super) async fn list_postings_impl(&self, org: OrgId, limit: i64) -> R<Vec<PostingRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM postings WHERE org_id = $1 ORDER BY at_us DESC, id DESC LIMIT $2",
        )
        .bind(id_str(org))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PostingRecord {
                    id: row.parse("id")?,
                    org_id: row.parse("org_id")?,
                    authorization_id: row.opt_parse("authorization_id")?,
                    kind: row.text("kind")?,
                    from_bucket: row.text("from_bucket")?,
                    to_bucket: row.text("to_bucket")?,
                    amount: row.int("amount")?,
                    at_us: row.int("at_us")?,
                })
            })
            .collect()
    }

    pub(super) async fn get_authorization_impl(
        &self,
        id: AuthorizationId,
    ) -> R<AuthorizationRecord> {
        let sql = format!("SELECT {AUTH_COLS} FROM authorizations WHERE id = $1");
        let done = self.read_one(sql, vec![id_str(id).into()]).await?;
        authorization(done.rows.first().ok_or(StoreError::NotFound)?)
    }

    pub(super) async fn find_authorization_impl(
        &self,
        terminal: TerminalId,
        stan: &str,
        at: &str,
    ) -> R<Option<AuthorizationRecord>> {
        let sql = format!("SELECT {AUTH_COLS} FROM authorizations {BY_REQUEST}");
        let done =
            self.read_one(sql, vec![id_str(terminal).into(), stan.into(), at.into()]).await?;
        done.rows.first().map(authorization).transpose()
    }

    pub(super) async fn list_authorizations_impl(
        &self,
        org: OrgId,
        card: Option<CardId>,
        limit: i64,
    ) -> R<Vec<AuthorizationRecord>> {
        let sql = format!(
            "SELECT {AUTH_COLS} FROM authorizations WHERE org_id = $1 AND ($2 = '' OR card_id = $2) \
             ORDER BY created_us DESC, id DESC LIMIT $3"
        );
        let q = sqlx::query(&sql)
            .bind(id_str(org))
            .bind(card.map(id_str).unwrap_or_default())
            .bind(limit);
        q.fetch_all(&self.pool).await?.iter().map(authorization).collect()
    }

    /// One query for any scope and filter: every condition is always present and matches
    /// all when its parameter is empty (`''`) or at its bound, so the SQL text is fixed.
    pub(super) async fn search_authorizations_impl(
        &self,
        org: OrgId,
        f: &AuthorizationFilter,
        limit: i64,
    ) -> R<Vec<AuthorizationRecord>> {
        let sql = format!(
            "SELECT {AUTH_COLS} FROM authorizations a WHERE {} \
             ORDER BY a.created_us DESC, a.id DESC LIMIT $11",
            filter_where()
        );
        bind_filter(sqlx::query(&sql), org, f)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(authorization)
            .collect()
    }

    /// Completed fills' final amounts summed per `bucket_us`-long interval (counted from the
    /// epoch), within the same filter as the search (its status is ignored). Every row is
    /// summed: no limit, one row per non-empty bucket.
    pub(super) async fn spend_buckets_impl(
        &self,
        org: OrgId,
        f: &AuthorizationFilter,
        bucket_us: i64,
    ) -> R<Vec<SpendBucket>> {
        assert!(bucket_us > 0, "bucket_us must be positive");
        let completed = AuthorizationFilter { status: Some(AuthStatus::Completed), ..f.clone() };
        let sql = format!(
            "SELECT a.created_us / $11 AS bucket, \
             CAST(SUM(COALESCE(a.final_amount, 0)) AS BIGINT) AS amount \
             FROM authorizations a WHERE {} GROUP BY bucket ORDER BY bucket",
            filter_where()
        );
        let rows = bind_filter(sqlx::query(&sql), org, &completed)
            .bind(bucket_us)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let bucket = row.int("bucket")?;
                let start_us = bucket.checked_mul(bucket_us).ok_or_else(|| {
                    StoreError::Corrupt(format!("spend bucket {bucket} out of range"))
                })?;
                Ok(SpendBucket { start_us, amount_minor: row.int("amount")? })
            })
            .collect()
    }

    pub(super) async fn card_usage_impl(
        &self,
        card: CardId,
        periods: &[String; 3],
    ) -> R<PeriodUsage> {
        let values = vec![
            id_str(card).into(),
            periods[0].as_str().into(),
            periods[1].as_str().into(),
            periods[2].as_str().into(),
        ];
        let sql = "SELECT period, amount, volume_ml, fills FROM card_usage \
             WHERE card_id = $1 AND period IN ($2, $3, $4)";
        let rows = self.read_one(sql, values).await?.rows;
        let mut usage = [Usage::default(); 3];
        for row in &rows {
            let period = row.text("period")?;
            let Some(slot) = periods.iter().position(|p| *p == period) else { continue };
            usage[slot] = Usage {
                amount_minor: row.int("amount")?,
                volume_ml: row.int("volume_ml")?,
                count: row.int("fills")?,
            };
        }
        Ok(PeriodUsage { day: usage[0], week: usage[1], month: usage[2] })
    }

    pub(super) async fn commit_authorization_impl(
        &self,
        c: &AuthorizationCommit,
    ) -> R<Result<(), CommitRefusal>> {
        let c = c.clone();
        self.write(move |tx, first| {
            Box::pin(async move {
                let committed = commit_in(tx, first, &c).await;
                (matches!(committed, Ok(Ok(()))), committed)
            })
        })
        .await
    }

    pub(super) async fn complete_authorization_impl(&self, c: &CompletionCommit) -> R<bool> {
        let c = c.clone();
        self.write(move |tx, mut first| {
            Box::pin(async move {
                if let Some(nonce) = &c.nonce {
                    push_nonce_claim(&mut first, nonce);
                }
                let done = complete_in(tx, first, &c).await;
                (matches!(done, Ok(true)), done)
            })
        })
        .await
    }

    pub(super) async fn release_authorization_impl(
        &self,
        id: AuthorizationId,
        to: AuthStatus,
        now_us: i64,
    ) -> R<bool> {
        self.write(move |tx, first| {
            Box::pin(async move {
                let done = release_in(tx, first, id, to, now_us).await;
                (matches!(done, Ok(true)), done)
            })
        })
        .await
    }

    pub(super) async fn expired_holds_impl(
        &self,
        now_us: i64,
        limit: i64,
    ) -> R<Vec<AuthorizationId>> {
        let rows = sqlx::query(
            "SELECT id FROM authorizations WHERE status = 'approved' AND hold_expires_us < $1 \
             ORDER BY hold_expires_us LIMIT $2",
        )
        .bind(now_us)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| r.parse("id")).collect()
    }

    pub(super) async fn remember_early_reversal_impl(
        &self,
        terminal: TerminalId,
        stan: &str,
        at: &str,
        now_us: i64,
    ) -> R<bool> {
        let inserted = sqlx::query(
            "INSERT INTO early_reversals (terminal_id, stan, transmitted_at, received_us) VALUES ($1, $2, $3, $4)",
        )
        .bind(id_str(terminal))
        .bind(stan)
        .bind(at)
        .bind(now_us)
        .execute(&self.pool)
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(true),
            Err(StoreError::Duplicate(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn authorization_lookup_impl(
        &self,
        terminal: &TerminalRecord,
        stan: &str,
        at: &str,
    ) -> R<AuthorizationLookup> {
        let key: Vec<Value> = vec![id_str(terminal.id).into(), stan.into(), at.into()];
        let mut b = Batch::new();
        let first_at =
            b.push(format!("SELECT {AUTH_COLS} FROM authorizations {BY_REQUEST}"), key.clone());
        let station_at = b.push(STATION_SQL, vec![id_str(terminal.station_id).into()]);
        let early_at = b.push(EARLY_REVERSAL_SQL, key);
        let done = self.read(b).await?;
        Ok(AuthorizationLookup {
            first: done[first_at].rows.first().map(authorization).transpose()?,
            station: station(done[station_at].rows.first().ok_or(StoreError::NotFound)?)?,
            early_reversed: !done[early_at].rows.is_empty(),
        })
    }

    pub(super) async fn early_reversal_exists_impl(
        &self,
        terminal: TerminalId,
        stan: &str,
        at: &str,
    ) -> R<bool> {
        let row = sqlx::query(EARLY_REVERSAL_SQL)
            .bind(id_str(terminal))
            .bind(stan)
            .bind(at)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

/// Records a terminal's nonce inside the caller's transaction; false when already seen.
async fn remember_nonce_in(
    tx: Tx<'_>,
    mut b: Batch,
    (terminal, nonce): (TerminalId, &str),
    now_us: i64,
) -> R<bool> {
    push_nonce(&mut b, (terminal, nonce), now_us);
    match tx.run_last(b).await {
        Ok(_) => Ok(true),
        Err(StoreError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Records the terminal's nonce; the INSERT fails with `StoreError::Duplicate("nonce")`
/// for a nonce seen before and not yet forgotten.
fn push_nonce(b: &mut Batch, (terminal, nonce): (TerminalId, &str), now_us: i64) {
    b.push(
        "INSERT INTO terminal_nonces (terminal_id, nonce, seen_us) VALUES ($1, $2, $3)",
        vec![id_str(terminal).into(), nonce.into(), now_us.into()],
    );
}

fn push_nonce_claim(b: &mut Batch, claim: &NonceClaim) {
    push_nonce(b, (claim.terminal, &claim.nonce), claim.now_us);
}

/// The pre-authorization's writes inside the caller's transaction, in three batches (each
/// one trip to the database, `batch.rs`): what the next one binds depends on what the
/// previous one read. Lock order as everywhere: authorization (and the token's replay
/// window) → card usage → card features → fleet account. A refusal returns before the
/// caller keeps anything: it rolls back what was written.
async fn commit_in(
    mut tx: Tx<'_>,
    mut first: Batch,
    c: &AuthorizationCommit,
) -> R<Result<(), CommitRefusal>> {
    let (r, backend) = (&c.record, tx.backend());
    // 1. The request's nonce (first, so a replayed request is refused as one), the record
    // (its unique key finds a duplicate) and the token's window, locked.
    if let Some(nonce) = &c.nonce {
        push_nonce_claim(&mut first, nonce);
    }
    first.push(INSERT_AUTHORIZATION, authorization_values(r));
    let window_at = c.claim.as_ref().map(|claim| push_read_window(&mut first, backend, claim));
    let done = match tx.run(first).await {
        Err(StoreError::Duplicate("nonce")) => return Err(StoreError::Duplicate("nonce")),
        Err(StoreError::Duplicate(_)) => return Ok(Err(CommitRefusal::Duplicate)),
        other => other?,
    };
    let next_window = match (&c.claim, window_at) {
        (Some(claim), Some(at)) => match accepted_window(&done[at], claim)? {
            Some(next) => Some((claim, next)),
            None => return Ok(Err(CommitRefusal::Replayed)),
        },
        _ => None,
    };
    // 2. The ATC and LUK use, the limits (conditional upserts), the features row.
    let approved = match (r.status, r.org_id, r.card_id) {
        (AuthStatus::Approved, Some(org), Some(card)) => Some((org, card)),
        _ => None,
    };
    let mut second = Batch::new();
    let luk_at = next_window.map(|(claim, next)| push_spend(&mut second, claim, next));
    let mut usage_at = Vec::new();
    if let Some((org, card)) = approved {
        for (period, limits) in r.periods.iter().zip(&c.limits) {
            usage_at.push(push_count_usage(&mut second, org, card, period, r, limits));
        }
    }
    let features_at =
        c.features.as_ref().map(|u| super::fraud_impl::push_read_features(&mut second, backend, u));
    let done = tx.run(second).await?;
    if luk_at.is_some_and(|at| done[at].rows_affected != 1) {
        return Ok(Err(CommitRefusal::BudgetSpent));
    }
    if usage_at.iter().any(|&at| done[at].rows_affected != 1) {
        return Ok(Err(CommitRefusal::Limit));
    }
    // 3. The features as updated, the alerts, the posting, then the hold on the shared
    // account row, taken last and with the commit, so it is held for no round trip
    // (docs/SCALING.md). The ledger's CHECK refuses a hold the account does not cover.
    let mut third = Batch::new();
    if let (Some(update), Some(at)) = (&c.features, features_at) {
        super::fraud_impl::push_write_features(&mut third, &done[at], update)?;
    }
    for alert in &c.alerts {
        super::fraud_impl::push_insert_alert(&mut third, alert);
    }
    let hold_at = approved.map(|(org, _)| {
        let (id, amount, at_us) = (Some(r.id), r.held_amount, r.created_us);
        push_post(&mut third, org, id, "hold", ("available", "held"), amount, at_us);
        push_hold_funds(&mut third, org, amount)
    });
    let done = match tx.run_last(third).await {
        Err(StoreError::CheckFailed("funds")) => return Ok(Err(CommitRefusal::Funds)),
        other => other?,
    };
    // The account row exists: the decision read it, or made it (`Store::account`), and
    // accounts are never deleted.
    hold_at.map_or(Ok(()), |at| one_row(&done, at, "the hold")).map(Ok)
}

/// Completion inside the caller's transaction; false (nothing written) when the
/// authorization is not open.
async fn complete_in(mut tx: Tx<'_>, first: Batch, c: &CompletionCommit) -> R<bool> {
    let (id, amount, volume, now_us) = (c.id, c.final_amount, c.final_volume_ml, c.now_us);
    let (product, late_alert) = (c.product.as_str(), &c.late_alert);
    let a = read_authorization(&mut tx, first, id).await?;
    let (Some(org), Some(card)) = (a.org_id, a.card_id) else { return Ok(false) };
    let from = a.status;
    if !matches!(from, AuthStatus::Approved | AuthStatus::Expired) {
        return Ok(false);
    }
    let mut b = Batch::new();
    let settled = b.push(
        "UPDATE authorizations SET status = 'completed', final_amount = $1, final_volume_ml = $2, \
         product = $3, settled_us = $4, version = version + 1 WHERE id = $5 AND status = $6",
        vec![
            amount.into(),
            volume.into(),
            product.into(),
            now_us.into(),
            id_str(id).into(),
            from.as_str().into(),
        ],
    );
    // Lock order, in every transaction: authorization → card usage → fleet account
    // (the pre-authorization commit takes the account last too); another order
    // deadlocks against concurrent fills on PostgreSQL. The account goes in the last
    // batch, with the commit (`Tx::run_last`), once the status guard held.
    let mut last = Batch::new();
    let account_at = if from == AuthStatus::Approved {
        let deltas = (amount - a.approved_amount, volume - a.approved_volume_ml, 0);
        push_adjust_usage(&mut b, card, &a.periods, deltas);
        push_post(&mut last, org, Some(id), "capture", ("held", "spent"), amount, now_us);
        let released = a.held_amount - amount;
        push_post(&mut last, org, Some(id), "release", ("held", "available"), released, now_us);
        push_move_buckets(&mut last, org, a.held_amount - amount, -a.held_amount, amount)
    } else {
        // The hold had expired and been released: the fuel was dispensed all the same.
        push_adjust_usage(&mut b, card, &a.periods, (amount, volume, 1));
        super::fraud_impl::push_insert_alert(&mut b, late_alert);
        let kind = "late_capture";
        push_post(&mut last, org, Some(id), kind, ("available", "spent"), amount, now_us);
        push_move_buckets(&mut last, org, -amount, 0, amount)
    };
    let done = tx.run(b).await?;
    // The status guard lost a race: the caller's transaction rolls back the rest.
    if done[settled].rows_affected != 1 {
        return Ok(false);
    }
    let done = tx.run_last(last).await?;
    one_row(&done, account_at, "the account update")?;
    Ok(true)
}

/// Releases an approved hold inside the caller's transaction; false when not approved.
async fn release_in(
    mut tx: Tx<'_>,
    first: Batch,
    id: AuthorizationId,
    to: AuthStatus,
    now_us: i64,
) -> R<bool> {
    let a = read_authorization(&mut tx, first, id).await?;
    let (Some(org), Some(card)) = (a.org_id, a.card_id) else { return Ok(false) };
    if a.status != AuthStatus::Approved {
        return Ok(false);
    }
    let mut b = Batch::new();
    let released = b.push(
        "UPDATE authorizations SET status = $1, settled_us = $2, version = version + 1 \
         WHERE id = $3 AND status = 'approved'",
        vec![to.as_str().into(), now_us.into(), id_str(id).into()],
    );
    // Lock order as in `complete_in`: usage, then the account, with the commit.
    let deltas = (-a.approved_amount, -a.approved_volume_ml, -1);
    push_adjust_usage(&mut b, card, &a.periods, deltas);
    let done = tx.run(b).await?;
    if done[released].rows_affected != 1 {
        return Ok(false);
    }
    let mut last = Batch::new();
    let held = a.held_amount;
    push_post(&mut last, org, Some(id), to.as_str(), ("held", "available"), held, now_us);
    let account_at = push_move_buckets(&mut last, org, held, -held, 0);
    let done = tx.run_last(last).await?;
    one_row(&done, account_at, "the account update")?;
    Ok(true)
}

/// Reads an authorization as the job's first batch (`first`, which may open its savepoint).
async fn read_authorization(
    tx: &mut Tx<'_>,
    mut first: Batch,
    id: AuthorizationId,
) -> R<AuthorizationRecord> {
    let sql = format!("SELECT {AUTH_COLS} FROM authorizations WHERE id = $1");
    let at = first.push(sql, vec![id_str(id).into()]);
    let done = tx.run(first).await?;
    authorization(done[at].rows.first().ok_or(StoreError::NotFound)?)
}

const INSERT_AUTHORIZATION: &str = "INSERT INTO authorizations (id, org_id, card_id, token_id, \
     terminal_id, station_id, stan, transmitted_at, request_hash, entry_mode, status, \
     response_code, reason, requested_amount, approved_amount, approved_volume_ml, held_amount, \
     final_amount, final_volume_ml, product, period_day, period_week, period_month, \
     hold_expires_us, created_us, settled_us, response, trace, version) VALUES ($1, $2, $3, $4, \
     $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, NULL, NULL, $18, $19, $20, $21, \
     $22, $23, NULL, $24, $25, 1)";

fn authorization_values(r: &AuthorizationRecord) -> Vec<Value> {
    vec![
        id_str(r.id).into(),
        r.org_id.map(id_str).into(),
        r.card_id.map(id_str).into(),
        r.token_id.map(id_str).into(),
        id_str(r.terminal_id).into(),
        id_str(r.station_id).into(),
        r.stan.as_str().into(),
        r.transmitted_at.as_str().into(),
        r.request_hash.as_str().into(),
        r.entry_mode.as_str().into(),
        r.status.as_str().into(),
        r.response_code.as_str().into(),
        r.reason.clone().into(),
        r.requested_amount.into(),
        r.approved_amount.into(),
        r.approved_volume_ml.into(),
        r.held_amount.into(),
        r.product.clone().into(),
        r.periods[0].as_str().into(),
        r.periods[1].as_str().into(),
        r.periods[2].as_str().into(),
        r.hold_expires_us.into(),
        r.created_us.into(),
        r.response.as_str().into(),
        r.trace.as_str().into(),
    ]
}

/// Reads the token's replay window, under its row lock on PostgreSQL (SQLite's writer
/// already holds the database's one write lock).
fn push_read_window(b: &mut Batch, backend: super::Backend, claim: &CryptogramClaim) -> usize {
    let sql = format!(
        "SELECT atc_high, atc_seen FROM payment_tokens WHERE id = $1{}",
        backend.for_update()
    );
    b.push(sql, vec![id_str(claim.token).into()])
}

/// The window after accepting the claim's ATC; `None` when it was used already.
fn accepted_window(read: &Done, claim: &CryptogramClaim) -> R<Option<domain::atc::AtcWindow>> {
    let row = read.rows.first().ok_or(StoreError::NotFound)?;
    let window = super::rows::atc_window(row.int("atc_high")?, row.int("atc_seen")?)?;
    Ok(window.accept(claim.atc).ok())
}

/// Moves the window and spends one use of the LUK; the returned statement touched no row
/// when the LUK's budget is spent.
fn push_spend(b: &mut Batch, claim: &CryptogramClaim, next: domain::atc::AtcWindow) -> usize {
    let (high, seen) = atc_columns(next);
    b.push(
        "UPDATE payment_tokens SET atc_high = $1, atc_seen = $2 WHERE id = $3",
        vec![high.into(), seen.into(), id_str(claim.token).into()],
    );
    b.push(
        "UPDATE luks SET used_count = used_count + 1 WHERE token_id = $1 AND key_index = $2 \
         AND used_count < max_uses",
        vec![id_str(claim.token).into(), hex::encode(claim.key_index).into()],
    )
}

/// Spends a claim on its own (standalone validation): window, then ATC and LUK use.
pub(super) async fn spend_cryptogram(
    conn: &mut Tx<'_>,
    claim: &CryptogramClaim,
) -> R<Result<(), CommitRefusal>> {
    let backend = conn.backend();
    let mut read = Batch::new();
    push_read_window(&mut read, backend, claim);
    let done = conn.run(read).await?;
    let Some(next) = accepted_window(&done[0], claim)? else {
        return Ok(Err(CommitRefusal::Replayed));
    };
    let mut spend = Batch::new();
    let luk_at = push_spend(&mut spend, claim, next);
    let done = conn.run(spend).await?;
    Ok(if done[luk_at].rows_affected == 1 { Ok(()) } else { Err(CommitRefusal::BudgetSpent) })
}

/// available → held. The ledger's CHECK (`available + credit_limit >= 0`) fails the
/// statement, `StoreError::CheckFailed("funds")`, when the account (with its credit line)
/// does not cover it: a failed statement, unlike a row count, stops a `COMMIT` sent in the
/// same batch (`Tx::run_last`).
fn push_hold_funds(b: &mut Batch, org: OrgId, amount: i64) -> usize {
    b.push(
        "UPDATE accounts SET available = available - $1, held = held + $1, version = version + 1 \
         WHERE org_id = $2",
        vec![amount.into(), id_str(org).into()],
    )
}

/// Counts an approval in one period, only if the period's limits still allow it; the
/// statement touches no row when they do not.
fn push_count_usage(
    b: &mut Batch,
    org: OrgId,
    card: CardId,
    period: &str,
    r: &AuthorizationRecord,
    limits: &PeriodLimits,
) -> usize {
    b.push(
        "INSERT INTO card_usage (org_id, card_id, period, amount, volume_ml, fills) VALUES ($1, $2, $3, $4, $5, 1) \
         ON CONFLICT (card_id, period) DO UPDATE SET amount = card_usage.amount + excluded.amount, \
         volume_ml = card_usage.volume_ml + excluded.volume_ml, fills = card_usage.fills + 1 \
         WHERE ($6 IS NULL OR card_usage.amount + excluded.amount <= $6) \
         AND ($7 IS NULL OR card_usage.volume_ml + excluded.volume_ml <= $7) \
         AND ($8 IS NULL OR card_usage.fills + 1 <= $8)",
        vec![
            id_str(org).into(),
            id_str(card).into(),
            period.into(),
            r.approved_amount.into(),
            r.approved_volume_ml.into(),
            limits.amount.into(),
            limits.volume_ml.into(),
            limits.fills.into(),
        ],
    )
}

impl AuthorizerStore for SqlStore {
    async fn create_station(&self, s: &StationRecord) -> R<()> {
        self.create_station_impl(s).await
    }
    async fn get_station(&self, id: StationId) -> R<StationRecord> {
        self.get_station_impl(id).await
    }
    async fn list_stations(&self) -> R<Vec<StationRecord>> {
        self.list_stations_impl().await
    }
    async fn create_terminal(&self, t: &TerminalRecord) -> R<()> {
        self.create_terminal_impl(t).await
    }
    async fn get_terminal(&self, id: TerminalId) -> R<TerminalRecord> {
        self.get_terminal_impl(id).await
    }
    async fn set_terminal_status(&self, t: &TerminalRecord) -> R<()> {
        self.set_terminal_status_impl(t).await
    }
    async fn remember_nonce(&self, terminal: TerminalId, nonce: &str, now_us: i64) -> R<bool> {
        self.remember_nonce_impl(terminal, nonce, now_us).await
    }
    async fn forget_nonces(&self, seen_before_us: i64, limit: i64) -> R<u64> {
        self.forget_nonces_impl(seen_before_us, limit).await
    }
    async fn account(&self, org: OrgId, currency: &str) -> R<AccountRecord> {
        self.account_impl(org, currency).await
    }
    async fn credit_account(
        &self,
        org: OrgId,
        currency: &str,
        amount: i64,
        now_us: i64,
    ) -> R<AccountRecord> {
        self.credit_account_impl(org, currency, amount, now_us).await
    }
    async fn set_credit_limit(&self, org: OrgId, currency: &str, limit: i64) -> R<AccountRecord> {
        self.set_credit_limit_impl(org, currency, limit).await
    }
    async fn list_postings(&self, org: OrgId, limit: i64) -> R<Vec<PostingRecord>> {
        self.list_postings_impl(org, limit).await
    }
    async fn get_authorization(&self, id: AuthorizationId) -> R<AuthorizationRecord> {
        self.get_authorization_impl(id).await
    }
    async fn find_authorization(
        &self,
        terminal: TerminalId,
        stan: &str,
        transmitted_at: &str,
    ) -> R<Option<AuthorizationRecord>> {
        self.find_authorization_impl(terminal, stan, transmitted_at).await
    }
    async fn list_authorizations(
        &self,
        org: OrgId,
        card: Option<CardId>,
        limit: i64,
    ) -> R<Vec<AuthorizationRecord>> {
        self.list_authorizations_impl(org, card, limit).await
    }
    async fn search_authorizations(
        &self,
        org: OrgId,
        filter: &AuthorizationFilter,
        limit: i64,
    ) -> R<Vec<AuthorizationRecord>> {
        self.search_authorizations_impl(org, filter, limit).await
    }
    async fn spend_buckets(
        &self,
        org: OrgId,
        filter: &AuthorizationFilter,
        bucket_us: i64,
    ) -> R<Vec<SpendBucket>> {
        self.spend_buckets_impl(org, filter, bucket_us).await
    }
    async fn card_usage(&self, card: CardId, periods: &[String; 3]) -> R<PeriodUsage> {
        self.card_usage_impl(card, periods).await
    }
    async fn commit_authorization(
        &self,
        commit: &AuthorizationCommit,
    ) -> R<Result<(), CommitRefusal>> {
        self.commit_authorization_impl(commit).await
    }
    async fn complete_authorization(&self, completion: &CompletionCommit) -> R<bool> {
        self.complete_authorization_impl(completion).await
    }
    async fn release_authorization(
        &self,
        id: AuthorizationId,
        to: AuthStatus,
        now_us: i64,
    ) -> R<bool> {
        self.release_authorization_impl(id, to, now_us).await
    }
    async fn expired_holds(&self, now_us: i64, limit: i64) -> R<Vec<AuthorizationId>> {
        self.expired_holds_impl(now_us, limit).await
    }
    async fn remember_early_reversal(
        &self,
        terminal: TerminalId,
        stan: &str,
        transmitted_at: &str,
        now_us: i64,
    ) -> R<bool> {
        self.remember_early_reversal_impl(terminal, stan, transmitted_at, now_us).await
    }
    async fn early_reversal_exists(
        &self,
        terminal: TerminalId,
        stan: &str,
        transmitted_at: &str,
    ) -> R<bool> {
        self.early_reversal_exists_impl(terminal, stan, transmitted_at).await
    }

    async fn authorization_lookup(
        &self,
        terminal: &TerminalRecord,
        stan: &str,
        at: &str,
    ) -> R<AuthorizationLookup> {
        self.authorization_lookup_impl(terminal, stan, at).await
    }
    async fn decision_inputs(
        &self,
        card: &crate::CardRecord,
        subjects: &[(crate::ControlLevel, uuid::Uuid)],
    ) -> R<DecisionInputs> {
        self.decision_inputs_impl(card, subjects).await
    }
    async fn fraud_rules(&self, org: OrgId) -> R<Vec<crate::FraudRuleRecord>> {
        self.fraud_rules_impl(org).await
    }
    async fn put_fraud_rules(&self, rules: &[crate::FraudRuleRecord]) -> R<()> {
        self.put_fraud_rules_impl(rules).await
    }
    async fn card_features(&self, card: CardId) -> R<Option<crate::CardFeaturesRecord>> {
        self.card_features_impl(card).await
    }
    async fn card_rebind_unblock(&self, org: OrgId, card: CardId) -> R<(Option<i64>, Option<i64>)> {
        self.card_rebind_unblock_impl(org, card).await
    }
    async fn list_alerts(&self, f: &crate::AlertFilter, limit: i64) -> R<Vec<crate::AlertRecord>> {
        self.list_alerts_impl(f, limit).await
    }
    async fn alert_counts(&self, f: &crate::AlertFilter) -> R<Vec<(crate::AlertStatus, i64)>> {
        self.alert_counts_impl(f).await
    }
    async fn get_alert(&self, id: uuid::Uuid) -> R<crate::AlertRecord> {
        self.get_alert_impl(id).await
    }
    async fn move_alert(&self, from: crate::AlertStatus, to: &crate::AlertRecord) -> R<bool> {
        self.move_alert_impl(from, to).await
    }
    async fn add_alert_comment(&self, c: &crate::AlertCommentRecord) -> R<()> {
        self.add_alert_comment_impl(c).await
    }
    async fn alert_comments(&self, alert: uuid::Uuid) -> R<Vec<crate::AlertCommentRecord>> {
        self.alert_comments_impl(alert).await
    }
    async fn rule_stats(&self, org: OrgId, since_us: i64) -> R<Vec<crate::RuleStatsRecord>> {
        self.rule_stats_impl(org, since_us).await
    }
}
