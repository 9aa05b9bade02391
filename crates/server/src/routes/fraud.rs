//! The fraud team's API: the alert queue and its actions, and the org's rules with their
//! hit and false-positive counts. Fraud analysts only (the service answers 403 to others).

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, ApiQuery, Auth, RawId};
use crate::state::AppState;
use authorizer::review::{
    AlertDetail, AlertQuery, AlertQueue, AlertView, CommentView, NewComment, Resolve, RuleEdit,
    RuleView,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use domain::OrgId;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(alerts))
        .route("/alerts/{id}", get(alert))
        .route("/alerts/{id}/take", post(take))
        .route("/alerts/{id}/comments", post(comment))
        .route("/alerts/{id}/resolve", post(resolve))
        .route("/fraud/rules", get(rules))
        .route("/fraud/rules/{id}", put(put_rule))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    status: Option<String>,
    org_id: Option<String>,
    rule_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgQuery {
    org_id: Option<String>,
}

fn org_of(raw: Option<String>) -> Result<OrgId, ApiError> {
    let raw = raw.ok_or_else(|| {
        ApiError::field(StatusCode::BAD_REQUEST, "REQUIRED", "org_id", "name the fleet's org_id")
    })?;
    path_id("org_id", &raw)
}

async fn alerts(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> ApiResult<Json<AlertQueue>> {
    let org_id = q.org_id.map(|o| path_id("org_id", &o)).transpose()?;
    let query = AlertQuery { status: q.status, org_id, rule_id: q.rule_id };
    Ok(Json(s.authorizer.alerts(&who, &query).await?))
}

async fn alert(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<AlertDetail>> {
    Ok(Json(s.authorizer.alert(&who, path_id("alert_id", &id)?).await?))
}

async fn take(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<AlertView>> {
    Ok(Json(s.authorizer.take_alert(&who, path_id("alert_id", &id)?).await?))
}

async fn comment(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<NewComment>,
) -> ApiResult<(StatusCode, Json<CommentView>)> {
    let view = s.authorizer.comment_alert(&who, path_id("alert_id", &id)?, &req).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn resolve(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<Resolve>,
) -> ApiResult<Json<AlertView>> {
    Ok(Json(s.authorizer.resolve_alert(&who, path_id("alert_id", &id)?, &req).await?))
}

async fn rules(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<OrgQuery>,
) -> ApiResult<Json<Vec<RuleView>>> {
    Ok(Json(s.authorizer.fraud_rules(&who, org_of(q.org_id)?).await?))
}

async fn put_rule(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(rule_id): RawId,
    ApiQuery(q): ApiQuery<OrgQuery>,
    ApiJson(edit): ApiJson<RuleEdit>,
) -> ApiResult<Json<Vec<RuleView>>> {
    Ok(Json(s.authorizer.put_fraud_rule(&who, org_of(q.org_id)?, &rule_id, &edit).await?))
}
