//! The console's 404 for unknown paths and 405 for a known path with the wrong method.

use crate::cookies::{self, SetCookies};
use crate::error::{self, Kind};
use crate::{session, Console};
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

pub async fn not_found(
    State(c): State<Console>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (frame, fresh) = session::anonymous_frame(&headers, uri.path());
    let mut response = error::render(&frame, &Kind::NotFound);
    // The page's language switch is a form: it needs the token's cookie.
    if let Some(token) = fresh {
        SetCookies::new(c.cookie_secure)
            .session(cookies::CSRF, &token)
            .apply(response.headers_mut());
    }
    response
}

pub async fn method_not_allowed(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let (frame, _) = session::anonymous_frame(&headers, uri.path());
    let status = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    let message = frame.lang.t("error.method");
    error::PageError::said(&frame, status, message).into_response()
}
