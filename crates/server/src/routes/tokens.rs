//! The phone's side: signed time, device enrolment, token provisioning and replenishment.

use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, ApiQuery, Auth, CreateJson, RawId};
use crate::routes::created;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokens::views::{ChallengeView, DeviceView, ProvisionedView, TokenView};
use tokens::{Enrol, NewChallenge, Provision, Replenish, SignedTime};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/time", get(time))
        .route("/devices/challenge", post(challenge))
        .route("/devices", post(enrol).get(list_devices))
        .route("/devices/{id}/revoke", post(revoke))
        .route("/cards/{id}/tokens", post(provision).get(card_tokens))
        .route("/tokens/{id}/replenish", post(replenish))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeQuery {
    nonce: Option<String>,
}

/// Public: a phone must be able to sync its clock before anything else.
async fn time(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<TimeQuery>,
) -> ApiResult<Json<SignedTime>> {
    let nonce = q.nonce.ok_or_else(|| {
        ApiError::field(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            "nonce",
            "send a fresh 16-byte nonce, base64url",
        )
    })?;
    Ok(Json(s.tokens.signed_time(&nonce).await?))
}

async fn challenge(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(_): ApiJson<NewChallenge>,
) -> ApiResult<(StatusCode, Json<ChallengeView>)> {
    Ok((StatusCode::CREATED, Json(s.tokens.new_challenge(&who).await?)))
}

async fn enrol(
    State(s): State<AppState>,
    Auth(who): Auth,
    req: CreateJson<Enrol>,
) -> ApiResult<Response> {
    Ok(created(s.tokens.enrol(&who, &req.body, req.idempotency.as_ref()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceQuery {
    driver_id: Option<String>,
}

async fn list_devices(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Json<Vec<DeviceView>>> {
    let driver = q.driver_id.map(|d| path_id("driver_id", &d)).transpose()?;
    Ok(Json(s.tokens.list_devices(&who, driver).await?))
}

async fn revoke(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<DeviceView>> {
    Ok(Json(s.tokens.revoke_device(&who, path_id("device_id", &id)?).await?))
}

async fn provision(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<Provision>,
) -> ApiResult<(StatusCode, Json<ProvisionedView>)> {
    Ok((StatusCode::CREATED, Json(s.tokens.provision(&who, path_id("card_id", &id)?, &req).await?)))
}

async fn card_tokens(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<Vec<TokenView>>> {
    Ok(Json(s.tokens.card_tokens(&who, path_id("card_id", &id)?).await?))
}

async fn replenish(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<Replenish>,
) -> ApiResult<Json<ProvisionedView>> {
    Ok(Json(s.tokens.replenish(&who, path_id("token_id", &id)?, &req).await?))
}
