//! The signed-in viewer. The `require` middleware turns the session cookies into an
//! [`issuing::Principal`] through the same `authenticate` the API's bearer extractor uses,
//! rotates an expired access token with the refresh cookie, sends everyone else to the
//! login page, and refuses roles the console is not for.

use crate::cookies::{self, SetCookies};
use crate::error::{self, Kind};
use crate::i18n::Lang;
use crate::layout::Frame;
use crate::{csrf, Console, MOUNT};
use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use domain::Role;
use issuing::auth::Refresh;
use issuing::Principal;

/// The caller of a signed-in page and how to frame its answer.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub who: Principal,
    pub frame: Frame,
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        // Only routes behind `require` use this extractor, so it is always there.
        parts.extensions.get::<Viewer>().cloned().ok_or_else(|| to_login(None))
    }
}

/// The frame of a page shown before login (login form, 404): language and CSRF token from
/// the cookies, a fresh token when there is none yet (the caller sets it).
pub fn anonymous_frame(headers: &HeaderMap, path: &str) -> (Frame, Option<String>) {
    let existing = cookies::get(headers, cookies::CSRF).filter(|t| t.len() == 64);
    let fresh = existing.is_none().then(csrf::new_token);
    let token = existing.or_else(|| fresh.clone()).unwrap_or_default();
    (Frame { lang: lang_of(headers), csrf: token, role: None, path: path.to_owned() }, fresh)
}

/// The path and query as the browser sent it: inside the nested router `uri()` has lost
/// the `/console` prefix, the `OriginalUri` extension has not.
pub fn original_path<B>(req: &axum::http::Request<B>) -> String {
    let uri = req.extensions().get::<OriginalUri>().map_or(req.uri(), |o| &o.0);
    uri.path_and_query().map_or(MOUNT.to_owned(), |p| p.as_str().to_owned())
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookies::get(headers, cookies::LANG).map_or(Lang::En, |c| Lang::from_code(&c))
}

/// To the login page; with `Some(secure)`, the dead session cookies are cleared too.
fn to_login(clear: Option<bool>) -> Response {
    let mut response = Redirect::to(&format!("{MOUNT}/login")).into_response();
    if let Some(secure) = clear {
        SetCookies::new(secure)
            .clear(cookies::SESSION)
            .clear(cookies::REFRESH)
            .apply(response.headers_mut());
    }
    response
}

/// The session middleware of every signed-in route.
pub async fn require(State(c): State<Console>, mut req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let access = cookies::get(&headers, cookies::SESSION);
    let refresh = cookies::get(&headers, cookies::REFRESH);
    let had_session = access.is_some() || refresh.is_some();
    let mut set = SetCookies::new(c.cookie_secure);
    let mut principal = None;
    if let Some(token) = &access {
        principal = c.issuing.authenticate(token).await.ok();
    }
    if principal.is_none() {
        // The access token is short-lived: when it has expired (or is gone), the refresh
        // token buys a new pair once, transparently.
        if let Some(refresh_token) = refresh {
            if let Ok(pair) = c.issuing.refresh(&Refresh { refresh_token }).await {
                principal = c.issuing.authenticate(&pair.access_token).await.ok();
                set = set
                    .session(cookies::SESSION, &pair.access_token)
                    .session(cookies::REFRESH, &pair.refresh_token);
            }
        }
    }
    let Some(who) = principal else {
        return to_login(had_session.then_some(c.cookie_secure));
    };
    let path = original_path(&req);
    let token = match cookies::get(&headers, cookies::CSRF).filter(|t| t.len() == 64) {
        Some(t) => t,
        None => {
            let t = csrf::new_token();
            set = set.session(cookies::CSRF, &t);
            t
        }
    };
    let frame = Frame { lang: lang_of(&headers), csrf: token, role: Some(who.role), path };
    let console_role = matches!(who.role, Role::Owner | Role::Admin | Role::FraudAnalyst);
    let logging_out = req.method() == Method::POST && req.uri().path().ends_with("/logout");
    let mut response = if console_role || logging_out {
        req.extensions_mut().insert(Viewer { who, frame });
        next.run(req).await
    } else {
        let frame = Frame { role: None, ..frame };
        error::render(&frame, &Kind::NotForRole)
    };
    set.apply(response.headers_mut());
    response
}
