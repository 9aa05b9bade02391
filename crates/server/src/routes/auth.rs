use crate::error::ApiResult;
use crate::extract::{ApiJson, Auth};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use issuing::auth::{AcceptInvite, Login, Refresh};
use issuing::views::{TokenPairView, UserView};
use issuing::UpdateMe;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/accept-invite", post(accept_invite))
        .route("/me", get(me).patch(update_me))
}

async fn login(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<Login>,
) -> ApiResult<Json<TokenPairView>> {
    Ok(Json(s.issuing.login(&req).await?))
}

async fn refresh(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<Refresh>,
) -> ApiResult<Json<TokenPairView>> {
    Ok(Json(s.issuing.refresh(&req).await?))
}

async fn logout(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<StatusCode> {
    s.issuing.logout(&who).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn accept_invite(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<AcceptInvite>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(s.issuing.accept_invite(&req).await?))
}

async fn me(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<UserView>> {
    Ok(Json(s.issuing.me(&who).await?))
}

async fn update_me(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<UpdateMe>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(s.issuing.update_me(&who, &req).await?))
}
