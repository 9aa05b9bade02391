//! Drivers: the list (search, active / deactivated filter) with the invite form, a page per
//! driver with the edit form, the driver's own limits, the cards bound to them and the
//! deactivate button. The same service methods as `/v1/users` (`list_users`, `create_user`
//! with the driver role, `update_user`, `deactivate_user`), so an admin sees and changes
//! their depots' drivers only.

use super::cards::{optional_id, status_label};
use super::{
    filter_form, form_error, html, limits, matches_search, parse_id, pickable, query_param,
    see_other, status_badge, with_status, PageResult, Refused, StateFilter,
};
use crate::error::{FormError, Kind, OrPage, PageError};
use crate::form::CheckedForm;
use crate::layout::{csrf_field, Frame};
use crate::session::Viewer;
use crate::{Console, MOUNT};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use domain::controls::Level;
use domain::{Role, UserId};
use issuing::views::{GroupView, InvitedUserView, UserView};
use issuing::{CreateUser, SubjectRef, UpdateUser};
use maud::{html, Markup};
use std::collections::HashMap;

fn group_names(groups: &[GroupView]) -> HashMap<domain::GroupId, &str> {
    groups.iter().map(|g| (g.id, g.name.as_str())).collect()
}

pub async fn list(State(c): State<Console>, v: Viewer, RawQuery(q): RawQuery) -> PageResult {
    render_list(&c, &v, q.as_deref(), None, None).await
}

async fn render_list(
    c: &Console,
    v: &Viewer,
    query: Option<&str>,
    error: Option<&FormError>,
    typed: Option<&CheckedForm>,
) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let search = query_param(query, "q").map(|s| s.to_lowercase());
    let state = StateFilter::parse(f, query_param(query, "state").as_deref())?;
    let drivers = c.issuing.list_users(&v.who, Some(Role::Driver)).await.or_page(f)?;
    let groups = c.issuing.list_groups(&v.who).await.or_page(f)?;
    let names = group_names(&groups);
    let depot = |d: &UserView| d.group_id.and_then(|g| names.get(&g).copied()).unwrap_or("—");
    let shown: Vec<&UserView> = drivers
        .iter()
        .filter(|d| state.keeps(d.status))
        .filter(|d| matches_search(search.as_deref(), &[&d.name, &d.email, depot(d)]))
        .collect();
    let path = format!("{MOUNT}/drivers");
    Ok(html(
        f,
        lang.t("drivers.title"),
        html! {
            h1 { (lang.t("drivers.title")) }
            section {
                (filter_form(f, &path, "drivers", search.as_deref(), Some(state)))
                div.scroll #drivers {
                    @if shown.is_empty() { p.muted { (lang.t("dir.none")) } }
                    @else {
                        table {
                            thead { tr {
                                th { (lang.t("dir.name")) }
                                th { (lang.t("dir.email")) }
                                th { (lang.t("cards.group")) }
                                th { (lang.t("cards.status")) }
                            } }
                            tbody {
                                @for d in &shown {
                                    tr data-driver=(d.id) {
                                        td { a href={ (MOUNT) "/drivers/" (d.id) } { (d.name) } }
                                        td { (d.email) }
                                        td { (depot(d)) }
                                        td { (status_badge(lang, d.status)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section #invite {
                h2 { (lang.t("drivers.invite")) }
                (invite_form(f, &groups, error, typed))
            }
        },
    ))
}

fn invite_form(
    f: &Frame,
    groups: &[GroupView],
    error: Option<&FormError>,
    typed: Option<&CheckedForm>,
) -> Markup {
    let lang = f.lang;
    let typed_value = |name: &str| typed.and_then(|t| t.get(name)).unwrap_or_default().to_owned();
    let group = typed_value("group_id");
    html! {
        form.stack method="post" action={ (MOUNT) "/drivers" } {
            (csrf_field(f))
            (form_error(error))
            label { (lang.t("dir.name"))
                input #driver-name name="name" required maxlength="200" value=(typed_value("name")); }
            label { (lang.t("dir.email"))
                input #driver-email name="email" type="email" required value=(typed_value("email")); }
            label { (lang.t("cards.group"))
                select #driver-group name="group_id" {
                    option value="" { (lang.t("cards.nobody")) }
                    @for g in pickable(groups, None) { option value=(g.id) selected[group == g.id.to_string()] { (g.name) } }
                }
            }
            button #invite-driver type="submit" { (lang.t("drivers.invite.submit")) }
        }
    }
}

/// Creates the driver and shows the one-time invite token on the answer itself (200, never
/// stored, never in a URL, `no-store` so no cache keeps it).
pub async fn invite(State(c): State<Console>, v: Viewer, form: CheckedForm) -> PageResult {
    match create(&c, &v, &form).await {
        Ok(invited) => Ok(invited_page(&v.frame, &invited)),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_list(&c, &v, None, Some(&error), Some(&form)).await?;
            Ok(with_status(error.status, page))
        }
    }
}

async fn create(c: &Console, v: &Viewer, form: &CheckedForm) -> Result<InvitedUserView, PageError> {
    let f = &v.frame;
    let req = CreateUser {
        email: form.get("email").unwrap_or_default().to_owned(),
        name: form.get("name").unwrap_or_default().to_owned(),
        role: Role::Driver,
        group_id: optional_id(f, form, "group_id")?,
    };
    match c.issuing.create_user(&v.who, &req, None).await.or_page(f)? {
        issuing::Created::Fresh(invited) => Ok(invited),
        // No idempotency key is sent from a form, so a replay cannot happen.
        issuing::Created::Replayed { .. } => Err(PageError::new(f, Kind::Internal)),
    }
}

fn invited_page(f: &Frame, invited: &InvitedUserView) -> axum::response::Response {
    let lang = f.lang;
    let user = &invited.user;
    let page = html(
        f,
        lang.t("drivers.invited"),
        html! {
            h1 { (lang.t("drivers.invited")) }
            section #invited data-driver=(user.id) {
                p { strong { (user.name) } " <" (user.email) ">" }
                p { (lang.t("drivers.invite.once")) }
                @if let Some(token) = &invited.invite_token {
                    p { code #invite-token { (token) } }
                }
                p.muted { (lang.t("drivers.invite.expires")) " " (super::short_time(&invited.invite_expires_at)) " UTC" }
                p {
                    a #driver-link href={ (MOUNT) "/drivers/" (user.id) } { (lang.t("drivers.open")) }
                    " · "
                    a href={ (MOUNT) "/drivers" } { (lang.t("drivers.back")) }
                }
            }
        },
    );
    ([(header::CACHE_CONTROL, "no-store")], page).into_response()
}

/// The driver, or the 404 page when the id is not a driver the viewer may see (an owner
/// opening an admin's id here gets the same 404 as a made-up id).
async fn driver(c: &Console, v: &Viewer, raw: &str) -> Result<UserView, PageError> {
    let f = &v.frame;
    let id: UserId = parse_id(f, raw)?;
    let user = c.issuing.get_user(&v.who, id).await.or_page(f)?;
    if user.role == Role::Driver {
        Ok(user)
    } else {
        Err(PageError::new(f, Kind::NotFound))
    }
}

pub async fn page(State(c): State<Console>, v: Viewer, Path(raw): Path<String>) -> PageResult {
    let user = driver(&c, &v, &raw).await?;
    render_page(&c, &v, &user, Refused::None).await
}

async fn render_page(c: &Console, v: &Viewer, user: &UserView, refused: Refused<'_>) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let groups = c.issuing.list_groups(&v.who).await.or_page(f)?;
    let names = group_names(&groups);
    let cards = c.issuing.list_cards(&v.who, None).await.or_page(f)?;
    let cards: Vec<_> = cards.into_iter().filter(|card| card.driver_id == Some(user.id)).collect();
    let action = format!("{MOUNT}/drivers/{}", user.id);
    let deactivated = user.status == "deactivated";
    let subject = SubjectRef { level: Level::Driver, id: user.id.0 };
    let limits = limits::panel(
        c,
        v,
        subject,
        &format!("{action}/limits"),
        limits::Access::Edit,
        refused.limits(),
    )
    .await?;
    Ok(html(
        f,
        lang.t("driver.title"),
        html! {
            h1 { (lang.t("driver.title")) " " (user.name) " " (status_badge(lang, user.status)) }
            section.grid #driver-summary {
                div { div.muted { (lang.t("dir.email")) } div { (user.email) } }
                div { div.muted { (lang.t("cards.group")) } div #driver-group-name { (user.group_id.and_then(|g| names.get(&g).copied()).unwrap_or("—")) } }
                div { div.muted { (lang.t("dir.created")) } div { (super::short_time(&user.created_at)) } }
            }
            div.grid {
                section #edit {
                    h2 { (lang.t("dir.edit")) }
                    form.stack method="post" action=(action) {
                        (csrf_field(f))
                        (form_error(refused.edit()))
                        label { (lang.t("dir.name"))
                            input #edit-name name="name" required maxlength="200" value=(user.name); }
                        label { (lang.t("cards.group"))
                            select #edit-group name="group_id" {
                                // Blank keeps the driver where they are (the service cannot
                                // move a driver out of every depot).
                                @if user.group_id.is_none() { option value="" selected { (lang.t("cards.nobody")) } }
                                @for g in pickable(&groups, user.group_id) {
                                    option value=(g.id) selected[user.group_id == Some(g.id)] { (g.name) }
                                }
                            }
                        }
                        button #save-driver type="submit" { (lang.t("dir.save")) }
                    }
                }
                section #deactivate {
                    h2 { (lang.t("dir.deactivate")) }
                    (form_error(refused.deactivate()))
                    @if deactivated { p.muted { (lang.t("driver.deactivated")) } }
                    @else {
                        form.stack method="post" action={ (action) "/deactivate" } {
                            (csrf_field(f))
                            p.muted { (lang.t("driver.deactivate.hint")) }
                            button.danger #deactivate-driver type="submit" { (lang.t("dir.deactivate")) }
                        }
                    }
                }
            }
            (limits)
            section #driver-cards {
                h2 { (lang.t("driver.cards")) }
                @if cards.is_empty() { p.muted { (lang.t("cards.none")) } }
                @else {
                    div.scroll { table { tbody {
                        @for card in &cards {
                            tr data-card=(card.id) {
                                td { a href={ (MOUNT) "/cards/" (card.id) } { "•••• " (card.pan_last4) } }
                                td { span class={ "badge s-" (card.status.as_str()) } { (status_label(lang, card.status)) } }
                                td { (card.expiry) }
                            }
                        }
                    } } }
                }
            }
        },
    ))
}

/// Renames the driver or moves them to another depot.
pub async fn update(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let user = driver(&c, &v, &raw).await?;
    let f = &v.frame;
    let change = async {
        let req = UpdateUser {
            name: Some(form.get("name").unwrap_or_default().to_owned()),
            group_id: optional_id(f, &form, "group_id")?,
        };
        c.issuing.update_user(&v.who, user.id, &req).await.or_page(f)
    };
    match change.await {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/drivers/{}", user.id))),
        Err(e) => {
            let error = e.into_inline()?;
            Ok(with_status(
                error.status,
                render_page(&c, &v, &user, Refused::Edit(&error, None)).await?,
            ))
        }
    }
}

/// Deactivates the driver: they cannot log in and their sessions and phone tokens stop.
pub async fn deactivate(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    _form: CheckedForm,
) -> PageResult {
    let user = driver(&c, &v, &raw).await?;
    match c.issuing.deactivate_user(&v.who, user.id).await.or_page(&v.frame) {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/drivers/{}", user.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_page(&c, &v, &user, Refused::Deactivate(&error)).await?;
            Ok(with_status(error.status, page))
        }
    }
}

/// Sets the driver's own limits: they bind every card bound to the driver.
pub async fn set_limits(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let user = driver(&c, &v, &raw).await?;
    let subject = SubjectRef { level: Level::Driver, id: user.id.0 };
    match limits::save_level(&c, &v, subject, &form).await {
        Ok(()) => Ok(see_other(&format!("{MOUNT}/drivers/{}", user.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_page(&c, &v, &user, Refused::Limits(&error, &form)).await?;
            Ok(with_status(error.status, page))
        }
    }
}
