//! The authorizer's half of the SQL store. The money paths (`commit_authorization`,
//! `complete_authorization`, `release_authorization`) are single transactions whose
//! conditional updates make the database the arbiter of funds, limits and replay.

use super::rows::{atc_columns, RowExt};
use super::store_impl::id_str;
use super::SqlStore;
use crate::authorizer::*;
use crate::StoreError;
use domain::authorize::{PeriodUsage, Usage};
use domain::{AuthorizationId, CardId, OrgId, StationId, TerminalId};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

type R<T> = Result<T, StoreError>;

const AUTH_COLS: &str = "id, org_id, card_id, token_id, terminal_id, station_id, stan, \
     transmitted_at, request_hash, entry_mode, status, response_code, reason, requested_amount, \
     approved_amount, approved_volume_ml, held_amount, final_amount, final_volume_ml, product, \
     period_day, period_week, period_month, hold_expires_us, created_us, settled_us, response, \
     trace, version";

fn authorization(row: &AnyRow) -> R<AuthorizationRecord> {
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

fn account(row: &AnyRow) -> R<AccountRecord> {
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

fn station(row: &AnyRow) -> R<StationRecord> {
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

fn terminal(row: &AnyRow) -> R<TerminalRecord> {
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

/// One balanced movement: `amount` leaves `from` and enters `to`.
async fn post(
    conn: &mut AnyConnection,
    org: OrgId,
    auth: Option<AuthorizationId>,
    kind: &str,
    (from, to): (&str, &str),
    amount: i64,
    now_us: i64,
) -> R<()> {
    if amount == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO postings (id, org_id, authorization_id, kind, from_bucket, to_bucket, amount, at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(id_str(org))
    .bind(auth.map(id_str))
    .bind(kind)
    .bind(from)
    .bind(to)
    .bind(amount)
    .bind(now_us)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the account's buckets by the given deltas (they sum to zero except for credits).
async fn move_buckets(
    conn: &mut AnyConnection,
    org: OrgId,
    available: i64,
    held: i64,
    spent: i64,
) -> R<()> {
    let done = sqlx::query(
        "UPDATE accounts SET available = available + $1, held = held + $2, spent = spent + $3, \
         version = version + 1 WHERE org_id = $4",
    )
    .bind(available)
    .bind(held)
    .bind(spent)
    .bind(id_str(org))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Corrupt(format!("no account for {org}")));
    }
    Ok(())
}

/// Adds deltas to a card's usage in its three periods (completion, release).
async fn adjust_usage(
    conn: &mut AnyConnection,
    card: CardId,
    periods: &[String; 3],
    amount: i64,
    volume: i64,
    fills: i64,
) -> R<()> {
    for period in periods {
        sqlx::query(
            "UPDATE card_usage SET amount = amount + $1, volume_ml = volume_ml + $2, fills = fills + $3 \
             WHERE card_id = $4 AND period = $5",
        )
        .bind(amount)
        .bind(volume)
        .bind(fills)
        .bind(id_str(card))
        .bind(period.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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
        let row = sqlx::query("SELECT * FROM stations WHERE id = $1")
            .bind(id_str(id))
            .fetch_one(&self.pool)
            .await?;
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
        let row = sqlx::query("SELECT * FROM terminals WHERE id = $1")
            .bind(id_str(id))
            .fetch_one(&self.pool)
            .await?;
        terminal(&row)
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
        forget_before_us: i64,
    ) -> R<bool> {
        let nonce = nonce.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let fresh = remember_nonce_in(tx, terminal, &nonce, now_us, forget_before_us).await;
                (matches!(fresh, Ok(true)), fresh)
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
        post(&mut tx, org, None, "credit", ("funding", "available"), amount, now_us).await?;
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
        authorization(&sqlx::query(&sql).bind(id_str(id)).fetch_one(&self.pool).await?)
    }

    pub(super) async fn find_authorization_impl(
        &self,
        terminal: TerminalId,
        stan: &str,
        at: &str,
    ) -> R<Option<AuthorizationRecord>> {
        let sql = format!("SELECT {AUTH_COLS} FROM authorizations WHERE terminal_id = $1 AND stan = $2 AND transmitted_at = $3");
        let row = sqlx::query(&sql)
            .bind(id_str(terminal))
            .bind(stan)
            .bind(at)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(authorization).transpose()
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
    /// Driver and vehicle match the binding the card had when the fill was made.
    pub(super) async fn search_authorizations_impl(
        &self,
        org: OrgId,
        f: &AuthorizationFilter,
        limit: i64,
    ) -> R<Vec<AuthorizationRecord>> {
        let bound_to = |col: &str, n: u8| {
            format!(
                "(${n} = '' OR EXISTS (SELECT 1 FROM card_bindings b WHERE b.org_id = a.org_id \
                 AND b.card_id = a.card_id AND b.{col} = ${n} AND b.bound_us <= a.created_us \
                 AND (b.unbound_us IS NULL OR b.unbound_us > a.created_us)))"
            )
        };
        let sql = format!(
            "SELECT {AUTH_COLS} FROM authorizations a WHERE a.org_id = $1 \
             AND ($2 = '' OR a.card_id IN (SELECT c.id FROM cards c JOIN groups g \
                  ON g.id = c.group_id WHERE c.org_id = $1 AND g.path LIKE $2 || '%')) \
             AND ($3 = '' OR a.card_id IN (SELECT c.id FROM cards c \
                  WHERE c.org_id = $1 AND c.driver_id = $3)) \
             AND ($4 = '' OR a.card_id = $4) AND ($5 = '' OR a.status = $5) \
             AND {} AND {} AND ($8 = '' OR a.station_id = $8) \
             AND a.created_us >= $9 AND a.created_us < $10 \
             ORDER BY a.created_us DESC, a.id DESC LIMIT $11",
            bound_to("driver_id", 6),
            bound_to("vehicle_id", 7),
        );
        let text = |id: Option<String>| id.unwrap_or_default();
        sqlx::query(&sql)
            .bind(id_str(org))
            .bind(f.group_path.clone().unwrap_or_default())
            .bind(text(f.card_holder.map(id_str)))
            .bind(text(f.card_id.map(id_str)))
            .bind(f.status.map_or("", |s| s.as_str()))
            .bind(text(f.driver_id.map(id_str)))
            .bind(text(f.vehicle_id.map(id_str)))
            .bind(text(f.station_id.map(id_str)))
            .bind(f.from_us.unwrap_or(i64::MIN))
            .bind(f.to_us.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(authorization)
            .collect()
    }

    pub(super) async fn card_usage_impl(
        &self,
        card: CardId,
        periods: &[String; 3],
    ) -> R<PeriodUsage> {
        let rows = sqlx::query(
            "SELECT period, amount, volume_ml, fills FROM card_usage \
             WHERE card_id = $1 AND period IN ($2, $3, $4)",
        )
        .bind(id_str(card))
        .bind(periods[0].as_str())
        .bind(periods[1].as_str())
        .bind(periods[2].as_str())
        .fetch_all(&self.pool)
        .await?;
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
        let (c, backend) = (c.clone(), self.backend);
        self.write(move |tx| {
            Box::pin(async move {
                let committed = commit_in(tx, backend, &c).await;
                (matches!(committed, Ok(Ok(()))), committed)
            })
        })
        .await
    }

    pub(super) async fn complete_authorization_impl(
        &self,
        id: AuthorizationId,
        amount: i64,
        volume: i64,
        product: &str,
        now_us: i64,
        late_alert: &crate::AlertRecord,
    ) -> R<bool> {
        let (product, late_alert) = (product.to_owned(), late_alert.clone());
        self.write(move |tx| {
            Box::pin(async move {
                let fill = (amount, volume);
                let done = complete_in(tx, id, fill, &product, now_us, &late_alert).await;
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
        self.write(move |tx| {
            Box::pin(async move {
                let done = release_in(tx, id, to, now_us).await;
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

    pub(super) async fn early_reversal_exists_impl(
        &self,
        terminal: TerminalId,
        stan: &str,
        at: &str,
    ) -> R<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM early_reversals WHERE terminal_id = $1 AND stan = $2 AND transmitted_at = $3")
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
    tx: &mut AnyConnection,
    terminal: TerminalId,
    nonce: &str,
    now_us: i64,
    forget_before_us: i64,
) -> R<bool> {
    sqlx::query("DELETE FROM terminal_nonces WHERE terminal_id = $1 AND seen_us < $2")
        .bind(id_str(terminal))
        .bind(forget_before_us)
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO terminal_nonces (terminal_id, nonce, seen_us) VALUES ($1, $2, $3)",
    )
    .bind(id_str(terminal))
    .bind(nonce)
    .bind(now_us)
    .execute(&mut *tx)
    .await;
    match inserted.map_err(StoreError::from) {
        Ok(_) => Ok(true),
        Err(StoreError::Duplicate(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The pre-authorization's writes inside the caller's transaction. A refusal returns
/// before the caller keeps anything: it rolls back what was written.
async fn commit_in(
    tx: &mut AnyConnection,
    backend: super::Backend,
    c: &AuthorizationCommit,
) -> R<Result<(), CommitRefusal>> {
    match insert_authorization(tx, &c.record).await {
        Err(StoreError::Duplicate(_)) => return Ok(Err(CommitRefusal::Duplicate)),
        other => other?,
    }
    if let Some(claim) = &c.claim {
        if let Err(refusal) = spend_cryptogram(tx, backend, claim).await? {
            return Ok(Err(refusal));
        }
    }
    let r = &c.record;
    let approved = match (r.status, r.org_id, r.card_id) {
        (AuthStatus::Approved, Some(org), Some(card)) => Some((org, card)),
        _ => None,
    };
    if let Some((org, card)) = approved {
        for (period, limits) in r.periods.iter().zip(&c.limits) {
            if !count_usage(tx, org, card, period, r, limits).await? {
                return Ok(Err(CommitRefusal::Limit));
            }
        }
    }
    if let Some(update) = &c.features {
        super::fraud_impl::update_features(tx, backend, update).await?;
    }
    for alert in &c.alerts {
        super::fraud_impl::insert_alert(tx, alert).await?;
    }
    // The fleet's account row is shared by all its cards: lock it last, so it is held
    // only for the end of the transaction (docs/SCALING.md, "The hot account").
    if let Some((org, _)) = approved {
        if !hold_funds(tx, org, r.held_amount).await? {
            return Ok(Err(CommitRefusal::Funds));
        }
        let (buckets, amount) = (("available", "held"), r.held_amount);
        post(tx, org, Some(r.id), "hold", buckets, amount, r.created_us).await?;
    }
    Ok(Ok(()))
}

/// Completion inside the caller's transaction; false (nothing written) when the
/// authorization is not open.
async fn complete_in(
    tx: &mut AnyConnection,
    id: AuthorizationId,
    (amount, volume): (i64, i64),
    product: &str,
    now_us: i64,
    late_alert: &crate::AlertRecord,
) -> R<bool> {
    let sql = format!("SELECT {AUTH_COLS} FROM authorizations WHERE id = $1");
    let a = authorization(&sqlx::query(&sql).bind(id_str(id)).fetch_one(&mut *tx).await?)?;
    let (Some(org), Some(card)) = (a.org_id, a.card_id) else { return Ok(false) };
    let from = a.status;
    if !matches!(from, AuthStatus::Approved | AuthStatus::Expired) {
        return Ok(false);
    }
    let done = sqlx::query(
        "UPDATE authorizations SET status = 'completed', final_amount = $1, final_volume_ml = $2, \
         product = $3, settled_us = $4, version = version + 1 WHERE id = $5 AND status = $6",
    )
    .bind(amount)
    .bind(volume)
    .bind(product)
    .bind(now_us)
    .bind(id_str(id))
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // Lock order, in every transaction: authorization → card usage → fleet account
    // (the pre-authorization commit takes the account last too); another order
    // deadlocks against concurrent fills on PostgreSQL.
    if from == AuthStatus::Approved {
        let (amount_delta, volume_delta) =
            (amount - a.approved_amount, volume - a.approved_volume_ml);
        adjust_usage(tx, card, &a.periods, amount_delta, volume_delta, 0).await?;
        move_buckets(tx, org, a.held_amount - amount, -a.held_amount, amount).await?;
        post(tx, org, Some(id), "capture", ("held", "spent"), amount, now_us).await?;
        let released = a.held_amount - amount;
        post(tx, org, Some(id), "release", ("held", "available"), released, now_us).await?;
    } else {
        // The hold had expired and been released: the fuel was dispensed all the same.
        adjust_usage(tx, card, &a.periods, amount, volume, 1).await?;
        super::fraud_impl::insert_alert(tx, late_alert).await?;
        move_buckets(tx, org, -amount, 0, amount).await?;
        post(tx, org, Some(id), "late_capture", ("available", "spent"), amount, now_us).await?;
    }
    Ok(true)
}

/// Releases an approved hold inside the caller's transaction; false when not approved.
async fn release_in(
    tx: &mut AnyConnection,
    id: AuthorizationId,
    to: AuthStatus,
    now_us: i64,
) -> R<bool> {
    let sql = format!("SELECT {AUTH_COLS} FROM authorizations WHERE id = $1");
    let a = authorization(&sqlx::query(&sql).bind(id_str(id)).fetch_one(&mut *tx).await?)?;
    let (Some(org), Some(card)) = (a.org_id, a.card_id) else { return Ok(false) };
    let done = sqlx::query(
        "UPDATE authorizations SET status = $1, settled_us = $2, version = version + 1 \
         WHERE id = $3 AND status = 'approved'",
    )
    .bind(to.as_str())
    .bind(now_us)
    .bind(id_str(id))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // Lock order as in `complete_authorization_impl`: usage, then the account.
    adjust_usage(tx, card, &a.periods, -a.approved_amount, -a.approved_volume_ml, -1).await?;
    move_buckets(tx, org, a.held_amount, -a.held_amount, 0).await?;
    post(tx, org, Some(id), to.as_str(), ("held", "available"), a.held_amount, now_us).await?;
    Ok(true)
}

async fn insert_authorization(conn: &mut AnyConnection, r: &AuthorizationRecord) -> R<()> {
    sqlx::query(
        "INSERT INTO authorizations (id, org_id, card_id, token_id, terminal_id, station_id, stan, \
         transmitted_at, request_hash, entry_mode, status, response_code, reason, requested_amount, \
         approved_amount, approved_volume_ml, held_amount, final_amount, final_volume_ml, product, \
         period_day, period_week, period_month, hold_expires_us, created_us, settled_us, response, \
         trace, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, NULL, NULL, $18, $19, $20, $21, $22, $23, NULL, $24, $25, 1)",
    )
    .bind(id_str(r.id))
    .bind(r.org_id.map(id_str))
    .bind(r.card_id.map(id_str))
    .bind(r.token_id.map(id_str))
    .bind(id_str(r.terminal_id))
    .bind(id_str(r.station_id))
    .bind(r.stan.as_str())
    .bind(r.transmitted_at.as_str())
    .bind(r.request_hash.as_str())
    .bind(r.entry_mode.as_str())
    .bind(r.status.as_str())
    .bind(r.response_code.as_str())
    .bind(r.reason.as_deref())
    .bind(r.requested_amount)
    .bind(r.approved_amount)
    .bind(r.approved_volume_ml)
    .bind(r.held_amount)
    .bind(r.product.as_deref())
    .bind(r.periods[0].as_str())
    .bind(r.periods[1].as_str())
    .bind(r.periods[2].as_str())
    .bind(r.hold_expires_us)
    .bind(r.created_us)
    .bind(r.response.as_str())
    .bind(r.trace.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn spend_cryptogram(
    conn: &mut AnyConnection,
    backend: super::Backend,
    claim: &CryptogramClaim,
) -> R<Result<(), CommitRefusal>> {
    let sql = format!(
        "SELECT atc_high, atc_seen FROM payment_tokens WHERE id = $1{}",
        backend.for_update()
    );
    let row = sqlx::query(&sql).bind(id_str(claim.token)).fetch_one(&mut *conn).await?;
    let window = super::rows::atc_window(row.int("atc_high")?, row.int("atc_seen")?)?;
    let Ok(next) = window.accept(claim.atc) else { return Ok(Err(CommitRefusal::Replayed)) };
    let (high, seen) = atc_columns(next);
    sqlx::query("UPDATE payment_tokens SET atc_high = $1, atc_seen = $2 WHERE id = $3")
        .bind(high)
        .bind(seen)
        .bind(id_str(claim.token))
        .execute(&mut *conn)
        .await?;
    let spent = sqlx::query(
        "UPDATE luks SET used_count = used_count + 1 WHERE token_id = $1 AND key_index = $2 AND used_count < max_uses",
    )
    .bind(id_str(claim.token))
    .bind(hex::encode(claim.key_index))
    .execute(&mut *conn)
    .await?;
    Ok(if spent.rows_affected() == 1 { Ok(()) } else { Err(CommitRefusal::BudgetSpent) })
}

/// available → held, only if the account (with its credit line) still covers it.
async fn hold_funds(conn: &mut AnyConnection, org: OrgId, amount: i64) -> R<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET available = available - $1, held = held + $1, version = version + 1 \
         WHERE org_id = $2 AND available + credit_limit >= $1",
    )
    .bind(amount)
    .bind(id_str(org))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts an approval in one period, only if the period's limits still allow it.
async fn count_usage(
    conn: &mut AnyConnection,
    org: OrgId,
    card: CardId,
    period: &str,
    r: &AuthorizationRecord,
    limits: &PeriodLimits,
) -> R<bool> {
    let done = sqlx::query(
        "INSERT INTO card_usage (org_id, card_id, period, amount, volume_ml, fills) VALUES ($1, $2, $3, $4, $5, 1) \
         ON CONFLICT (card_id, period) DO UPDATE SET amount = card_usage.amount + excluded.amount, \
         volume_ml = card_usage.volume_ml + excluded.volume_ml, fills = card_usage.fills + 1 \
         WHERE ($6 IS NULL OR card_usage.amount + excluded.amount <= $6) \
         AND ($7 IS NULL OR card_usage.volume_ml + excluded.volume_ml <= $7) \
         AND ($8 IS NULL OR card_usage.fills + 1 <= $8)",
    )
    .bind(id_str(org))
    .bind(id_str(card))
    .bind(period)
    .bind(r.approved_amount)
    .bind(r.approved_volume_ml)
    .bind(limits.amount)
    .bind(limits.volume_ml)
    .bind(limits.fills)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
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
    async fn remember_nonce(
        &self,
        terminal: TerminalId,
        nonce: &str,
        now_us: i64,
        forget_before_us: i64,
    ) -> R<bool> {
        self.remember_nonce_impl(terminal, nonce, now_us, forget_before_us).await
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
    async fn card_usage(&self, card: CardId, periods: &[String; 3]) -> R<PeriodUsage> {
        self.card_usage_impl(card, periods).await
    }
    async fn commit_authorization(
        &self,
        commit: &AuthorizationCommit,
    ) -> R<Result<(), CommitRefusal>> {
        self.commit_authorization_impl(commit).await
    }
    async fn complete_authorization(
        &self,
        id: AuthorizationId,
        final_amount: i64,
        final_volume_ml: i64,
        product: &str,
        now_us: i64,
        late_alert: &crate::AlertRecord,
    ) -> R<bool> {
        self.complete_authorization_impl(
            id,
            final_amount,
            final_volume_ml,
            product,
            now_us,
            late_alert,
        )
        .await
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
