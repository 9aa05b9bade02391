use super::created;
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, ApiQuery, Auth, CreateJson, RawId};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use issuing::views::{BindingView, CardView, EffectiveControlsView, EventView};
use issuing::{BindCard, ChangeCardStatus, IssueCard};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cards", post(issue).get(list))
        .route("/cards/{id}", get(get_card))
        .route("/cards/{id}/status", post(change_status))
        .route("/cards/{id}/binding", put(bind))
        .route("/cards/{id}/bindings", get(bindings))
        .route("/cards/{id}/events", get(events))
        .route("/cards/{id}/controls/effective", get(effective))
}

async fn issue(
    State(s): State<AppState>,
    Auth(who): Auth,
    req: CreateJson<IssueCard>,
) -> ApiResult<Response> {
    Ok(created(s.issuing.issue_card(&who, &req.body, req.idempotency.as_ref()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CardQuery {
    status: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<CardQuery>,
) -> ApiResult<Json<Vec<CardView>>> {
    let status = q
        .status
        .map(|v| {
            v.parse().map_err(|()| {
                ApiError::field(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY",
                    "status",
                    "unknown card status",
                )
            })
        })
        .transpose()?;
    Ok(Json(s.issuing.list_cards(&who, status).await?))
}

async fn get_card(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<CardView>> {
    Ok(Json(s.issuing.get_card(&who, path_id("card_id", &id)?).await?))
}

async fn change_status(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<ChangeCardStatus>,
) -> ApiResult<Json<CardView>> {
    Ok(Json(s.issuing.change_card_status(&who, path_id("card_id", &id)?, &req).await?))
}

async fn bind(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<BindCard>,
) -> ApiResult<Json<CardView>> {
    Ok(Json(s.issuing.bind_card(&who, path_id("card_id", &id)?, &req).await?))
}

async fn bindings(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<Vec<BindingView>>> {
    Ok(Json(s.issuing.card_bindings(&who, path_id("card_id", &id)?).await?))
}

async fn events(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<Vec<EventView>>> {
    Ok(Json(s.issuing.card_events(&who, path_id("card_id", &id)?).await?))
}

async fn effective(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<EffectiveControlsView>> {
    Ok(Json(s.issuing.effective_controls(&who, path_id("card_id", &id)?).await?))
}
