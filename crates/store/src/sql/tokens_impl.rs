//! Devices, payment tokens and LUK metadata: the token half of [`crate::Store`], called
//! from `store_impl.rs`.

use super::batch::{Batch, Tx, Value};
use super::rows::{self, *};
use super::store_impl::{effects_held, id_str, push_effects, write_effects};
use super::{expect_one, expect_one_row, SqlStore};
use crate::records::*;
use crate::StoreError;
use domain::{CardId, DeviceId, OrgId, TokenId, UserId};

type R<T> = Result<T, StoreError>;

const TOKEN_BY_FINGERPRINT: &str =
    "SELECT {cols} FROM payment_tokens WHERE token_pan_fingerprint = $1";

/// A device and its holder's status; binds org, device.
fn device_with_holder_sql() -> String {
    let cols: Vec<String> = DEVICE_COLS.split(',').map(|c| format!("d.{}", c.trim())).collect();
    format!(
        "SELECT {}, u.status AS holder_status FROM devices d JOIN users u ON u.id = d.user_id \
         WHERE d.org_id = $1 AND d.id = $2",
        cols.join(", ")
    )
}

fn device_with_holder(row: &impl RowExt) -> R<(DeviceRecord, UserStatus)> {
    Ok((rows::device(row)?, rows::user_status(&row.text("holder_status")?)?))
}

impl SqlStore {
    pub(super) async fn create_challenge_impl(&self, c: &ChallengeRecord) -> R<()> {
        sqlx::query(
            "INSERT INTO device_challenges (challenge_hash, org_id, user_id, expires_us, used_us) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(c.challenge_hash.as_str())
        .bind(id_str(c.org_id))
        .bind(id_str(c.user_id))
        .bind(c.expires_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn consume_challenge_impl(
        &self,
        hash: &str,
        user: UserId,
        now_us: i64,
    ) -> R<bool> {
        let done = sqlx::query(
            "UPDATE device_challenges SET used_us = $1 WHERE challenge_hash = $2 \
             AND user_id = $3 AND used_us IS NULL AND expires_us > $1",
        )
        .bind(now_us)
        .bind(hash)
        .bind(id_str(user))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn create_device_impl(&self, d: &DeviceRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO devices (id, org_id, user_id, public_key, label, status, created_us, \
             revoked_us, version) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 1)",
        )
        .bind(id_str(d.id))
        .bind(id_str(d.org_id))
        .bind(id_str(d.user_id))
        .bind(d.public_key.as_slice())
        .bind(d.label.as_str())
        .bind(d.status.as_str())
        .bind(d.created_us)
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    pub(super) async fn get_device_impl(&self, org: OrgId, id: DeviceId) -> R<DeviceRecord> {
        let sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE org_id = $1 AND id = $2");
        let row =
            sqlx::query(&sql).bind(id_str(org)).bind(id_str(id)).fetch_one(&self.pool).await?;
        rows::device(&row)
    }

    pub(super) async fn get_device_with_holder_impl(
        &self,
        org: OrgId,
        id: DeviceId,
    ) -> R<(DeviceRecord, UserStatus)> {
        let values = vec![id_str(org).into(), id_str(id).into()];
        device_with_holder(&self.read_row(device_with_holder_sql(), values).await?)
    }

    /// A payment's token and the LUK its IAD names, in one trip (`batch.rs`).
    pub(super) async fn get_token_with_luk_impl(
        &self,
        fingerprint: &[u8],
        key_index: [u8; 6],
    ) -> R<Option<(TokenRecord, Option<LukRecord>)>> {
        let mut b = Batch::new();
        let token_at = b.push(
            TOKEN_BY_FINGERPRINT.replace("{cols}", TOKEN_COLS),
            vec![Value::Blob(fingerprint.to_vec())],
        );
        let luk_at = b.push(
            format!(
                "SELECT {LUK_COLS} FROM luks WHERE key_index = $2 AND token_id = \
                 (SELECT id FROM payment_tokens WHERE token_pan_fingerprint = $1)"
            ),
            vec![Value::Blob(fingerprint.to_vec()), hex::encode(key_index).into()],
        );
        let done = self.read(b).await?;
        let Some(token) = done[token_at].rows.first() else { return Ok(None) };
        let luk = done[luk_at].rows.first().map(rows::luk).transpose()?;
        Ok(Some((rows::token(token)?, luk)))
    }

    /// A token's card and device with its holder's status, in one trip.
    pub(super) async fn get_card_with_device_impl(
        &self,
        org: OrgId,
        card: CardId,
        device: DeviceId,
    ) -> R<(CardRecord, DeviceRecord, UserStatus)> {
        let mut b = Batch::new();
        let card_at = b.push(
            format!("SELECT {CARD_COLS} FROM {CARD_FROM} WHERE c.org_id = $1 AND c.id = $2"),
            vec![id_str(org).into(), id_str(card).into()],
        );
        let device_at =
            b.push(device_with_holder_sql(), vec![id_str(org).into(), id_str(device).into()]);
        let done = self.read(b).await?;
        let card = rows::card(done[card_at].rows.first().ok_or(StoreError::NotFound)?)?;
        let (device, holder) =
            device_with_holder(done[device_at].rows.first().ok_or(StoreError::NotFound)?)?;
        Ok((card, device, holder))
    }

    pub(super) async fn list_devices_impl(&self, org: OrgId, user: UserId) -> R<Vec<DeviceRecord>> {
        let sql = format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE org_id = $1 AND user_id = $2 ORDER BY created_us, id"
        );
        let q = sqlx::query(&sql).bind(id_str(org)).bind(id_str(user));
        q.fetch_all(&self.pool).await?.iter().map(rows::device).collect()
    }

    pub(super) async fn revoke_device_impl(&self, d: &DeviceRecord, fx: Effects) -> R<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE devices SET status = $1, revoked_us = $2, version = version + 1 \
             WHERE org_id = $3 AND id = $4 AND version = $5",
        )
        .bind(d.status.as_str())
        .bind(d.revoked_us)
        .bind(id_str(d.org_id))
        .bind(id_str(d.id))
        .bind(d.version)
        .execute(&mut *tx)
        .await?;
        expect_one(done)?;
        sqlx::query(
            "UPDATE payment_tokens SET status = 'deleted', updated_us = $1, version = version + 1 \
             WHERE org_id = $2 AND device_id = $3 AND status <> 'deleted'",
        )
        .bind(d.revoked_us.unwrap_or_default())
        .bind(id_str(d.org_id))
        .bind(id_str(d.id))
        .execute(&mut *tx)
        .await?;
        write_effects(&mut tx, &fx).await?;
        Ok(tx.commit().await?)
    }

    /// A provisioned token and its first keys, on the terminal path's writer (see
    /// [`Self::add_luks_impl`]), in one batch.
    pub(super) async fn create_token_impl(
        &self,
        t: &TokenRecord,
        luks: &[LukRecord],
        fx: Effects,
    ) -> R<()> {
        let (atc_high, atc_seen) = atc_columns(t.atc);
        let token: Vec<Value> = vec![
            id_str(t.id).into(),
            id_str(t.org_id).into(),
            id_str(t.card_id).into(),
            id_str(t.device_id).into(),
            Value::Blob(t.token_pan_ciphertext.clone()),
            Value::Blob(t.token_pan_fingerprint.clone()),
            t.token_last4.as_str().into(),
            t.expiry.as_str().into(),
            t.status.as_str().into(),
            i64::from(t.imk_version).into(),
            atc_high.into(),
            atc_seen.into(),
            i64::from(t.next_luk_seq).into(),
            t.created_us.into(),
            t.updated_us.into(),
        ];
        let luks = luks.to_vec();
        self.write(move |mut tx, mut first| {
            Box::pin(async move {
                first.push(
                    "INSERT INTO payment_tokens (id, org_id, card_id, device_id, \
                     token_pan_ciphertext, token_pan_fingerprint, token_last4, expiry, status, \
                     imk_version, atc_high, atc_seen, next_luk_seq, created_us, updated_us, \
                     version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)",
                    token,
                );
                push_insert_luks(&mut first, &luks);
                let pushed = push_effects(&mut first, &fx);
                let created = effects_held(tx.run(first).await, &pushed).map(drop);
                (created.is_ok(), created)
            })
        })
        .await
    }

    pub(super) async fn get_token_impl(&self, org: OrgId, id: TokenId) -> R<TokenRecord> {
        let sql = format!("SELECT {TOKEN_COLS} FROM payment_tokens WHERE org_id = $1 AND id = $2");
        rows::token(&self.read_row(sql, vec![id_str(org).into(), id_str(id).into()]).await?)
    }

    pub(super) async fn get_token_by_fingerprint_impl(&self, fingerprint: &[u8]) -> R<TokenRecord> {
        let sql = TOKEN_BY_FINGERPRINT.replace("{cols}", TOKEN_COLS);
        rows::token(&sqlx::query(&sql).bind(fingerprint).fetch_one(&self.pool).await?)
    }

    pub(super) async fn list_card_tokens_impl(
        &self,
        org: OrgId,
        card: CardId,
    ) -> R<Vec<TokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLS} FROM payment_tokens WHERE org_id = $1 AND card_id = $2 \
             ORDER BY created_us, id"
        );
        let q = sqlx::query(&sql).bind(id_str(org)).bind(id_str(card));
        q.fetch_all(&self.pool).await?.iter().map(rows::token).collect()
    }

    /// A replenishment's new keys, on the terminal path's writer: on SQLite the sqlx pool
    /// would wait for the writer's lock, and a rush of replenishments held every pooled
    /// connection while each request's session read queued behind them
    /// (docs/BENCHMARKS.md, session 12).
    pub(super) async fn add_luks_impl(
        &self,
        t: &TokenRecord,
        luks: &[LukRecord],
        fx: Effects,
    ) -> R<()> {
        let (t, luks) = (t.clone(), luks.to_vec());
        self.write(move |mut tx, first| {
            Box::pin(async move {
                let added = add_luks_in(&mut tx, first, &t, &luks, &fx).await;
                (added.is_ok(), added)
            })
        })
        .await
    }

    pub(super) async fn list_luks_impl(&self, token: TokenId) -> R<Vec<LukRecord>> {
        let sql = format!("SELECT {LUK_COLS} FROM luks WHERE token_id = $1 ORDER BY key_index");
        self.read_one(sql, vec![id_str(token).into()]).await?.rows.iter().map(rows::luk).collect()
    }

    pub(super) async fn get_luk_impl(&self, token: TokenId, key_index: [u8; 6]) -> R<LukRecord> {
        let sql = format!("SELECT {LUK_COLS} FROM luks WHERE token_id = $1 AND key_index = $2");
        let row = sqlx::query(&sql)
            .bind(id_str(token))
            .bind(hex::encode(key_index))
            .fetch_one(&self.pool)
            .await?;
        rows::luk(&row)
    }

    pub(super) async fn claim_cryptogram_impl(
        &self,
        claim: &crate::CryptogramClaim,
    ) -> R<Result<(), crate::CommitRefusal>> {
        let mut tx = self.begin_write().await?;
        let mut on = super::batch::Tx::Sqlx(&mut tx, self.backend);
        let spent = super::authorizer_impl::spend_cryptogram(&mut on, claim).await?;
        if spent.is_ok() {
            tx.commit().await?;
        }
        Ok(spent)
    }
}

/// The LUKs as one multi-row INSERT (a batch holds up to `MAX_LUK_BATCH_SIZE` of them).
fn push_insert_luks(b: &mut Batch, luks: &[LukRecord]) {
    if luks.is_empty() {
        return;
    }
    let rows = luks
        .iter()
        .map(|l| {
            vec![
                id_str(l.token_id).into(),
                hex::encode(l.key_index).into(),
                id_str(l.org_id).into(),
                l.issued_us.into(),
                l.expires_s.into(),
                l.max_uses.into(),
                l.used_count.into(),
            ]
        })
        .collect();
    b.push_rows(
        "INSERT INTO luks (token_id, key_index, org_id, issued_us, expires_s, max_uses, \
         used_count)",
        rows,
    );
}

/// The token's version guard first, so a replenishment that lost a race writes nothing
/// and answers [`StoreError::VersionConflict`]; then the keys and the effects.
async fn add_luks_in(
    tx: &mut Tx<'_>,
    mut first: Batch,
    t: &TokenRecord,
    luks: &[LukRecord],
    fx: &Effects,
) -> R<()> {
    let guard = first.push(
        "UPDATE payment_tokens SET next_luk_seq = $1, updated_us = $2, version = version + 1 \
         WHERE org_id = $3 AND id = $4 AND version = $5",
        vec![
            i64::from(t.next_luk_seq).into(),
            t.updated_us.into(),
            id_str(t.org_id).into(),
            id_str(t.id).into(),
            t.version.into(),
        ],
    );
    expect_one_row(tx.run(first).await?[guard].rows_affected)?;
    let mut b = Batch::new();
    push_insert_luks(&mut b, luks);
    let pushed = push_effects(&mut b, fx);
    effects_held(tx.run(b).await, &pushed).map(drop)
}
