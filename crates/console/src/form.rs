//! URL-encoded form bodies, accepted only with a valid CSRF token. A bad body or a missing
//! token is a page (400 / 403), never axum's plain-text rejection.

use crate::cookies;
use crate::csrf;
use crate::error::{Kind, PageError, Refusal};
use crate::session::{self, Viewer};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

/// The fields of a posted form whose `csrf` field matched the `fc_csrf` cookie.
pub struct CheckedForm {
    fields: Vec<(String, String)>,
}

impl std::fmt::Debug for CheckedForm {
    // Field names only: values include passwords and the CSRF token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.fields.iter().map(|(k, _)| k)).finish()
    }
}

impl CheckedForm {
    /// The field's value, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every non-blank value of a repeated field (checkboxes), trimmed.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The field's value exactly as sent (passwords keep their spaces).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for CheckedForm {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        let headers = req.headers().clone();
        let frame = match req.extensions().get::<Viewer>() {
            Some(v) => v.frame.clone(),
            None => session::anonymous_frame(&headers, &session::original_path(&req)).0,
        };
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            let refusal = Refusal::new("FORM_TOO_LARGE", None, "form too large".into());
            PageError::new(&frame, Kind::Refused(StatusCode::PAYLOAD_TOO_LARGE, Box::new(refusal)))
        })?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            let refusal = Refusal::new("UNREADABLE_FORM", None, "unreadable form".into());
            PageError::new(&frame, Kind::Refused(StatusCode::BAD_REQUEST, Box::new(refusal)))
        })?;
        let form = Self { fields };
        let cookie = cookies::get(&headers, cookies::CSRF);
        if !csrf::matches(cookie.as_deref(), form.raw("csrf")) {
            tracing::info!("console: form refused, CSRF token missing or wrong");
            return Err(PageError::new(&frame, Kind::Csrf));
        }
        Ok(form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_values() {
        let form = CheckedForm {
            fields: vec![("password".into(), "hunter2".into()), ("csrf".into(), "abc".into())],
        };
        let shown = format!("{form:?}");
        assert!(shown.contains("password") && !shown.contains("hunter2") && !shown.contains("abc"));
        assert_eq!(form.get("password"), Some("hunter2"));
        assert_eq!(form.get("missing"), None);
    }
}
