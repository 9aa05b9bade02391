//! One module per page (or page family). Handlers take the [`Viewer`], call one service
//! method per piece of data exactly as the API does, and render with maud (escaped by
//! default). Forms post back and redirect (303), so everything works without JavaScript.

pub mod alert;
pub mod alerts;
pub mod card;
pub mod cards;
pub mod dashboard;
pub mod errors;
mod fills;
pub mod login;
pub mod rules;

use crate::error::PageError;
use crate::layout::{self, Frame};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::Markup;

pub type PageResult = Result<Response, PageError>;

pub fn html(frame: &Frame, title: &str, content: Markup) -> Response {
    Html(layout::page(frame, title, content).into_string()).into_response()
}

/// After a successful form: back to a page with GET (post/redirect/get).
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// Parses an id from the path; a malformed one is the same 404 as an absent one.
pub fn parse_id<T: std::str::FromStr>(frame: &Frame, raw: &str) -> Result<T, PageError> {
    raw.parse().map_err(|_| PageError::new(frame, crate::error::Kind::NotFound))
}

/// The first 16 characters of an RFC 3339 time: `2026-11-23T12:00` → shown with a space.
pub fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or(rfc3339).replacen('T', " ", 1)
}
