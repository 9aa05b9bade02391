//! The `/v1` API, one module per resource. Handlers are thin: extract, call the service,
//! shape the answer.

mod accounts;
mod auth;
mod cards;
mod controls;
mod directory;
mod fraud;
mod system;
mod terminal;
mod tokens;

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use issuing::Created;
use serde::Serialize;

pub fn v1() -> Router<AppState> {
    Router::new()
        .merge(system::routes())
        .merge(auth::routes())
        .merge(directory::routes())
        .merge(cards::routes())
        .merge(controls::routes())
        .merge(tokens::routes())
        .merge(terminal::routes())
        .merge(accounts::routes())
        .merge(fraud::routes())
}

/// 201 with the new object, or the stored first answer for a repeated Idempotency-Key.
pub(crate) fn created<T: Serialize>(created: Created<T>) -> Response {
    match created {
        Created::Fresh(value) => (StatusCode::CREATED, axum::Json(value)).into_response(),
        Created::Replayed { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
            response
        }
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NO_SUCH_ROUTE", "no such endpoint; see docs/API.md")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this endpoint does not take that method",
    )
}
