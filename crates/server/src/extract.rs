//! Extractors that turn bad input into our error shape instead of axum's plain-text
//! rejections: JSON bodies (with the failing field named), query strings, bearer
//! authentication, the `Idempotency-Key` of create requests, and ids in paths.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
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
    let bytes = read_body(req, state).await?;
    let value = parse_json(&bytes)?;
    Ok((bytes, value))
}

/// The raw body of a JSON request: the content type checked, the size bounded.
pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let json_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body as Content-Type: application/json",
        ));
    }
    Bytes::from_request(req, state).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            format!("the body must be at most {MAX_BODY_BYTES} bytes"),
        )
    })
}

/// A JSON object body, with the failing field named on error.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body of this API is an object. serde would also read an array as a struct
    // (fields by position), so `[]` would silently mean "all fields absent".
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') && is_json(bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_BODY",
            "the body must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(e, bytes))?;
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn json_error(e: serde_path_to_error::Error<serde_json::Error>, bytes: &[u8]) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    // serde_json reports some type errors as syntax errors (a number or `null` where an enum
    // is expected: "expected value"), so only a body that does not parse as JSON at all is
    // malformed; anything else is a bad value of a named field.
    if (inner.is_syntax() || inner.is_eof()) && !is_json(bytes) {
        return malformed(&inner);
    }
    let message = if inner.is_syntax() {
        "invalid type or value".to_owned()
    } else {
        strip_position(&inner.to_string())
    };
    // serde reports a missing or duplicate field at the path of the object that holds it
    // ("." at the top); name the field itself.
    let field = match (missing_field(&message), path.as_str()) {
        (Some(name), ".") => name,
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, ".") => String::new(),
        (None, _) => path,
    };
    if field.is_empty() {
        return ApiError::new(StatusCode::BAD_REQUEST, "INVALID_FIELD", message);
    }
    ApiError::field(StatusCode::BAD_REQUEST, "INVALID_FIELD", &field, message)
}

/// Whether `bytes` are one well-formed JSON document. Skipping over values with
/// `IgnoredAny` checks the grammar (a number too large for any Rust type is still JSON) but
/// not the encoding, hence the UTF-8 check.
fn is_json(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok()
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "MALFORMED_JSON",
        format!("the body is not valid JSON: {e}"),
    )
}

/// The field a "missing field `x`" or "duplicate field `x`" error is about: serde reports
/// those at the path of the enclosing object.
fn missing_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))?;
    Some(rest.split('`').next()?.to_owned())
}

/// serde_json appends " at line 1 column 42"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string read into `T` (whose fields are all `Option<String>`). Unknown or
/// repeated parameters → 400 `INVALID_QUERY` naming the parameter, like any other value
/// the handler refuses.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", "unreadable query string")
        })?;
        let mut params = serde_json::Map::new();
        for (name, value) in pairs {
            if params.insert(name.clone(), serde_json::Value::String(value)).is_some() {
                return Err(bad_query(&name, "must be given at most once".to_owned()));
            }
        }
        serde_path_to_error::deserialize(serde_json::Value::Object(params)).map(Self).map_err(|e| {
            let name = e.path().to_string();
            let message = e.into_inner().to_string();
            match missing_field(&message) {
                Some(missing) => bad_query(&missing, message),
                None if name == "." => {
                    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", message)
                }
                None => bad_query(&name, message),
            }
        })
    }
}

fn bad_query(name: &str, message: String) -> ApiError {
    ApiError::field(StatusCode::BAD_REQUEST, "INVALID_QUERY", name, message)
}

/// The `{id}` segment of a path as text, for `path_id`. A segment that does not even
/// percent-decode to UTF-8 becomes "", which `path_id` then refuses naming the parameter,
/// instead of axum's plain-text rejection.
pub struct RawId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RawId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Self, std::convert::Infallible> {
        let id = Path::<String>::from_request_parts(parts, state).await.map(|p| p.0);
        Ok(Self(id.unwrap_or_default()))
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
        assert_eq!(missing_field("duplicate field `group_id`").as_deref(), Some("group_id"));
        assert_eq!(missing_field("unknown field `x`"), None);
        assert!(is_json(b" {\"a\": [1e400, \"\\ud800\"]} "), "grammar, not Rust's ranges");
        assert!(!is_json(b"{\"a\": \"\xff\"}"), "JSON is UTF-8");
        assert!(!is_json(b"{} x"));
        assert_eq!(
            strip_position("invalid type: string \"x\", expected i64 at line 1 column 9"),
            "invalid type: string \"x\", expected i64"
        );
    }
}
