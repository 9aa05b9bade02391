//! The terminal API (every request signed by the terminal, `docs/TERMINAL-API.md`) and the
//! operator's stations and terminals.

use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, path_id, read_body, ApiJson, Auth, RawId};
use crate::state::AppState;
use authorizer::views::{
    AuthorizationAnswer, AuthorizationView, StationView, TerminalCreatedView, TerminalView,
};
use authorizer::{
    AuthorizeRequest, CompleteRequest, CreateStation, CreateTerminal, ReverseByReference,
    SignedRequest, TerminalAuthError,
};
use axum::extract::{FromRequest, OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use emv::terminal_auth as ta;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::{TerminalRecord, TerminalStatus};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stations", post(create_station).get(list_stations))
        .route("/stations/{id}/terminals", post(create_terminal))
        .route("/terminals/{id}/suspend", post(suspend_terminal))
        .route("/terminals/{id}/resume", post(resume_terminal))
        .route("/terminal/authorizations", post(authorize))
        .route("/terminal/authorizations/{id}/completion", post(complete))
        .route("/terminal/authorizations/{id}/reversal", post(reverse))
        .route("/terminal/reversals", post(reverse_by_reference))
}

/// A signed terminal request: the authenticated terminal, the JSON body and the body's
/// hash (the message's fingerprint for idempotent retries).
pub struct Signed<T> {
    terminal: TerminalRecord,
    body: T,
    body_hash: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (terminal_id, timestamp, nonce, signature) = {
            let header = |name: &str| {
                req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
            };
            (
                header(ta::TERMINAL_ID_HEADER),
                header(ta::TIMESTAMP_HEADER),
                header(ta::NONCE_HEADER),
                header(ta::SIGNATURE_HEADER),
            )
        };
        let method = req.method().as_str().to_owned();
        // The request target as the terminal signed it: nesting under /v1 strips the prefix
        // from `req.uri()`, the original stays in an extension.
        let uri = req
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| req.uri().clone(), |o| o.0.clone());
        let path =
            uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
        let bytes = read_body(req, state).await?;
        let signed = SignedRequest {
            terminal_id: &terminal_id,
            timestamp_ms: &timestamp,
            nonce: &nonce,
            signature_hex: &signature,
            method: &method,
            path_and_query: &path,
            body: &bytes,
        };
        let terminal = state.authorizer.authenticate(&signed).await?.map_err(terminal_refused)?;
        tracing::Span::current().record("user_id", tracing::field::display(terminal.id));
        let body = parse_json(&bytes)?;
        Ok(Self { terminal, body, body_hash: hex::encode(Sha256::digest(&bytes)) })
    }
}

fn terminal_refused(e: TerminalAuthError) -> ApiError {
    let (status, code) = match e {
        TerminalAuthError::BadSignature => (StatusCode::UNAUTHORIZED, "TERMINAL_SIGNATURE_INVALID"),
        TerminalAuthError::Stale => (StatusCode::UNAUTHORIZED, "TERMINAL_REQUEST_STALE"),
        TerminalAuthError::Replayed => (StatusCode::UNAUTHORIZED, "TERMINAL_REQUEST_REPLAYED"),
        TerminalAuthError::Suspended => (StatusCode::FORBIDDEN, "TERMINAL_SUSPENDED"),
    };
    ApiError::new(status, code, e.to_string())
}

/// Terminal bodies that carry nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

async fn authorize(
    State(s): State<AppState>,
    req: Signed<AuthorizeRequest>,
) -> ApiResult<Json<AuthorizationAnswer>> {
    Ok(Json(s.authorizer.authorize(&req.terminal, &req.body_hash, &req.body).await?))
}

async fn complete(
    State(s): State<AppState>,
    RawId(id): RawId,
    req: Signed<CompleteRequest>,
) -> ApiResult<Json<AuthorizationView>> {
    Ok(Json(
        s.authorizer.complete(&req.terminal, path_id("authorization_id", &id)?, &req.body).await?,
    ))
}

async fn reverse(
    State(s): State<AppState>,
    RawId(id): RawId,
    req: Signed<Empty>,
) -> ApiResult<Json<AuthorizationView>> {
    Ok(Json(s.authorizer.reverse(&req.terminal, path_id("authorization_id", &id)?).await?))
}

/// 200 with the reversed authorization, or 202 when the original was never seen (the
/// reversal is remembered and the late original will be declined).
async fn reverse_by_reference(
    State(s): State<AppState>,
    req: Signed<ReverseByReference>,
) -> ApiResult<(StatusCode, Json<Option<AuthorizationView>>)> {
    let reversed = s.authorizer.reverse_by_reference(&req.terminal, &req.body).await?;
    let status = if reversed.is_some() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(reversed)))
}

async fn create_station(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<CreateStation>,
) -> ApiResult<(StatusCode, Json<StationView>)> {
    Ok((StatusCode::CREATED, Json(s.authorizer.create_station(&who, &req).await?)))
}

async fn list_stations(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<Vec<StationView>>> {
    Ok(Json(s.authorizer.list_stations(&who).await?))
}

async fn create_terminal(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<CreateTerminal>,
) -> ApiResult<(StatusCode, Json<TerminalCreatedView>)> {
    let station = path_id("station_id", &id)?;
    Ok((StatusCode::CREATED, Json(s.authorizer.create_terminal(&who, station, &req).await?)))
}

async fn suspend_terminal(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<TerminalView>> {
    Ok(Json(
        s.authorizer
            .set_terminal_status(&who, path_id("terminal_id", &id)?, TerminalStatus::Suspended)
            .await?,
    ))
}

async fn resume_terminal(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<TerminalView>> {
    Ok(Json(
        s.authorizer
            .set_terminal_status(&who, path_id("terminal_id", &id)?, TerminalStatus::Active)
            .await?,
    ))
}
