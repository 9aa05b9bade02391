//! One module per page (or page family). Handlers take the [`Viewer`], call one service
//! method per piece of data exactly as the API does, and render with maud (escaped by
//! default). Forms post back and redirect (303), so everything works without JavaScript.

pub mod alert;
pub mod alerts;
pub mod card;
pub mod cards;
pub mod dashboard;
pub mod drivers;
pub mod errors;
mod fills;
pub mod groups;
mod limits;
pub mod login;
pub mod rules;
pub mod vehicles;

use crate::error::{FormError, PageError};
use crate::layout::{self, Frame};
use axum::http::StatusCode;
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

/// A page answered with another status (a form re-rendered with its error: 422 or 409).
pub fn with_status(status: StatusCode, page: Response) -> Response {
    (status, page).into_response()
}

/// The error of a refused form, shown inside the form it belongs to.
pub fn form_error(error: Option<&FormError>) -> Markup {
    maud::html! {
        @if let Some(e) = error {
            p.form-error role="alert" data-status=(e.status.as_u16()) {
                (e.message)
                // The service's own words beside a translation: the specifics (counts,
                // bounds, names) and what support will search for.
                @if let Some(said) = &e.original { " " span.muted lang="en" { "(" (said) ")" } }
            }
        }
    }
}

/// One query parameter, trimmed; `None` when absent or blank.
pub fn query_param(raw: Option<&str>, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> =
        raw.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    pairs
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether any of `haystack` contains the lower-cased `needle` (no needle: everything).
pub fn matches_search(needle: Option<&str>, haystack: &[&str]) -> bool {
    needle.is_none_or(|n| haystack.iter().any(|h| h.to_lowercase().contains(n)))
}

/// The list filter of drivers and vehicles: everyone, only active (invited included), or
/// only deactivated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    All,
    Active,
    Deactivated,
}

impl StateFilter {
    pub fn parse(frame: &Frame, raw: Option<&str>) -> Result<Self, PageError> {
        match raw {
            None => Ok(Self::All),
            Some("active") => Ok(Self::Active),
            Some("deactivated") => Ok(Self::Deactivated),
            Some(_) => Err(PageError::refused(frame, "state: must be active or deactivated")),
        }
    }

    pub fn keeps(self, status: &str) -> bool {
        match self {
            Self::All => true,
            Self::Active => status != "deactivated",
            Self::Deactivated => status == "deactivated",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::All => "",
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }
}

/// The search and state filter above a directory list. Without JavaScript a plain GET
/// form; with htmx the list (`#{target}`) is swapped as the user types.
pub fn filter_form(
    frame: &Frame,
    path: &str,
    target: &str,
    search: Option<&str>,
    state: Option<StateFilter>,
) -> Markup {
    let lang = frame.lang;
    let sel = format!("#{target}");
    maud::html! {
        form.inline id={ (target) "-filter" } method="get" action=(path)
            hx-get=(path) hx-target=(sel) hx-select=(sel)
            hx-swap="outerHTML" hx-push-url="true" hx-trigger="change" {
            @if let Some(state) = state {
                label { (lang.t("dir.state"))
                    select name="state" {
                        option value="" { (lang.t("cards.all")) }
                        @for s in [StateFilter::Active, StateFilter::Deactivated] {
                            option value=(s.code()) selected[state == s] { (lang.t(state_key(s))) }
                        }
                    }
                }
            }
            label { (lang.t("dir.search"))
                input.search type="search" name="q" value=(search.unwrap_or_default())
                    hx-get=(path) hx-target=(sel) hx-select=(sel) hx-swap="outerHTML"
                    hx-include="closest form" hx-push-url="true" hx-trigger="input changed delay:300ms, search"; }
            button type="submit" { (lang.t("cards.filter")) }
        }
    }
}

fn state_key(s: StateFilter) -> &'static str {
    match s {
        StateFilter::Active => "dir.state.active",
        _ => "dir.state.deactivated",
    }
}

/// Which form of a driver, vehicle or depot page a refusal belongs to, so it is shown
/// next to that form (with what was typed, where the form keeps it).
#[derive(Clone, Copy)]
pub enum Refused<'a> {
    None,
    Edit(&'a FormError, Option<&'a crate::form::CheckedForm>),
    Deactivate(&'a FormError),
    Limits(&'a FormError, &'a crate::form::CheckedForm),
}

impl<'a> Refused<'a> {
    pub fn edit(self) -> Option<&'a FormError> {
        match self {
            Self::Edit(e, _) => Some(e),
            _ => None,
        }
    }

    pub fn edit_typed(self) -> Option<&'a crate::form::CheckedForm> {
        match self {
            Self::Edit(_, typed) => typed,
            _ => None,
        }
    }

    pub fn deactivate(self) -> Option<&'a FormError> {
        match self {
            Self::Deactivate(e) => Some(e),
            _ => None,
        }
    }

    pub fn limits(self) -> Option<(&'a FormError, &'a crate::form::CheckedForm)> {
        match self {
            Self::Limits(e, typed) => Some((e, typed)),
            _ => None,
        }
    }
}

/// The depots a picker offers: the active ones, plus `current` (where the object is now),
/// so an edit form still names a deactivated depot the object sits in. A deactivated depot
/// takes nothing new; offering it would only lead to a GROUP_DEACTIVATED refusal.
pub fn pickable(
    groups: &[issuing::views::GroupView],
    current: Option<domain::GroupId>,
) -> impl Iterator<Item = &issuing::views::GroupView> {
    groups.iter().filter(move |g| g.status == "active" || Some(g.id) == current)
}

/// A user's or vehicle's status as a badge (`invited`, `active`, `deactivated`).
pub fn status_badge(lang: crate::i18n::Lang, status: &str) -> Markup {
    let text = match status {
        "invited" => lang.t("dir.status.invited"),
        "active" => lang.t("dir.status.active"),
        _ => lang.t("dir.status.deactivated"),
    };
    maud::html! { span class={ "badge s-" (status) } data-status=(status) { (text) } }
}
