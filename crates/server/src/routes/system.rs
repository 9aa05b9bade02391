use crate::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/auth/jwks", get(jwks))
}

/// Liveness plus the HSM's view of itself; no secrets, no auth.
async fn health(State(state): State<AppState>) -> Json<Value> {
    let backend = state.issuing.store().backend().as_str();
    Json(json!({"status": "ok", "database": backend}))
}

async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.issuing.jwks())
}
