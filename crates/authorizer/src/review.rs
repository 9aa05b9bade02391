//! The fraud team's side (DESIGN §3 "Review"): the alert queue ordered by risk and age, an
//! alert with its authorization's decision trace and the card's recent fills, taking,
//! commenting, resolving (confirmed fraud blocks the card through the issuing service, so
//! it is audited and the card's tokens stop), and tuning the org's rules with their stats.
//! Fraud analysts only: the queue spans every fleet.

use crate::views::AuthorizationView;
use crate::{now_us, Authorizer};
use domain::{CardId, CardStatus, FieldError, OrgId, Role, UserId};
use fraud::{Action, Mode, Rule, RuleConfig};
use issuing::views::rfc3339;
use issuing::{ChangeCardStatus, IssuingError, Principal, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{
    AlertCommentRecord, AlertFilter, AlertRecord, AlertStatus, AuthorizerStore, FraudRuleRecord,
    Store, StoreError,
};
use uuid::Uuid;

/// Most alerts one queue page shows.
const QUEUE_LIMIT: i64 = 200;
/// Fills shown with an alert: the recent pattern is what an analyst judges.
const RECENT_FILLS: i64 = 20;
const MAX_COMMENT_CHARS: usize = 2_000;
const DAY_US: i64 = 86_400 * 1_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: Uuid,
    pub org_id: OrgId,
    pub authorization_id: domain::AuthorizationId,
    pub card_id: CardId,
    pub rule_id: String,
    pub risk: i64,
    pub status: &'static str,
    pub assignee_id: Option<UserId>,
    pub created_at: String,
    pub resolved_at: Option<String>,
    pub reason: String,
    pub observed: Value,
}

impl From<&AlertRecord> for AlertView {
    fn from(a: &AlertRecord) -> Self {
        Self {
            id: a.id,
            org_id: a.org_id,
            authorization_id: a.authorization_id,
            card_id: a.card_id,
            rule_id: a.rule_id.clone(),
            risk: a.risk,
            status: a.status.as_str(),
            assignee_id: a.assignee_id,
            created_at: rfc3339(a.created_us),
            resolved_at: a.resolved_us.map(rfc3339),
            reason: a.reason.clone(),
            observed: serde_json::from_str(&a.observed).unwrap_or(Value::Null),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertQueue {
    /// Alerts per status under the same org and rule filter.
    pub counts: serde_json::Map<String, Value>,
    pub alerts: Vec<AlertView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommentView {
    pub id: Uuid,
    pub author_id: UserId,
    pub body: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertDetail {
    pub alert: AlertView,
    pub authorization: AuthorizationView,
    /// The card's latest authorizations, newest first.
    pub recent_fills: Vec<AuthorizationView>,
    pub comments: Vec<CommentView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    pub status: Option<String>,
    pub org_id: Option<OrgId>,
    pub rule_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    ConfirmedFraud,
    FalsePositive,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    pub resolution: Resolution,
    pub note: Option<String>,
}

/// An edit of one rule: absent fields keep their value. A new rule id needs `rule`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleEdit {
    pub rule: Option<Rule>,
    pub action: Option<Action>,
    pub mode: Option<Mode>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleStats {
    pub hits: i64,
    pub confirmed: i64,
    pub false_positives: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    #[serde(flatten)]
    pub config: RuleConfig,
    pub last_7_days: RuleStats,
    pub last_30_days: RuleStats,
}

fn analyst(who: &Principal) -> Result<()> {
    if who.role == Role::FraudAnalyst {
        Ok(())
    } else {
        Err(IssuingError::Forbidden("the fraud queue is for fraud analysts"))
    }
}

fn parse_status(raw: Option<&str>) -> Result<Option<AlertStatus>> {
    raw.map(|s| {
        AlertStatus::parse(s).ok_or_else(|| {
            FieldError::invalid("status", "must be open, taken, confirmed_fraud or false_positive")
                .into()
        })
    })
    .transpose()
}

fn alert_not_found(e: StoreError) -> IssuingError {
    match e {
        StoreError::NotFound => IssuingError::NotFound("alert"),
        other => other.into(),
    }
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    pub async fn alerts(&self, who: &Principal, q: &AlertQuery) -> Result<AlertQueue> {
        analyst(who)?;
        let filter = AlertFilter {
            status: parse_status(q.status.as_deref())?,
            org_id: q.org_id,
            rule_id: q.rule_id.clone(),
        };
        let alerts = self.store().list_alerts(&filter, QUEUE_LIMIT).await?;
        let counts = self.store().alert_counts(&filter).await?;
        Ok(AlertQueue {
            counts: counts.into_iter().map(|(s, n)| (s.as_str().to_owned(), n.into())).collect(),
            alerts: alerts.iter().map(AlertView::from).collect(),
        })
    }

    pub async fn alert(&self, who: &Principal, id: Uuid) -> Result<AlertDetail> {
        analyst(who)?;
        let alert = self.store().get_alert(id).await.map_err(alert_not_found)?;
        let authorization = self.store().get_authorization(alert.authorization_id).await?;
        let fills = self
            .store()
            .list_authorizations(alert.org_id, Some(alert.card_id), RECENT_FILLS)
            .await?;
        let comments = self.store().alert_comments(id).await?;
        Ok(AlertDetail {
            alert: AlertView::from(&alert),
            authorization: AuthorizationView::from(&authorization),
            recent_fills: fills.iter().map(AuthorizationView::from).collect(),
            comments: comments
                .into_iter()
                .map(|c| CommentView {
                    id: c.id,
                    author_id: c.author_id,
                    body: c.body,
                    at: rfc3339(c.at_us),
                })
                .collect(),
        })
    }

    /// Assigns an open alert to the caller; 409 when someone took or resolved it first.
    pub async fn take_alert(&self, who: &Principal, id: Uuid) -> Result<AlertView> {
        analyst(who)?;
        let mut alert = self.store().get_alert(id).await.map_err(alert_not_found)?;
        alert.status = AlertStatus::Taken;
        alert.assignee_id = Some(who.user_id);
        if !self.store().move_alert(AlertStatus::Open, &alert).await? {
            return Err(IssuingError::conflict("ALERT_NOT_OPEN", "the alert is not open"));
        }
        Ok(AlertView::from(&alert))
    }

    pub async fn comment_alert(
        &self,
        who: &Principal,
        id: Uuid,
        req: &NewComment,
    ) -> Result<CommentView> {
        analyst(who)?;
        let alert = self.store().get_alert(id).await.map_err(alert_not_found)?;
        let body = domain::validate::text("body", &req.body, MAX_COMMENT_CHARS)?;
        let comment = AlertCommentRecord {
            id: Uuid::now_v7(),
            alert_id: alert.id,
            org_id: alert.org_id,
            author_id: who.user_id,
            body,
            at_us: now_us(),
        };
        self.store().add_alert_comment(&comment).await?;
        Ok(CommentView {
            id: comment.id,
            author_id: comment.author_id,
            body: comment.body,
            at: rfc3339(comment.at_us),
        })
    }

    /// Resolves an open or taken alert. Confirmed fraud blocks the card first, so an alert
    /// never reads "confirmed" while its card still pays.
    pub async fn resolve_alert(
        &self,
        who: &Principal,
        id: Uuid,
        req: &Resolve,
    ) -> Result<AlertView> {
        analyst(who)?;
        let mut alert = self.store().get_alert(id).await.map_err(alert_not_found)?;
        let from = alert.status;
        if from.is_resolved() {
            return Err(IssuingError::conflict("ALERT_RESOLVED", "the alert is already resolved"));
        }
        let note =
            req.note.as_deref().map(|n| domain::validate::text("note", n, MAX_COMMENT_CHARS));
        let note = note.transpose()?;
        if req.resolution == Resolution::ConfirmedFraud {
            self.block_card(who, &alert, note.as_deref()).await?;
        }
        alert.status = match req.resolution {
            Resolution::ConfirmedFraud => AlertStatus::ConfirmedFraud,
            Resolution::FalsePositive => AlertStatus::FalsePositive,
        };
        alert.assignee_id = Some(who.user_id);
        alert.resolved_us = Some(now_us());
        if !self.store().move_alert(from, &alert).await? {
            return Err(IssuingError::conflict("ALERT_MOVED", "the alert changed; reload it"));
        }
        if let Some(body) = note {
            self.comment_alert(who, id, &NewComment { body }).await?;
        }
        Ok(AlertView::from(&alert))
    }

    async fn block_card(
        &self,
        who: &Principal,
        alert: &AlertRecord,
        note: Option<&str>,
    ) -> Result<()> {
        let card = self.store().get_card(alert.org_id, alert.card_id).await?;
        if matches!(card.status, CardStatus::Blocked | CardStatus::Closed) {
            return Ok(());
        }
        let reason = match note {
            Some(n) => format!("fraud confirmed ({}): {n}", alert.rule_id),
            None => format!("fraud confirmed ({})", alert.rule_id),
        };
        let req = ChangeCardStatus { status: CardStatus::Blocked, reason };
        self.issuing.change_card_status(who, alert.card_id, &req).await?;
        Ok(())
    }

    pub async fn fraud_rules(&self, who: &Principal, org: OrgId) -> Result<Vec<RuleView>> {
        analyst(who)?;
        self.store().get_org(org).await?;
        let rules = self.rules_of(org).await?;
        let now = now_us();
        let week = self.store().rule_stats(org, now - 7 * DAY_US).await?;
        let month = self.store().rule_stats(org, now - 30 * DAY_US).await?;
        let stats = |all: &[store::RuleStatsRecord], id: &str| {
            all.iter()
                .find(|s| s.rule_id == id)
                .map(|s| RuleStats {
                    hits: s.hits,
                    confirmed: s.confirmed,
                    false_positives: s.false_positives,
                })
                .unwrap_or_default()
        };
        Ok(rules
            .into_iter()
            .map(|config| RuleView {
                last_7_days: stats(&week, &config.id),
                last_30_days: stats(&month, &config.id),
                config,
            })
            .collect())
    }

    /// Edits (or adds) one rule of the org. The whole set is validated and stored at once:
    /// the first edit copies the defaults into the org's own set.
    pub async fn put_fraud_rule(
        &self,
        who: &Principal,
        org: OrgId,
        rule_id: &str,
        edit: &RuleEdit,
    ) -> Result<Vec<RuleView>> {
        analyst(who)?;
        self.store().get_org(org).await?;
        let mut rules = self.rules_of(org).await?;
        let edited = match rules.iter().position(|r| r.id == rule_id) {
            Some(i) => {
                apply_edit(&mut rules[i], edit);
                rules[i].clone()
            }
            None => {
                rules.push(new_rule(rule_id, edit)?);
                rules[rules.len() - 1].clone()
            }
        };
        // The edited rule first, so errors name its own fields (`rule.max_fills`).
        edited.validate()?;
        fraud::validate_rule_set(&rules)?;
        let now = now_us();
        let records = rules
            .iter()
            .map(|r| {
                let config =
                    serde_json::to_string(r).map_err(|e| IssuingError::Internal(e.to_string()))?;
                Ok(FraudRuleRecord { org_id: org, rule_id: r.id.clone(), config, updated_us: now })
            })
            .collect::<Result<Vec<_>>>()?;
        self.store().put_fraud_rules(&records).await?;
        self.fraud_rules(who, org).await
    }
}

fn apply_edit(rule: &mut RuleConfig, edit: &RuleEdit) {
    if let Some(r) = &edit.rule {
        rule.rule = r.clone();
    }
    rule.action = edit.action.unwrap_or(rule.action);
    rule.mode = edit.mode.unwrap_or(rule.mode);
    rule.enabled = edit.enabled.unwrap_or(rule.enabled);
}

/// A rule the org did not have: new rules start in shadow mode unless told otherwise, so
/// they are seen on live traffic before they act.
fn new_rule(id: &str, edit: &RuleEdit) -> Result<RuleConfig> {
    let rule = edit
        .rule
        .clone()
        .ok_or_else(|| FieldError::invalid("rule", "a new rule needs its kind and parameters"))?;
    Ok(RuleConfig {
        id: id.to_owned(),
        rule,
        action: edit.action.unwrap_or(Action::Review),
        mode: edit.mode.unwrap_or(Mode::Shadow),
        enabled: edit.enabled.unwrap_or(true),
    })
}
