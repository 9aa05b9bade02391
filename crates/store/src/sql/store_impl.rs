use super::batch::{Batch, Done, Value};
use super::rows::{self, *};
use super::{expect_one, SqlStore};
use crate::records::*;
use crate::{Store, StoreError};
use domain::{CardId, DeviceId, GroupId, OrgId, SessionId, TokenId, UserId, VehicleId};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

type R<T> = Result<T, StoreError>;
type Q<'q> = Query<'q, Any, AnyArguments<'q>>;

/// The stored controls of `n` subjects: binds the org, then each subject's level and id.
pub(super) fn controls_sql(n: usize) -> String {
    let terms: Vec<String> = (0..n)
        .map(|i| format!("(level = ${} AND subject_id = ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    format!("SELECT {CONTROLS_COLS} FROM controls WHERE org_id = $1 AND ({})", terms.join(" OR "))
}

pub(super) fn id_str(id: impl ToString) -> String {
    id.to_string()
}

fn opt_str<T: ToString>(id: Option<T>) -> Option<String> {
    id.map(|i| i.to_string())
}

/// `AND <col> IN (groups under the scope path)` when the scope is narrower than the org.
/// The path is bound as parameter `$n`, never spliced into the SQL.
fn scope_clause(col: &str, scope: &Scope, n: usize) -> String {
    match scope.group_path {
        None => String::new(),
        Some(_) => format!(
            " AND {col} IN (SELECT sg.id FROM groups sg WHERE sg.org_id = $1 \
             AND sg.path LIKE ${n} || '%')"
        ),
    }
}

fn bind_scope<'q>(q: Q<'q>, scope: &'q Scope) -> Q<'q> {
    match &scope.group_path {
        None => q,
        Some(path) => q.bind(path.as_str()),
    }
}

/// The statements of `fx`, for a batch in the write's transaction. Check the outcomes
/// with [`effects_held`] after the batch ran.
pub(super) fn push_effects(b: &mut Batch, fx: &Effects) -> PushedEffects {
    // A no-op write: it takes the group row's lock, which `deactivate_group` holds from
    // its first statement, so either this sees the group deactivated or the
    // deactivation's emptiness check sees this write's object.
    let group_guard = fx.into_group.map(|(org, group)| {
        b.push(
            "UPDATE groups SET version = version WHERE org_id = $1 AND id = $2 \
             AND status = 'active'",
            vec![id_str(org).into(), id_str(group).into()],
        )
    });
    if !fx.audit.is_empty() {
        let rows = fx.audit.iter().map(audit_values).collect();
        b.push_rows(
            "INSERT INTO audit_events (id, org_id, subject_type, subject_id, card_id, action, \
             actor_id, actor_role, at_us, reason, before_doc, after_doc)",
            rows,
        );
    }
    if let Some(idem) = &fx.idempotency {
        b.push(
            "INSERT INTO idempotency_keys (actor_id, key, org_id, request_hash, status, body, \
             created_us) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                id_str(idem.actor_id).into(),
                idem.key.as_str().into(),
                opt_str(idem.org_id).into(),
                idem.request_hash.as_str().into(),
                i64::from(idem.status).into(),
                idem.body.as_str().into(),
                idem.created_us.into(),
            ],
        );
    }
    PushedEffects { group_guard }
}

/// Where [`push_effects`] put the statement whose outcome decides the write.
pub(super) struct PushedEffects {
    group_guard: Option<usize>,
}

/// Whether the effects' batch held: `ran` is its outcome (a taken idempotency key fails
/// the batch itself, a deactivated group touches no row).
pub(super) fn effects_held(ran: R<Vec<Done>>, pushed: &PushedEffects) -> R<Vec<Done>> {
    let done = match ran {
        Err(StoreError::Duplicate("idempotency_key")) => {
            return Err(StoreError::IdempotencyKeyTaken)
        }
        other => other?,
    };
    if let Some(at) = pushed.group_guard {
        if done[at].rows_affected != 1 {
            return Err(StoreError::GroupDeactivated);
        }
    }
    Ok(done)
}

fn audit_values(e: &AuditEvent) -> Vec<Value> {
    vec![
        id_str(e.id).into(),
        opt_str(e.org_id).into(),
        e.subject_type.into(),
        id_str(e.subject_id).into(),
        opt_str(e.card_id).into(),
        e.action.as_str().into(),
        opt_str(e.actor_id).into(),
        e.actor_role.map(|r| r.as_str().to_owned()).into(),
        e.at_us.into(),
        e.reason.clone().into(),
        e.before.clone().into(),
        e.after.clone().into(),
    ]
}

/// A sqlx write's effects, in one batch on its transaction.
pub(super) async fn write_effects(conn: &mut AnyConnection, fx: &Effects) -> R<()> {
    let mut b = Batch::new();
    let pushed = push_effects(&mut b, fx);
    let backend = super::Backend::of(conn);
    effects_held(b.run(conn, backend).await, &pushed).map(drop)
}

async fn insert_user(conn: &mut AnyConnection, u: &UserRecord) -> R<()> {
    sqlx::query(
        "INSERT INTO users (id, org_id, email, name, role, group_id, status, password_hash, \
         invite_hash, invite_expires_us, language, created_us, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1)",
    )
    .bind(id_str(u.id))
    .bind(opt_str(u.org_id))
    .bind(u.email.as_str())
    .bind(u.name.as_str())
    .bind(u.role.as_str())
    .bind(opt_str(u.group_id))
    .bind(u.status.as_str())
    .bind(u.password_hash.as_deref())
    .bind(u.invite_hash.as_deref())
    .bind(u.invite_expires_us)
    .bind(u.language.as_str())
    .bind(u.created_us)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_binding(conn: &mut AnyConnection, b: &BindingRecord) -> R<()> {
    sqlx::query(
        "INSERT INTO card_bindings (id, org_id, card_id, driver_id, vehicle_id, bound_us, \
         unbound_us, actor_id) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
    )
    .bind(id_str(b.id))
    .bind(id_str(b.org_id))
    .bind(id_str(b.card_id))
    .bind(opt_str(b.driver_id))
    .bind(opt_str(b.vehicle_id))
    .bind(b.bound_us)
    .bind(id_str(b.actor_id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store for SqlStore {
    async fn create_org(&self, org: &OrgRecord, owner: &UserRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO orgs (id, name, currency, time_zone, created_us, version) \
             VALUES ($1, $2, $3, $4, $5, 1)",
        )
        .bind(id_str(org.id))
        .bind(org.name.as_str())
        .bind(org.currency.code())
        .bind(org.time_zone.as_str())
        .bind(org.created_us)
        .execute(&mut *tx)
        .await?;
        insert_user(&mut tx, owner).await?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn get_org(&self, id: OrgId) -> R<OrgRecord> {
        let sql = format!("SELECT {ORG_COLS} FROM orgs WHERE id = $1");
        rows::org(&sqlx::query(&sql).bind(id_str(id)).fetch_one(&self.pool).await?)
    }

    async fn list_orgs(&self) -> R<Vec<OrgRecord>> {
        let sql = format!("SELECT {ORG_COLS} FROM orgs ORDER BY name, id");
        sqlx::query(&sql).fetch_all(&self.pool).await?.iter().map(rows::org).collect()
    }

    async fn update_org(&self, org: &OrgRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE orgs SET name = $1, time_zone = $2, version = version + 1 \
             WHERE id = $3 AND version = $4",
        )
        .bind(org.name.as_str())
        .bind(org.time_zone.as_str())
        .bind(id_str(org.id))
        .bind(org.version)
        .execute(&mut *tx)
        .await?;
        expect_one(done)?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn create_group(&self, g: &GroupRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO groups (id, org_id, parent_id, path, name, status, created_us, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1)",
        )
        .bind(id_str(g.id))
        .bind(id_str(g.org_id))
        .bind(opt_str(g.parent_id))
        .bind(g.path.as_str())
        .bind(g.name.as_str())
        .bind(g.status.as_str())
        .bind(g.created_us)
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn get_group(&self, org: OrgId, id: GroupId) -> R<GroupRecord> {
        let sql = format!("SELECT {GROUP_COLS} FROM groups WHERE org_id = $1 AND id = $2");
        let row =
            sqlx::query(&sql).bind(id_str(org)).bind(id_str(id)).fetch_one(&self.pool).await?;
        rows::group(&row)
    }

    async fn list_groups(&self, org: OrgId, scope: &Scope) -> R<Vec<GroupRecord>> {
        let filter = match scope.group_path {
            None => "",
            Some(_) => " AND path LIKE $2 || '%'",
        };
        let sql =
            format!("SELECT {GROUP_COLS} FROM groups WHERE org_id = $1{filter} ORDER BY path");
        let q = bind_scope(sqlx::query(&sql).bind(id_str(org)), scope);
        q.fetch_all(&self.pool).await?.iter().map(rows::group).collect()
    }

    async fn deactivate_group(&self, g: &GroupRecord, fx: Effects) -> R<Result<(), GroupContents>> {
        let mut tx = self.begin_write().await?;
        // The row lock first: writes placing objects into the group wait for it (see
        // `write_effects`), so the counts below are final.
        let done = sqlx::query(
            "UPDATE groups SET status = 'deactivated', version = version + 1 \
             WHERE org_id = $1 AND id = $2 AND version = $3 AND status = 'active'",
        )
        .bind(id_str(g.org_id))
        .bind(id_str(g.id))
        .bind(g.version)
        .execute(&mut *tx)
        .await?;
        expect_one(done)?;
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM groups WHERE org_id = $1 AND parent_id = $2 \
              AND status <> 'deactivated') AS child_groups, \
             (SELECT COUNT(*) FROM users WHERE org_id = $1 AND group_id = $2 \
              AND status <> 'deactivated') AS users, \
             (SELECT COUNT(*) FROM vehicles WHERE org_id = $1 AND group_id = $2 \
              AND status <> 'deactivated') AS vehicles, \
             (SELECT COUNT(*) FROM cards WHERE org_id = $1 AND group_id = $2 \
              AND status <> 'closed') AS cards",
        )
        .bind(id_str(g.org_id))
        .bind(id_str(g.id))
        .fetch_one(&mut *tx)
        .await?;
        let contents = GroupContents {
            groups: row.int("child_groups")?,
            users: row.int("users")?,
            vehicles: row.int("vehicles")?,
            cards: row.int("cards")?,
        };
        if !contents.is_empty() {
            tx.rollback().await?;
            return Ok(Err(contents));
        }
        write_effects(&mut tx, &fx).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn update_group(&self, g: &GroupRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE groups SET name = $1, version = version + 1 \
             WHERE org_id = $2 AND id = $3 AND version = $4",
        )
        .bind(g.name.as_str())
        .bind(id_str(g.org_id))
        .bind(id_str(g.id))
        .bind(g.version)
        .execute(&mut *tx)
        .await?;
        expect_one(done)?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn create_user(&self, user: &UserRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        insert_user(&mut tx, user).await?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn get_user(&self, id: UserId) -> R<UserRecord> {
        // Every signed-in request reads its user and session: off the sqlx pool, so API
        // writes waiting there for SQLite's write lock do not hold up every request.
        let sql = format!("SELECT {USER_COLS} FROM {USER_FROM} WHERE u.id = $1");
        rows::user(&self.read_row(sql, vec![id_str(id).into()]).await?)
    }

    async fn get_user_by_email(&self, email: &str) -> R<UserRecord> {
        let sql = format!("SELECT {USER_COLS} FROM {USER_FROM} WHERE u.email = $1");
        rows::user(&sqlx::query(&sql).bind(email).fetch_one(&self.pool).await?)
    }

    async fn get_user_by_invite(&self, invite_hash: &str) -> R<UserRecord> {
        let sql = format!("SELECT {USER_COLS} FROM {USER_FROM} WHERE u.invite_hash = $1");
        rows::user(&sqlx::query(&sql).bind(invite_hash).fetch_one(&self.pool).await?)
    }

    async fn list_users(
        &self,
        org: Option<OrgId>,
        scope: &Scope,
        filter: &UserFilter,
    ) -> R<Vec<UserRecord>> {
        // $1 org (NULL lists staff), $2 role filter, $3 scope path.
        let org_clause =
            if org.is_some() { "u.org_id = $1" } else { "u.org_id IS NULL AND $1 = ''" };
        let status_clause =
            if filter.include_deactivated { "" } else { " AND u.status <> 'deactivated'" };
        let sql = format!(
            "SELECT {USER_COLS} FROM {USER_FROM} WHERE {org_clause} \
             AND ($2 = '' OR u.role = $2){status_clause}{} ORDER BY u.name, u.id",
            scope_clause("u.group_id", scope, 3)
        );
        let org_param = opt_str(org).unwrap_or_default();
        let q = sqlx::query(&sql).bind(org_param).bind(filter.role.map_or("", |r| r.as_str()));
        let q = bind_scope(q, scope);
        q.fetch_all(&self.pool).await?.iter().map(rows::user).collect()
    }

    async fn update_user(&self, u: &UserRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET name = $1, group_id = $2, status = $3, password_hash = $4, \
             invite_hash = $5, invite_expires_us = $6, language = $7, version = version + 1 \
             WHERE id = $8 AND version = $9",
        )
        .bind(u.name.as_str())
        .bind(opt_str(u.group_id))
        .bind(u.status.as_str())
        .bind(u.password_hash.as_deref())
        .bind(u.invite_hash.as_deref())
        .bind(u.invite_expires_us)
        .bind(u.language.as_str())
        .bind(id_str(u.id))
        .bind(u.version)
        .execute(&mut *tx)
        .await?;
        expect_one(done)?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn create_session(&self, s: &SessionRecord, refresh: &RefreshTokenRecord) -> R<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, org_id, created_us, expires_us, revoked_us) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(id_str(s.id))
        .bind(id_str(s.user_id))
        .bind(opt_str(s.org_id))
        .bind(s.created_us)
        .bind(s.expires_us)
        .execute(&mut *tx)
        .await?;
        insert_refresh(&mut tx, refresh).await?;
        Ok(tx.commit().await?)
    }

    async fn get_session(&self, id: SessionId) -> R<SessionRecord> {
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE id = $1");
        rows::session(&self.read_row(sql, vec![id_str(id).into()]).await?)
    }

    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        next_hash: &str,
        next_expires_us: i64,
        now_us: i64,
    ) -> R<RefreshOutcome> {
        let mut tx = self.begin_write().await?;
        // Claim the token: only one of two concurrent presentations can set used_us.
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET used_us = $1 \
             WHERE token_hash = $2 AND used_us IS NULL AND expires_us > $1",
        )
        .bind(now_us)
        .bind(presented_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let token =
            sqlx::query("SELECT session_id, used_us FROM refresh_tokens WHERE token_hash = $1")
                .bind(presented_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(token) = token else { return Ok(RefreshOutcome::Invalid) };
        let session_id: SessionId = token.parse("session_id")?;
        if claimed == 0 {
            if token.opt_int("used_us")?.is_some() {
                revoke(&mut tx, session_id, now_us).await?;
                tx.commit().await?;
                return Ok(RefreshOutcome::ReuseDetected);
            }
            return Ok(RefreshOutcome::Invalid);
        }
        let sql = format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE id = $1 AND revoked_us IS NULL \
             AND expires_us > $2"
        );
        let session = sqlx::query(&sql)
            .bind(id_str(session_id))
            .bind(now_us)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(session) = session else { return Ok(RefreshOutcome::Invalid) };
        let session = rows::session(&session)?;
        let next = RefreshTokenRecord {
            token_hash: next_hash.to_owned(),
            session_id: session.id,
            issued_us: now_us,
            expires_us: next_expires_us,
            used_us: None,
        };
        insert_refresh(&mut tx, &next).await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated(session))
    }

    async fn revoke_session(&self, id: SessionId, now_us: i64) -> R<()> {
        let mut tx = self.begin_write().await?;
        revoke(&mut tx, id, now_us).await?;
        Ok(tx.commit().await?)
    }

    async fn revoke_user_sessions(&self, user: UserId, now_us: i64) -> R<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_us = $1 WHERE user_id = $2 AND revoked_us IS NULL",
        )
        .bind(now_us)
        .bind(id_str(user))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_vehicle(&self, v: &VehicleRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO vehicles (id, org_id, group_id, plate, products, tank_capacity_ml, \
             status, created_us, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)",
        )
        .bind(id_str(v.id))
        .bind(id_str(v.org_id))
        .bind(opt_str(v.group_id))
        .bind(v.plate.as_str())
        .bind(encode_products(&v.products))
        .bind(v.tank_capacity_ml)
        .bind(v.status.as_str())
        .bind(v.created_us)
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn get_vehicle(&self, org: OrgId, id: VehicleId) -> R<VehicleRecord> {
        let sql =
            format!("SELECT {VEHICLE_COLS} FROM {VEHICLE_FROM} WHERE v.org_id = $1 AND v.id = $2");
        let row =
            sqlx::query(&sql).bind(id_str(org)).bind(id_str(id)).fetch_one(&self.pool).await?;
        rows::vehicle(&row)
    }

    async fn list_vehicles(&self, org: OrgId, scope: &Scope) -> R<Vec<VehicleRecord>> {
        let sql = format!(
            "SELECT {VEHICLE_COLS} FROM {VEHICLE_FROM} WHERE v.org_id = $1{} ORDER BY v.plate",
            scope_clause("v.group_id", scope, 2)
        );
        let q = bind_scope(sqlx::query(&sql).bind(id_str(org)), scope);
        q.fetch_all(&self.pool).await?.iter().map(rows::vehicle).collect()
    }

    async fn update_vehicle(&self, v: &VehicleRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE vehicles SET group_id = $1, plate = $2, products = $3, \
             tank_capacity_ml = $4, status = $5, version = version + 1 \
             WHERE org_id = $6 AND id = $7 AND version = $8",
        )
        .bind(opt_str(v.group_id))
        .bind(v.plate.as_str())
        .bind(encode_products(&v.products))
        .bind(v.tank_capacity_ml)
        .bind(v.status.as_str())
        .bind(id_str(v.org_id))
        .bind(id_str(v.id))
        .bind(v.version)
        .execute(&mut *tx)
        .await?;
        expect_one(done)?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn create_card(
        &self,
        c: &CardRecord,
        binding: Option<&BindingRecord>,
        fx: Effects,
    ) -> R<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO cards (id, org_id, group_id, pan_ciphertext, pan_fingerprint, pan_last4, \
             pan_key_version, expiry, status, status_reason, driver_id, vehicle_id, created_us, \
             updated_us, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)",
        )
        .bind(id_str(c.id))
        .bind(id_str(c.org_id))
        .bind(opt_str(c.group_id))
        .bind(c.pan_ciphertext.as_slice())
        .bind(c.pan_fingerprint.as_slice())
        .bind(c.pan_last4.as_str())
        .bind(c.pan_key_version)
        .bind(c.expiry.as_str())
        .bind(c.status.as_str())
        .bind(c.status_reason.as_deref())
        .bind(opt_str(c.driver_id))
        .bind(opt_str(c.vehicle_id))
        .bind(c.created_us)
        .bind(c.updated_us)
        .execute(&mut *tx)
        .await?;
        if let Some(b) = binding {
            insert_binding(&mut tx, b).await?;
        }
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn get_card(&self, org: OrgId, id: CardId) -> R<CardRecord> {
        let sql = format!("SELECT {CARD_COLS} FROM {CARD_FROM} WHERE c.org_id = $1 AND c.id = $2");
        let row =
            sqlx::query(&sql).bind(id_str(org)).bind(id_str(id)).fetch_one(&self.pool).await?;
        rows::card(&row)
    }

    async fn get_card_any_org(&self, id: CardId) -> R<CardRecord> {
        let sql = format!("SELECT {CARD_COLS} FROM {CARD_FROM} WHERE c.id = $1");
        rows::card(&sqlx::query(&sql).bind(id_str(id)).fetch_one(&self.pool).await?)
    }

    async fn list_cards(
        &self,
        org: OrgId,
        scope: &Scope,
        filter: &CardFilter,
    ) -> R<Vec<CardRecord>> {
        // $1 org, $2 driver filter, $3 status filter, $4 scope path.
        let sql = format!(
            "SELECT {CARD_COLS} FROM {CARD_FROM} WHERE c.org_id = $1 \
             AND ($2 = '' OR c.driver_id = $2) AND ($3 = '' OR c.status = $3){} \
             ORDER BY c.created_us, c.id",
            scope_clause("c.group_id", scope, 4)
        );
        let q = sqlx::query(&sql)
            .bind(id_str(org))
            .bind(opt_str(filter.driver_id).unwrap_or_default())
            .bind(filter.status.map_or("", |s| s.as_str()));
        let q = bind_scope(q, scope);
        q.fetch_all(&self.pool).await?.iter().map(rows::card).collect()
    }

    async fn update_card(
        &self,
        c: &CardRecord,
        binding: Option<&BindingRecord>,
        fx: Effects,
    ) -> R<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE cards SET group_id = $1, status = $2, status_reason = $3, driver_id = $4, \
             vehicle_id = $5, updated_us = $6, version = version + 1 \
             WHERE org_id = $7 AND id = $8 AND version = $9",
        )
        .bind(opt_str(c.group_id))
        .bind(c.status.as_str())
        .bind(c.status_reason.as_deref())
        .bind(opt_str(c.driver_id))
        .bind(opt_str(c.vehicle_id))
        .bind(c.updated_us)
        .bind(id_str(c.org_id))
        .bind(id_str(c.id))
        .bind(c.version)
        .execute(&mut *tx)
        .await?;
        expect_one(done)?;
        if let Some(b) = binding {
            sqlx::query(
                "UPDATE card_bindings SET unbound_us = $1 \
                 WHERE org_id = $2 AND card_id = $3 AND unbound_us IS NULL",
            )
            .bind(b.bound_us)
            .bind(id_str(b.org_id))
            .bind(id_str(b.card_id))
            .execute(&mut *tx)
            .await?;
            if b.driver_id.is_some() || b.vehicle_id.is_some() {
                insert_binding(&mut tx, b).await?;
            }
        }
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn list_bindings(&self, org: OrgId, card: CardId) -> R<Vec<BindingRecord>> {
        let sql = format!(
            "SELECT {BINDING_COLS} FROM card_bindings WHERE org_id = $1 AND card_id = $2 \
             ORDER BY bound_us, id"
        );
        let q = sqlx::query(&sql).bind(id_str(org)).bind(id_str(card));
        q.fetch_all(&self.pool).await?.iter().map(rows::binding).collect()
    }

    /// One query for the whole chain (org, groups, driver, vehicle, card): each pair is its
    /// own primary-key lookup, which both databases answer with one index probe per term.
    async fn get_controls(
        &self,
        org: OrgId,
        subjects: &[(ControlLevel, uuid::Uuid)],
    ) -> R<Vec<ControlsRecord>> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let sql = controls_sql(subjects.len());
        let mut query = sqlx::query(&sql).bind(id_str(org));
        for (level, subject) in subjects {
            query = query.bind(level.as_str()).bind(id_str(subject));
        }
        query.fetch_all(&self.pool).await?.iter().map(rows::controls).collect()
    }

    async fn put_controls(&self, r: &ControlsRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        if r.version == 0 {
            sqlx::query(
                "INSERT INTO controls (org_id, level, subject_id, document, updated_us, version) \
                 VALUES ($1, $2, $3, $4, $5, 1)",
            )
            .bind(id_str(r.org_id))
            .bind(r.level.as_str())
            .bind(id_str(r.subject_id))
            .bind(r.document.as_str())
            .bind(r.updated_us)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Duplicate(_) => StoreError::VersionConflict,
                other => other,
            })?;
        } else {
            let done = sqlx::query(
                "UPDATE controls SET document = $1, updated_us = $2, version = version + 1 \
                 WHERE org_id = $3 AND level = $4 AND subject_id = $5 AND version = $6",
            )
            .bind(r.document.as_str())
            .bind(r.updated_us)
            .bind(id_str(r.org_id))
            .bind(r.level.as_str())
            .bind(id_str(r.subject_id))
            .bind(r.version)
            .execute(&mut *tx)
            .await?;
            expect_one(done)?;
        }
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    async fn list_card_events(&self, org: OrgId, card: CardId) -> R<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLS} FROM audit_events WHERE org_id = $1 AND card_id = $2 \
             ORDER BY at_us, id"
        );
        let q = sqlx::query(&sql).bind(id_str(org)).bind(id_str(card));
        q.fetch_all(&self.pool).await?.iter().map(rows::event).collect()
    }

    async fn list_subject_events(
        &self,
        org: Option<OrgId>,
        subject: uuid::Uuid,
    ) -> R<Vec<AuditEvent>> {
        let org_clause = if org.is_some() { "org_id = $1" } else { "org_id IS NULL AND $1 = ''" };
        let sql = format!(
            "SELECT {EVENT_COLS} FROM audit_events WHERE {org_clause} AND subject_id = $2 \
             ORDER BY at_us, id"
        );
        let q = sqlx::query(&sql).bind(opt_str(org).unwrap_or_default()).bind(id_str(subject));
        q.fetch_all(&self.pool).await?.iter().map(rows::event).collect()
    }

    async fn get_idempotency(&self, actor: UserId, key: &str) -> R<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT actor_id, key, org_id, request_hash, status, body, created_us \
             FROM idempotency_keys WHERE actor_id = $1 AND key = $2",
        )
        .bind(id_str(actor))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::idempotency).transpose()
    }

    async fn create_challenge(&self, c: &ChallengeRecord) -> R<()> {
        self.create_challenge_impl(c).await
    }
    async fn consume_challenge(&self, hash: &str, user: UserId, now_us: i64) -> R<bool> {
        self.consume_challenge_impl(hash, user, now_us).await
    }
    async fn create_device(&self, d: &DeviceRecord, fx: Effects) -> R<()> {
        self.create_device_impl(d, fx).await
    }
    async fn get_device(&self, org: OrgId, id: DeviceId) -> R<DeviceRecord> {
        self.get_device_impl(org, id).await
    }
    async fn get_device_with_holder(
        &self,
        org: OrgId,
        id: DeviceId,
    ) -> R<(DeviceRecord, UserStatus)> {
        self.get_device_with_holder_impl(org, id).await
    }
    async fn list_devices(&self, org: OrgId, user: UserId) -> R<Vec<DeviceRecord>> {
        self.list_devices_impl(org, user).await
    }
    async fn revoke_device(&self, d: &DeviceRecord, fx: Effects) -> R<()> {
        self.revoke_device_impl(d, fx).await
    }
    async fn create_token(&self, t: &TokenRecord, luks: &[LukRecord], fx: Effects) -> R<()> {
        self.create_token_impl(t, luks, fx).await
    }
    async fn get_token(&self, org: OrgId, id: TokenId) -> R<TokenRecord> {
        self.get_token_impl(org, id).await
    }
    async fn get_token_with_luk(
        &self,
        fingerprint: &[u8],
        key_index: [u8; 6],
    ) -> R<Option<(TokenRecord, Option<LukRecord>)>> {
        self.get_token_with_luk_impl(fingerprint, key_index).await
    }

    async fn get_card_with_device(
        &self,
        org: OrgId,
        card: CardId,
        device: DeviceId,
    ) -> R<(CardRecord, DeviceRecord, UserStatus)> {
        self.get_card_with_device_impl(org, card, device).await
    }

    async fn get_token_by_fingerprint(&self, fingerprint: &[u8]) -> R<TokenRecord> {
        self.get_token_by_fingerprint_impl(fingerprint).await
    }
    async fn list_card_tokens(&self, org: OrgId, card: CardId) -> R<Vec<TokenRecord>> {
        self.list_card_tokens_impl(org, card).await
    }
    async fn add_luks(&self, t: &TokenRecord, luks: &[LukRecord], fx: Effects) -> R<()> {
        self.add_luks_impl(t, luks, fx).await
    }
    async fn list_luks(&self, token: TokenId) -> R<Vec<LukRecord>> {
        self.list_luks_impl(token).await
    }
    async fn get_luk(&self, token: TokenId, key_index: [u8; 6]) -> R<LukRecord> {
        self.get_luk_impl(token, key_index).await
    }
    async fn claim_cryptogram(
        &self,
        claim: &crate::CryptogramClaim,
    ) -> R<Result<(), crate::CommitRefusal>> {
        self.claim_cryptogram_impl(claim).await
    }
}

async fn insert_refresh(conn: &mut AnyConnection, r: &RefreshTokenRecord) -> R<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_us, expires_us, used_us) \
         VALUES ($1, $2, $3, $4, NULL)",
    )
    .bind(r.token_hash.as_str())
    .bind(id_str(r.session_id))
    .bind(r.issued_us)
    .bind(r.expires_us)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn revoke(conn: &mut AnyConnection, id: SessionId, now_us: i64) -> R<()> {
    sqlx::query("UPDATE sessions SET revoked_us = $1 WHERE id = $2 AND revoked_us IS NULL")
        .bind(now_us)
        .bind(id_str(id))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
