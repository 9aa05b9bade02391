//! Fleet accounts and the fleet's view of its fills.

use crate::error::ApiResult;
use crate::extract::{path_id, ApiJson, ApiQuery, Auth, RawId};
use crate::state::AppState;
use authorizer::views::{AccountView, AuthorizationView, PostingView};
use authorizer::{Credit, CreditLimit};
use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizationQuery {
    card_id: Option<String>,
}

async fn authorizations(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<AuthorizationQuery>,
) -> ApiResult<Json<Vec<AuthorizationView>>> {
    let card = q.card_id.map(|c| path_id("card_id", &c)).transpose()?;
    Ok(Json(s.authorizer.authorizations(&who, card).await?))
}
