//! The fraud half of the SQL store: rule overrides, the per-card feature row (written by
//! the authorization's commit), the review queue and per-rule statistics.

use super::batch::{Batch, Done};
use super::rows::RowExt;
use super::store_impl::id_str;
use super::SqlStore;
use crate::fraud::*;
use crate::StoreError;
use domain::{CardId, OrgId};
use uuid::Uuid;

type R<T> = Result<T, StoreError>;

const ALERT_COLS: &str = "id, org_id, authorization_id, card_id, rule_id, risk, status, \
     assignee_id, created_us, resolved_us, reason, observed";

fn json_list<T: serde::de::DeserializeOwned>(row: &impl RowExt, col: &str) -> R<Vec<T>> {
    let raw = row.text(col)?;
    serde_json::from_str(&raw)
        .map_err(|_| StoreError::Corrupt(format!("column {col} holds {raw:?}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) fn features(row: &impl RowExt) -> R<CardFeaturesRecord> {
    let lat = row.opt_int("last_station_lat_e6")?;
    let lon = row.opt_int("last_station_lon_e6")?;
    Ok(CardFeaturesRecord {
        card_id: Some(row.parse("card_id")?),
        org_id: Some(row.parse("org_id")?),
        recent_fills: json_list(row, "recent_fills")?,
        last_fill_s: row.opt_int("last_fill_s")?,
        last_station: lat.zip(lon),
        usual_hours: json_list(row, "usual_hours")?,
        amount_sum: row.int("amount_sum")?,
        amount_count: row.int("amount_count")?,
        failure_times: json_list(row, "failure_times")?,
        decline_times: json_list(row, "decline_times")?,
    })
}

pub(super) const FEATURES_SQL: &str = "SELECT * FROM card_features WHERE card_id = $1";

pub(super) const FRAUD_RULES_SQL: &str =
    "SELECT org_id, rule_id, config, updated_us FROM fraud_rules WHERE org_id = $1 ORDER BY rule_id";

pub(super) fn fraud_rule(r: &impl RowExt) -> R<FraudRuleRecord> {
    Ok(FraudRuleRecord {
        org_id: r.parse("org_id")?,
        rule_id: r.text("rule_id")?,
        config: r.text("config")?,
        updated_us: r.int("updated_us")?,
    })
}

/// When the card was last re-bound and last unblocked: unblocking (or unsuspending) moves
/// the card to `active`, audited as `card.active`. Binds org, card.
pub(super) const REBIND_UNBLOCK_SQL: &str =
    "SELECT MAX(CASE WHEN action = 'card.rebound' THEN at_us END) AS rebind_us, \
     MAX(CASE WHEN action = 'card.active' THEN at_us END) AS unblock_us \
     FROM audit_events WHERE org_id = $1 AND card_id = $2 \
     AND action IN ('card.rebound', 'card.active')";

pub(super) fn rebind_unblock(row: &impl RowExt) -> R<(Option<i64>, Option<i64>)> {
    Ok((row.opt_int("rebind_us")?, row.opt_int("unblock_us")?))
}

fn alert(row: &impl RowExt) -> R<AlertRecord> {
    let status = row.text("status")?;
    Ok(AlertRecord {
        id: row.parse("id")?,
        org_id: row.parse("org_id")?,
        authorization_id: row.parse("authorization_id")?,
        card_id: row.parse("card_id")?,
        rule_id: row.text("rule_id")?,
        risk: row.int("risk")?,
        status: AlertStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("alert status {status:?}")))?,
        assignee_id: row.opt_parse("assignee_id")?,
        created_us: row.int("created_us")?,
        resolved_us: row.opt_int("resolved_us")?,
        reason: row.text("reason")?,
        observed: row.text("observed")?,
    })
}

/// Reads the card's feature row for an update, under its lock (created empty first if
/// missing: `DO NOTHING` lets two first fills of a card both proceed); returns the read's
/// index. [`push_write_features`] applies the update to what it read.
pub(super) fn push_read_features(
    b: &mut Batch,
    backend: super::Backend,
    u: &FeatureUpdate,
) -> usize {
    b.push(
        "INSERT INTO card_features (card_id, org_id, recent_fills, usual_hours, amount_sum, \
         amount_count, failure_times, decline_times) VALUES ($1, $2, '[]', '[]', 0, 0, '[]', '[]') \
         ON CONFLICT (card_id) DO NOTHING",
        vec![id_str(u.card_id).into(), id_str(u.org_id).into()],
    );
    let sql = format!("SELECT * FROM card_features WHERE card_id = $1{}", backend.for_update());
    b.push(sql, vec![id_str(u.card_id).into()])
}

pub(super) fn push_write_features(b: &mut Batch, read: &Done, u: &FeatureUpdate) -> R<()> {
    let row = read.rows.first().ok_or(StoreError::NotFound)?;
    let mut f = features(row)?;
    f.apply(u);
    b.push(
        "UPDATE card_features SET recent_fills = $2, last_fill_s = $3, last_station_lat_e6 = $4, \
         last_station_lon_e6 = $5, usual_hours = $6, amount_sum = $7, amount_count = $8, \
         failure_times = $9, decline_times = $10 WHERE card_id = $1",
        vec![
            id_str(u.card_id).into(),
            to_json(&f.recent_fills).into(),
            f.last_fill_s.into(),
            f.last_station.map(|s| s.0).into(),
            f.last_station.map(|s| s.1).into(),
            to_json(&f.usual_hours).into(),
            f.amount_sum.into(),
            f.amount_count.into(),
            to_json(&f.failure_times).into(),
            to_json(&f.decline_times).into(),
        ],
    );
    Ok(())
}

pub(super) fn push_insert_alert(b: &mut Batch, a: &AlertRecord) {
    b.push(
        format!(
            "INSERT INTO alerts ({ALERT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        vec![
            a.id.to_string().into(),
            id_str(a.org_id).into(),
            id_str(a.authorization_id).into(),
            id_str(a.card_id).into(),
            a.rule_id.as_str().into(),
            a.risk.into(),
            a.status.as_str().into(),
            a.assignee_id.map(id_str).into(),
            a.created_us.into(),
            a.resolved_us.into(),
            a.reason.as_str().into(),
            a.observed.as_str().into(),
        ],
    );
}

/// `WHERE` for a queue filter: empty strings mean "any", so one prepared text serves all.
const FILTER_SQL: &str =
    "($1 = '' OR status = $1) AND ($2 = '' OR org_id = $2) AND ($3 = '' OR rule_id = $3)";

impl SqlStore {
    pub(super) async fn fraud_rules_impl(&self, org: OrgId) -> R<Vec<FraudRuleRecord>> {
        let rows = sqlx::query(FRAUD_RULES_SQL).bind(id_str(org)).fetch_all(&self.pool).await?;
        rows.iter().map(fraud_rule).collect()
    }

    pub(super) async fn put_fraud_rules_impl(&self, rules: &[FraudRuleRecord]) -> R<()> {
        let Some(first) = rules.first() else { return Ok(()) };
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM fraud_rules WHERE org_id = $1")
            .bind(id_str(first.org_id))
            .execute(&mut *tx)
            .await?;
        for r in rules {
            sqlx::query(
                "INSERT INTO fraud_rules (org_id, rule_id, config, updated_us) VALUES ($1, $2, $3, $4)",
            )
            .bind(id_str(r.org_id))
            .bind(r.rule_id.as_str())
            .bind(r.config.as_str())
            .bind(r.updated_us)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn card_features_impl(&self, card: CardId) -> R<Option<CardFeaturesRecord>> {
        let row = sqlx::query(FEATURES_SQL).bind(id_str(card)).fetch_optional(&self.pool).await?;
        row.as_ref().map(features).transpose()
    }

    pub(super) async fn card_rebind_unblock_impl(
        &self,
        org: OrgId,
        card: CardId,
    ) -> R<(Option<i64>, Option<i64>)> {
        let row = sqlx::query(REBIND_UNBLOCK_SQL)
            .bind(id_str(org))
            .bind(id_str(card))
            .fetch_one(&self.pool)
            .await?;
        rebind_unblock(&row)
    }

    pub(super) async fn list_alerts_impl(
        &self,
        f: &AlertFilter,
        limit: i64,
    ) -> R<Vec<AlertRecord>> {
        let sql = format!(
            "SELECT {ALERT_COLS} FROM alerts WHERE {FILTER_SQL} \
             ORDER BY risk DESC, created_us ASC, id ASC LIMIT $4"
        );
        let q = sqlx::query(&sql)
            .bind(f.status.map(AlertStatus::as_str).unwrap_or_default())
            .bind(f.org_id.map(id_str).unwrap_or_default())
            .bind(f.rule_id.clone().unwrap_or_default())
            .bind(limit);
        q.fetch_all(&self.pool).await?.iter().map(alert).collect()
    }

    pub(super) async fn alert_counts_impl(&self, f: &AlertFilter) -> R<Vec<(AlertStatus, i64)>> {
        let sql =
            format!("SELECT status, COUNT(*) AS n FROM alerts WHERE {FILTER_SQL} GROUP BY status");
        let rows = sqlx::query(&sql)
            .bind("")
            .bind(f.org_id.map(id_str).unwrap_or_default())
            .bind(f.rule_id.clone().unwrap_or_default())
            .fetch_all(&self.pool)
            .await?;
        let mut counts: Vec<(AlertStatus, i64)> = AlertStatus::ALL.map(|s| (s, 0)).to_vec();
        for row in &rows {
            let status = row.text("status")?;
            let n = row.int("n")?;
            if let Some(slot) = counts.iter_mut().find(|(s, _)| s.as_str() == status) {
                slot.1 = n;
            }
        }
        Ok(counts)
    }

    pub(super) async fn get_alert_impl(&self, id: Uuid) -> R<AlertRecord> {
        let sql = format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&self.pool).await?;
        alert(&row.ok_or(StoreError::NotFound)?)
    }

    pub(super) async fn move_alert_impl(&self, from: AlertStatus, to: &AlertRecord) -> R<bool> {
        let done = sqlx::query(
            "UPDATE alerts SET status = $1, assignee_id = $2, resolved_us = $3 \
             WHERE id = $4 AND status = $5",
        )
        .bind(to.status.as_str())
        .bind(to.assignee_id.map(id_str))
        .bind(to.resolved_us)
        .bind(to.id.to_string())
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn add_alert_comment_impl(&self, c: &AlertCommentRecord) -> R<()> {
        sqlx::query(
            "INSERT INTO alert_comments (id, alert_id, org_id, author_id, body, at_us) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(c.id.to_string())
        .bind(c.alert_id.to_string())
        .bind(id_str(c.org_id))
        .bind(id_str(c.author_id))
        .bind(c.body.as_str())
        .bind(c.at_us)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn alert_comments_impl(&self, alert: Uuid) -> R<Vec<AlertCommentRecord>> {
        let rows = sqlx::query(
            "SELECT id, alert_id, org_id, author_id, body, at_us FROM alert_comments \
             WHERE alert_id = $1 ORDER BY at_us, id",
        )
        .bind(alert.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AlertCommentRecord {
                    id: r.parse("id")?,
                    alert_id: r.parse("alert_id")?,
                    org_id: r.parse("org_id")?,
                    author_id: r.parse("author_id")?,
                    body: r.text("body")?,
                    at_us: r.int("at_us")?,
                })
            })
            .collect()
    }

    pub(super) async fn rule_stats_impl(
        &self,
        org: OrgId,
        since_us: i64,
    ) -> R<Vec<RuleStatsRecord>> {
        let rows = sqlx::query(
            "SELECT rule_id, COUNT(*) AS hits, \
             COUNT(CASE WHEN status = 'confirmed_fraud' THEN 1 END) AS confirmed, \
             COUNT(CASE WHEN status = 'false_positive' THEN 1 END) AS false_positives \
             FROM alerts WHERE org_id = $1 AND created_us >= $2 GROUP BY rule_id ORDER BY rule_id",
        )
        .bind(id_str(org))
        .bind(since_us)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RuleStatsRecord {
                    rule_id: r.text("rule_id")?,
                    hits: r.int("hits")?,
                    confirmed: r.int("confirmed")?,
                    false_positives: r.int("false_positives")?,
                })
            })
            .collect()
    }
}
