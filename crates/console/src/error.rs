//! Failures as pages. A service error becomes the page of its HTTP status (404 for absent
//! or out of scope, 403 for a role that may never, 409/422 with the service's message);
//! internal causes go to the log, never to the page.

use crate::i18n::Lang;
use crate::layout::{self, Frame};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use issuing::IssuingError;
use maud::html;

#[derive(Debug)]
pub enum Kind {
    NotFound,
    /// The role may never do this (an admin on the fraud queue).
    Forbidden,
    /// The role has no console at all (drivers, platform operators).
    NotForRole,
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// Refused input or a refused change, with the reason to show.
    Refused(StatusCode, String),
    Unavailable,
    Internal,
}

/// A failed request, with what is needed to render its page.
#[derive(Debug)]
pub struct PageError {
    pub frame: Frame,
    pub kind: Kind,
}

impl PageError {
    pub fn new(frame: &Frame, kind: Kind) -> Self {
        Self { frame: frame.clone(), kind }
    }

    pub fn refused(frame: &Frame, message: impl Into<String>) -> Self {
        Self::new(frame, Kind::Refused(StatusCode::UNPROCESSABLE_ENTITY, message.into()))
    }

    /// A refused value or change (409/422) becomes an error to show next to the form;
    /// anything else (404, 403, 5xx) stays a page of its own.
    pub fn into_inline(self) -> Result<FormError, PageError> {
        match self.kind {
            Kind::Refused(status, message)
                if status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT =>
            {
                Ok(FormError { status, message })
            }
            _ => Err(self),
        }
    }
}

/// A refused form, shown on the same page next to the form, with the status of the
/// service's answer (422 or 409).
#[derive(Debug, Clone)]
pub struct FormError {
    pub status: StatusCode,
    pub message: String,
}

pub fn kind_of(e: IssuingError) -> Kind {
    match e {
        IssuingError::NotFound(_) => Kind::NotFound,
        IssuingError::Forbidden(_) | IssuingError::Unauthenticated(_) => Kind::Forbidden,
        IssuingError::Invalid(f) => {
            Kind::Refused(StatusCode::UNPROCESSABLE_ENTITY, format!("{}: {}", f.field, f.message))
        }
        IssuingError::Conflict { message, .. } => Kind::Refused(StatusCode::CONFLICT, message),
        IssuingError::IdempotencyMismatch => {
            Kind::Refused(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        IssuingError::Unavailable(_) => Kind::Unavailable,
        IssuingError::Internal(cause) => {
            tracing::error!(%cause, "console: internal error");
            Kind::Internal
        }
    }
}

/// `service_call().await.or_page(&frame)?`
pub trait OrPage<T> {
    fn or_page(self, frame: &Frame) -> Result<T, PageError>;
}

impl<T> OrPage<T> for Result<T, IssuingError> {
    fn or_page(self, frame: &Frame) -> Result<T, PageError> {
        self.map_err(|e| PageError::new(frame, kind_of(e)))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        render(&self.frame, &self.kind)
    }
}

pub fn render(frame: &Frame, kind: &Kind) -> Response {
    let lang: Lang = frame.lang;
    let (status, title, body): (StatusCode, &str, String) = match kind {
        Kind::NotFound => (
            StatusCode::NOT_FOUND,
            lang.t("error.not_found"),
            lang.t("error.not_found.body").into(),
        ),
        Kind::Forbidden => (
            StatusCode::FORBIDDEN,
            lang.t("error.forbidden"),
            lang.t("error.forbidden.body").into(),
        ),
        Kind::NotForRole => {
            (StatusCode::FORBIDDEN, lang.t("error.forbidden"), lang.t("error.console_roles").into())
        }
        Kind::Csrf => {
            (StatusCode::FORBIDDEN, lang.t("error.csrf"), lang.t("error.csrf.body").into())
        }
        Kind::Refused(status, message) => (*status, lang.t("error.invalid"), message.clone()),
        Kind::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            lang.t("error.unavailable"),
            lang.t("error.unavailable").into(),
        ),
        Kind::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            lang.t("error.internal"),
            lang.t("error.internal").into(),
        ),
    };
    let markup = layout::page(
        frame,
        title,
        html! {
            section.error data-status=(status.as_u16()) {
                h1 { (title) }
                p { (body) }
                p { a href=(crate::MOUNT) { (lang.t("error.back")) } }
            }
        },
    );
    (status, Html(markup.into_string())).into_response()
}
