//! `GET`/`PUT /v1/{orgs|groups|drivers|vehicles|cards}/{id}/controls`: one handler pair
//! for every level.

use crate::error::ApiResult;
use crate::extract::{path_id, ApiJson, Auth, RawId};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::controls::{Controls, Level};
use issuing::views::ControlsView;
use issuing::SubjectRef;

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for (prefix, level) in [
        ("orgs", Level::Org),
        ("groups", Level::Group),
        ("drivers", Level::Driver),
        ("vehicles", Level::Vehicle),
        ("cards", Level::Card),
    ] {
        let get_h = move |s: State<AppState>, a: Auth, p: RawId| get_controls(s, a, p, level);
        let put_h = move |s: State<AppState>, a: Auth, p: RawId, b: ApiJson<Controls>| {
            put_controls(s, a, p, b, level)
        };
        router = router.route(&format!("/{prefix}/{{id}}/controls"), get(get_h).put(put_h));
    }
    router
}

async fn get_controls(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    level: Level,
) -> ApiResult<Json<ControlsView>> {
    let subject = SubjectRef { level, id: path_id(id_field(level), &id)? };
    Ok(Json(s.issuing.get_controls(&who, subject).await?))
}

async fn put_controls(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(controls): ApiJson<Controls>,
    level: Level,
) -> ApiResult<Json<ControlsView>> {
    let subject = SubjectRef { level, id: path_id(id_field(level), &id)? };
    Ok(Json(s.issuing.set_controls(&who, subject, controls).await?))
}

/// How the id in the path is named in errors, as elsewhere (`card_id`, `vehicle_id`, ...).
fn id_field(level: Level) -> &'static str {
    match level {
        Level::Org => "org_id",
        Level::Group => "group_id",
        Level::Driver => "driver_id",
        Level::Vehicle => "vehicle_id",
        Level::Card => "card_id",
    }
}
