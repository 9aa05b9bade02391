//! Failures as pages. A service error becomes the page of its HTTP status (404 for absent
//! or out of scope, 403 for a role that may never, 409/422 with the refusal, translated by
//! its code); internal causes go to the log, never to the page.

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
    Refused(StatusCode, Box<Refusal>),
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

    /// Input the console itself refuses, worded `field: why` (the field is read off it).
    pub fn refused(frame: &Frame, message: impl Into<String>) -> Self {
        let refusal = Refusal::typed(message.into());
        Self::new(frame, Kind::Refused(StatusCode::UNPROCESSABLE_ENTITY, Box::new(refusal)))
    }

    /// A refusal already in the viewer's language.
    pub fn said(frame: &Frame, status: StatusCode, text: impl Into<String>) -> Self {
        Self::new(frame, Kind::Refused(status, Box::new(Refusal::said(text.into()))))
    }

    /// A refused value or change (409/422) becomes an error to show next to the form;
    /// anything else (404, 403, 5xx) stays a page of its own.
    pub fn into_inline(self) -> Result<FormError, PageError> {
        match self.kind {
            Kind::Refused(status, refusal)
                if status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT =>
            {
                let (message, original) = refusal.text(self.frame.lang);
                Ok(FormError { status, message, original })
            }
            _ => Err(self),
        }
    }
}

/// Why a value or change was refused: the stable code of the rule (`GROUP_NOT_EMPTY`,
/// `OUT_OF_RANGE`, ...), the field to blame if any, and the message as the service words
/// it (English, with the specifics: counts, bounds, names).
#[derive(Debug, Clone)]
pub struct Refusal {
    /// `None`: `message` is already in the viewer's language.
    code: Option<&'static str>,
    field: Option<String>,
    message: String,
}

impl Refusal {
    pub fn new(code: &'static str, field: Option<String>, message: String) -> Self {
        Self { code: Some(code), field, message }
    }

    fn said(text: String) -> Self {
        Self { code: None, field: None, message: text }
    }

    /// The console's own `field: why` (or just `why`) refusal of a typed value.
    fn typed(message: String) -> Self {
        let named = message.split_once(": ").filter(|(field, _)| {
            !field.is_empty()
                && field.chars().all(|c| c.is_ascii_alphanumeric() || "_. ".contains(c))
        });
        match named {
            Some((field, why)) => Self::new("INVALID_VALUE", Some(field.into()), why.into()),
            None => Self::new("INVALID_VALUE", None, message),
        }
    }

    /// The text to show in `lang`, and the service's own words to show beside it when the
    /// text is a translation. English is the service's message itself; Russian is the
    /// code's text ([`crate::i18n::refusal_ru`]), so the specifics stay readable beside it.
    pub fn text(&self, lang: Lang) -> (String, Option<String>) {
        let english = match &self.field {
            Some(field) => format!("{field}: {}", self.message),
            None => self.message.clone(),
        };
        let translated = match (lang, self.code) {
            (Lang::Ru, Some(code)) => crate::i18n::refusal_ru(code),
            _ => None,
        };
        match translated {
            Some(ru) => {
                let text = match &self.field {
                    Some(field) => format!("«{field}»: {ru}"),
                    None => ru.to_owned(),
                };
                (text, Some(english))
            }
            None => (english, None),
        }
    }
}

/// A refused form, shown on the same page next to the form, with the status of the
/// service's answer (422 or 409): the text in the viewer's language and, when that is a
/// translation, the service's own words.
#[derive(Debug, Clone)]
pub struct FormError {
    pub status: StatusCode,
    pub message: String,
    pub original: Option<String>,
}

pub fn kind_of(e: IssuingError) -> Kind {
    match e {
        IssuingError::NotFound(_) => Kind::NotFound,
        IssuingError::Forbidden(_) | IssuingError::Unauthenticated(_) => Kind::Forbidden,
        IssuingError::Invalid(f) => Kind::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            Box::new(Refusal::new(f.code, Some(f.field), f.message)),
        ),
        IssuingError::Conflict { code, message } => {
            Kind::Refused(StatusCode::CONFLICT, Box::new(Refusal::new(code, None, message)))
        }
        IssuingError::IdempotencyMismatch => Kind::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            Box::new(Refusal::new("IDEMPOTENCY_MISMATCH", None, e.to_string())),
        ),
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
    let mut original = None;
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
        Kind::Refused(status, refusal) => {
            let (text, said) = refusal.text(lang);
            original = said;
            (*status, lang.t("error.invalid"), text)
        }
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
                @if let Some(said) = &original { p.muted lang="en" { (said) } }
                p { a href=(crate::MOUNT) { (lang.t("error.back")) } }
            }
        },
    );
    (status, Html(markup.into_string())).into_response()
}
