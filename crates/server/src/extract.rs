//! Extractors that turn bad input into our error shape instead of axum's plain-text
//! rejections: JSON bodies (with the failing field named), bearer authentication, the
//! `Idempotency-Key` of create requests, and ids in paths.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use issuing::{IdempotencyKey, Principal};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Largest request body accepted on the JSON API.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body. Malformed JSON, wrong types, unknown or missing fields → 400 naming the
/// field (`owner.email`, `daily.amount`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (_, value) = read_json(req, state).await?;
        Ok(Self(value))
    }
}

/// A create request: its JSON body and, if sent, its `Idempotency-Key` bound to a hash of
/// method, path and body.
pub struct CreateJson<T> {
    pub body: T,
    pub idempotency: Option<IdempotencyKey>,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for CreateJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let key = req.headers().get("idempotency-key").map(|v| v.to_str().map(str::to_owned));
        let head = format!("{} {}\n", req.method(), req.uri().path());
        let (bytes, body) = read_json(req, state).await?;
        let idempotency = match key {
            None => None,
            Some(Err(_)) => return Err(bad_key("must be visible ASCII")),
            Some(Ok(key)) => {
                let mut hash = Sha256::new();
                hash.update(head.as_bytes());
                hash.update(&bytes);
                let hash = hex::encode(hash.finalize());
                Some(IdempotencyKey::new(&key, hash).map_err(|e| bad_key(&e.message))?)
            }
        };
        Ok(Self { body, idempotency })
    }
}

fn bad_key(message: &str) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "INVALID_HEADER", "Idempotency-Key", message)
}

async fn read_json<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(Bytes, T), ApiError> {
    let is_json =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body as Content-Type: application/json",
        ));
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            format!("the body must be at most {MAX_BODY_BYTES} bytes"),
        )
    })?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end().map_err(|e| malformed(&e))?;
    Ok((bytes, value))
}

fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return malformed(&inner);
    }
    // serde reports a missing top-level field at path "."; name the field from the message.
    let field =
        if path == "." { missing_field(&inner.to_string()).unwrap_or_default() } else { path };
    ApiError::field(
        StatusCode::BAD_REQUEST,
        "INVALID_FIELD",
        &field,
        strip_position(&inner.to_string()),
    )
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
        format!("the body is not valid JSON: {e}"),
    )
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// serde_json appends " at line 1 column 42"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The authenticated caller, from `Authorization: Bearer <access token>`.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    "send Authorization: Bearer <access token>",
                )
            })?;
        let principal = state.issuing.authenticate(token.trim()).await?;
        tracing::Span::current().record("user_id", tracing::field::display(principal.user_id));
        Ok(Self(principal))
    }
}

/// Parses an id from the path; a malformed one is a 400 naming the parameter.
pub fn path_id<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::field(StatusCode::BAD_REQUEST, "INVALID_ID", field, "must be a UUID")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_field_names_it() {
        assert_eq!(
            missing_field("missing field `email` at line 1 column 2").as_deref(),
            Some("email")
        );
        assert_eq!(
            strip_position("invalid type: string \"x\", expected i64 at line 1 column 9"),
            "invalid type: string \"x\", expected i64"
        );
    }
}
