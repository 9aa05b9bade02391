//! Orgs, groups, users and vehicles: the fleet's directory.

use super::created;
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, ApiJson, ApiQuery, Auth, CreateJson, RawId};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use issuing::views::{GroupView, OrgView, UserView, VehicleView};
use issuing::*;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/orgs", post(create_org).get(list_orgs))
        .route("/orgs/{id}", get(get_org).patch(update_org))
        .route("/groups", post(create_group).get(list_groups))
        .route("/groups/{id}", get(get_group).patch(update_group))
        .route("/groups/{id}/deactivate", post(deactivate_group))
        .route("/users", post(create_user).get(list_users))
        .route("/users/{id}", get(get_user).patch(update_user))
        .route("/users/{id}/deactivate", post(deactivate_user))
        .route("/vehicles", post(create_vehicle).get(list_vehicles))
        .route("/vehicles/{id}", get(get_vehicle).patch(update_vehicle))
        .route("/vehicles/{id}/deactivate", post(deactivate_vehicle))
}

async fn create_org(
    State(s): State<AppState>,
    Auth(who): Auth,
    req: CreateJson<CreateOrg>,
) -> ApiResult<Response> {
    Ok(created(s.issuing.create_org(&who, &req.body, req.idempotency.as_ref()).await?))
}

async fn list_orgs(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Vec<OrgView>>> {
    Ok(Json(s.issuing.list_orgs(&who).await?))
}

async fn get_org(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(s.issuing.get_org(&who, path_id("org_id", &id)?).await?))
}

async fn update_org(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<UpdateOrg>,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(s.issuing.update_org(&who, path_id("org_id", &id)?, &req).await?))
}

async fn create_group(
    State(s): State<AppState>,
    Auth(who): Auth,
    req: CreateJson<CreateGroup>,
) -> ApiResult<Response> {
    Ok(created(s.issuing.create_group(&who, &req.body, req.idempotency.as_ref()).await?))
}

async fn list_groups(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<Vec<GroupView>>> {
    Ok(Json(s.issuing.list_groups(&who).await?))
}

async fn get_group(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(s.issuing.get_group(&who, path_id("group_id", &id)?).await?))
}

async fn update_group(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<UpdateGroup>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(s.issuing.update_group(&who, path_id("group_id", &id)?, &req).await?))
}

async fn deactivate_group(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(s.issuing.deactivate_group(&who, path_id("group_id", &id)?).await?))
}

async fn create_user(
    State(s): State<AppState>,
    Auth(who): Auth,
    req: CreateJson<CreateUser>,
) -> ApiResult<Response> {
    Ok(created(s.issuing.create_user(&who, &req.body, req.idempotency.as_ref()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserQuery {
    role: Option<String>,
}

async fn list_users(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<Json<Vec<UserView>>> {
    let role = q
        .role
        .map(|r| {
            r.parse().map_err(|()| {
                ApiError::field(StatusCode::BAD_REQUEST, "INVALID_QUERY", "role", "unknown role")
            })
        })
        .transpose()?;
    Ok(Json(s.issuing.list_users(&who, role).await?))
}

async fn get_user(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<UserView>> {
    Ok(Json(s.issuing.get_user(&who, path_id("user_id", &id)?).await?))
}

async fn update_user(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(s.issuing.update_user(&who, path_id("user_id", &id)?, &req).await?))
}

async fn deactivate_user(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<UserView>> {
    Ok(Json(s.issuing.deactivate_user(&who, path_id("user_id", &id)?).await?))
}

async fn create_vehicle(
    State(s): State<AppState>,
    Auth(who): Auth,
    req: CreateJson<CreateVehicle>,
) -> ApiResult<Response> {
    Ok(created(s.issuing.create_vehicle(&who, &req.body, req.idempotency.as_ref()).await?))
}

async fn list_vehicles(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<Vec<VehicleView>>> {
    Ok(Json(s.issuing.list_vehicles(&who).await?))
}

async fn get_vehicle(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<VehicleView>> {
    Ok(Json(s.issuing.get_vehicle(&who, path_id("vehicle_id", &id)?).await?))
}

async fn update_vehicle(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<UpdateVehicle>,
) -> ApiResult<Json<VehicleView>> {
    Ok(Json(s.issuing.update_vehicle(&who, path_id("vehicle_id", &id)?, &req).await?))
}

async fn deactivate_vehicle(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<VehicleView>> {
    Ok(Json(s.issuing.deactivate_vehicle(&who, path_id("vehicle_id", &id)?).await?))
}
