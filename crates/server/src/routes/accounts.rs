//! Fleet accounts and the fleet's view of its fills.

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, ApiQuery, Auth, RawId};
use crate::state::AppState;
use authorizer::views::{
    AccountView, AuthorizationQuery, AuthorizationView, PostingView, MAX_AUTHORIZATIONS,
};
use authorizer::{Credit, CreditLimit};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use store::AuthStatus;
use time::format_description::well_known::Rfc3339;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs/{id}/account", get(account))
        .route("/orgs/{id}/account/statement", get(statement))
        .route("/orgs/{id}/account/credits", post(credit))
        .route("/orgs/{id}/account/credit-limit", put(credit_limit))
        .route("/authorizations", get(authorizations))
}

async fn account(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(s.authorizer.account(&who, path_id("org_id", &id)?).await?))
}

async fn statement(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<Vec<PostingView>>> {
    Ok(Json(s.authorizer.statement(&who, path_id("org_id", &id)?).await?))
}

async fn credit(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<Credit>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(s.authorizer.credit(&who, path_id("org_id", &id)?, &req).await?))
}

async fn credit_limit(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<CreditLimit>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(s.authorizer.set_credit_limit(&who, path_id("org_id", &id)?, &req).await?))
}

/// The query string of `GET /v1/authorizations`: all text, parsed below so a bad value
/// is a 400 naming its parameter.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizationParams {
    card_id: Option<String>,
    status: Option<String>,
    driver_id: Option<String>,
    vehicle_id: Option<String>,
    station_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "INVALID_QUERY", field, message)
}

fn id_of<T: std::str::FromStr>(field: &str, raw: Option<String>) -> Result<Option<T>, ApiError> {
    raw.map(|r| path_id(field, &r)).transpose()
}

/// An RFC 3339 instant as unix microseconds.
fn instant(field: &str, raw: Option<String>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let at = time::OffsetDateTime::parse(&raw, &Rfc3339)
        .map_err(|_| bad(field, "must be an RFC 3339 time, e.g. 2026-01-31T23:00:00Z".into()))?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000)
        .map(Some)
        .map_err(|_| bad(field, "is out of range".into()))
}

fn status_of(raw: Option<String>) -> Result<Option<AuthStatus>, ApiError> {
    let message = "must be approved, declined, completed, reversed or expired";
    raw.map(|s| AuthStatus::parse(&s).ok_or_else(|| bad("status", message.into()))).transpose()
}

fn limit_of(raw: Option<String>) -> Result<Option<i64>, ApiError> {
    raw.map(|l| match l.parse::<i64>() {
        Ok(n) if (1..=MAX_AUTHORIZATIONS).contains(&n) => Ok(n),
        _ => Err(bad("limit", format!("must be an integer from 1 to {MAX_AUTHORIZATIONS}"))),
    })
    .transpose()
}

fn parse(p: AuthorizationParams) -> Result<AuthorizationQuery, ApiError> {
    let (from_us, to_us) = (instant("from", p.from)?, instant("to", p.to)?);
    if let (Some(from), Some(to)) = (from_us, to_us) {
        if to < from {
            return Err(bad("to", "must not be before from".into()));
        }
    }
    Ok(AuthorizationQuery {
        card_id: id_of("card_id", p.card_id)?,
        status: status_of(p.status)?,
        driver_id: id_of("driver_id", p.driver_id)?,
        vehicle_id: id_of("vehicle_id", p.vehicle_id)?,
        station_id: id_of("station_id", p.station_id)?,
        from_us,
        to_us,
        limit: limit_of(p.limit)?,
    })
}

async fn authorizations(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(p): ApiQuery<AuthorizationParams>,
) -> ApiResult<Json<Vec<AuthorizationView>>> {
    Ok(Json(s.authorizer.search_authorizations(&who, &parse(p)?).await?))
}
