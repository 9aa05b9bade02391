//! Login, logout and the language switch.
//!
//! The login form carries a CSRF token too (set in a cookie when the form is shown), so
//! another site cannot log a browser into an account of its choosing. A successful login
//! stores the access token and the refresh token in HttpOnly cookies and starts a fresh
//! CSRF token.

use super::{html, see_other, PageResult};
use crate::cookies::{self, SetCookies};
use crate::error::PageError;
use crate::form::CheckedForm;
use crate::i18n::Lang;
use crate::layout::{csrf_field, Frame};
use crate::session::{self, Viewer};
use crate::{csrf, Console, MOUNT};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use issuing::auth::Login;

fn login_page(frame: &Frame, failed: bool) -> Response {
    let lang = frame.lang;
    html(
        frame,
        lang.t("login.title"),
        maud::html! {
            section.login {
                h1 { (lang.t("login.title")) }
                @if failed { p.hit #login-error { (lang.t("login.failed")) } }
                form.stack method="post" action={ (MOUNT) "/login" } {
                    (csrf_field(frame))
                    label { (lang.t("login.email"))
                        input #email type="email" name="email" autocomplete="username" required; }
                    label { (lang.t("login.password"))
                        input #password type="password" name="password" autocomplete="current-password" required; }
                    button #login type="submit" { (lang.t("login.submit")) }
                }
            }
        },
    )
}

pub async fn form(State(c): State<Console>, headers: HeaderMap) -> Response {
    let (frame, fresh) = session::anonymous_frame(&headers, &format!("{MOUNT}/login"));
    let mut response = login_page(&frame, false);
    if let Some(token) = fresh {
        SetCookies::new(c.cookie_secure)
            .session(cookies::CSRF, &token)
            .apply(response.headers_mut());
    }
    response
}

pub async fn submit(State(c): State<Console>, headers: HeaderMap, form: CheckedForm) -> Response {
    let (frame, _) = session::anonymous_frame(&headers, &format!("{MOUNT}/login"));
    let req = Login {
        email: form.get("email").unwrap_or_default().to_owned(),
        password: form.raw("password").unwrap_or_default().to_owned(),
    };
    match c.issuing.login(&req).await {
        Ok(pair) => {
            // The page language becomes the one stored on the user (chosen in another
            // browser, or through `PATCH /v1/me`).
            let who = match c.issuing.authenticate(&pair.access_token).await {
                Ok(who) => who,
                Err(e) => return PageError::new(&frame, crate::error::kind_of(e)).into_response(),
            };
            let me = match c.issuing.me(&who).await {
                Ok(me) => me,
                Err(e) => return PageError::new(&frame, crate::error::kind_of(e)).into_response(),
            };
            let mut response = see_other(MOUNT);
            SetCookies::new(c.cookie_secure)
                .session(cookies::SESSION, &pair.access_token)
                .session(cookies::REFRESH, &pair.refresh_token)
                .session(cookies::CSRF, &csrf::new_token())
                .persistent_lang(me.language.as_str())
                .apply(response.headers_mut());
            response
        }
        Err(issuing::IssuingError::Unauthenticated(_)) => {
            let mut response = login_page(&frame, true);
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
        Err(e) => PageError::new(&frame, crate::error::kind_of(e)).into_response(),
    }
}

/// Revokes the session (access and refresh token) and clears the cookies.
pub async fn logout(State(c): State<Console>, v: Viewer, _form: CheckedForm) -> PageResult {
    if let Err(e) = c.issuing.logout(&v.who).await {
        return Err(PageError::new(&v.frame, crate::error::kind_of(e)));
    }
    let mut response = see_other(&format!("{MOUNT}/login"));
    SetCookies::new(c.cookie_secure)
        .clear(cookies::SESSION)
        .clear(cookies::REFRESH)
        .clear(cookies::CSRF)
        .apply(response.headers_mut());
    Ok(response)
}

/// Stores the language in a cookie and, when someone is signed in, on their user (so it
/// follows them to another browser), then goes back where the switch was pressed.
pub async fn set_lang(
    State(c): State<Console>,
    headers: HeaderMap,
    form: CheckedForm,
) -> PageResult {
    let lang = Lang::from_code(form.get("lang").unwrap_or_default());
    // Signed in with a live access token: the choice is the user's. (An expired access
    // token is not refreshed here; the cookie still holds the choice for this browser.)
    if let Some(token) = cookies::get(&headers, cookies::SESSION) {
        if let Ok(who) = c.issuing.authenticate(&token).await {
            let language = match lang {
                Lang::En => domain::Language::En,
                Lang::Ru => domain::Language::Ru,
            };
            if let Err(e) = c.issuing.set_my_language(&who, language).await {
                let (frame, _) = session::anonymous_frame(&headers, MOUNT);
                return Err(PageError::new(&frame, crate::error::kind_of(e)));
            }
        }
    }
    // Only paths inside the console: never an open redirect to another site.
    let next = form
        .get("next")
        .filter(|n| n.starts_with(MOUNT) && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or(MOUNT);
    let mut response = see_other(next);
    SetCookies::new(c.cookie_secure).persistent_lang(lang.code()).apply(response.headers_mut());
    Ok(response)
}
