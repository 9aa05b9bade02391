//! Depots (groups): the list (search by name, active / deactivated filter) with the create
//! form, a page per depot with the rename form, the deactivate button, the depot's own
//! limits and its drivers and vehicles. The same service methods as `/v1/groups`
//! (`list_groups`, `create_group`, `update_group`, `deactivate_group`). A depot that still
//! holds anything is refused (409 GROUP_NOT_EMPTY, naming what is left) and the refusal is
//! shown beside the button.

use super::cards::optional_id;
use super::{
    filter_form, form_error, html, limits, matches_search, parse_id, pickable, query_param,
    see_other, status_badge, with_status, PageResult, Refused, StateFilter,
};
use crate::error::{FormError, Kind, OrPage, PageError};
use crate::form::CheckedForm;
use crate::layout::csrf_field;
use crate::session::Viewer;
use crate::{Console, MOUNT};
use axum::extract::{Path, RawQuery, State};
use domain::controls::Level;
use domain::{GroupId, Role};
use issuing::views::GroupView;
use issuing::{CreateGroup, SubjectRef, UpdateGroup};
use maud::html;

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
    let groups = c.issuing.list_groups(&v.who).await.or_page(f)?;
    let name_of = |id: Option<GroupId>| {
        id.and_then(|p| groups.iter().find(|g| g.id == p)).map(|g| g.name.as_str())
    };
    let shown: Vec<&GroupView> = groups
        .iter()
        .filter(|g| state.keeps(g.status))
        .filter(|g| matches_search(search.as_deref(), &[&g.name]))
        .collect();
    let path = format!("{MOUNT}/groups");
    let typed_name = typed.and_then(|t| t.get("name")).unwrap_or_default();
    let typed_parent = typed.and_then(|t| t.get("parent_id")).unwrap_or_default();
    Ok(html(
        f,
        lang.t("groups.title"),
        html! {
            h1 { (lang.t("groups.title")) }
            section {
                (filter_form(f, &path, "groups", search.as_deref(), Some(state)))
                div.scroll #groups {
                    @if shown.is_empty() { p.muted { (lang.t("dir.none")) } }
                    @else {
                        table {
                            thead { tr {
                                th { (lang.t("dir.name")) }
                                th { (lang.t("groups.parent")) }
                                th { (lang.t("dir.created")) }
                                th { (lang.t("cards.status")) }
                            } }
                            tbody {
                                @for g in &shown {
                                    tr data-group=(g.id) {
                                        td { a href={ (MOUNT) "/groups/" (g.id) } { (g.name) } }
                                        td { (name_of(g.parent_id).unwrap_or("—")) }
                                        td { (super::short_time(&g.created_at)) }
                                        td { (status_badge(lang, g.status)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section #new-group {
                h2 { (lang.t("groups.create")) }
                form.stack method="post" action=(path) {
                    (csrf_field(f))
                    (form_error(error))
                    label { (lang.t("dir.name"))
                        input #group-name name="name" required maxlength="200" value=(typed_name); }
                    label { (lang.t("groups.parent"))
                        select #group-parent name="parent_id" {
                            @if v.who.role == Role::Owner { option value="" { (lang.t("groups.top")) } }
                            @for g in pickable(&groups, None) { option value=(g.id) selected[typed_parent == g.id.to_string()] { (g.name) } }
                        }
                    }
                    button #create-group type="submit" { (lang.t("groups.create.submit")) }
                }
            }
        },
    ))
}

pub async fn create(State(c): State<Console>, v: Viewer, form: CheckedForm) -> PageResult {
    let f = &v.frame;
    let made = async {
        let req = CreateGroup {
            name: form.get("name").unwrap_or_default().to_owned(),
            parent_id: optional_id(f, &form, "parent_id")?,
        };
        match c.issuing.create_group(&v.who, &req, None).await.or_page(f)? {
            issuing::Created::Fresh(group) => Ok(group),
            issuing::Created::Replayed { .. } => Err(PageError::new(f, Kind::Internal)),
        }
    };
    match made.await {
        Ok(group) => Ok(see_other(&format!("{MOUNT}/groups/{}", group.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_list(&c, &v, None, Some(&error), Some(&form)).await?;
            Ok(with_status(error.status, page))
        }
    }
}

async fn group(c: &Console, v: &Viewer, raw: &str) -> Result<GroupView, PageError> {
    let id: GroupId = parse_id(&v.frame, raw)?;
    c.issuing.get_group(&v.who, id).await.or_page(&v.frame)
}

pub async fn page(State(c): State<Console>, v: Viewer, Path(raw): Path<String>) -> PageResult {
    let g = group(&c, &v, &raw).await?;
    render_page(&c, &v, &g, Refused::None).await
}

async fn render_page(c: &Console, v: &Viewer, g: &GroupView, refused: Refused<'_>) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let drivers = c.issuing.list_users(&v.who, Some(Role::Driver)).await.or_page(f)?;
    let drivers: Vec<_> = drivers.iter().filter(|d| d.group_id == Some(g.id)).collect();
    let vehicles = c.issuing.list_vehicles(&v.who).await.or_page(f)?;
    let vehicles: Vec<_> = vehicles.iter().filter(|x| x.group_id == Some(g.id)).collect();
    let action = format!("{MOUNT}/groups/{}", g.id);
    let subject = SubjectRef { level: Level::Group, id: g.id.0 };
    // An admin's own depot is capped by the owner: its limits are shown, not editable.
    let access = if v.who.role == Role::Admin && v.who.group_id == Some(g.id) {
        limits::Access::ReadOnly
    } else {
        limits::Access::Edit
    };
    let limits_action = format!("{action}/limits");
    let limits = limits::panel(c, v, subject, &limits_action, access, refused.limits()).await?;
    Ok(html(
        f,
        lang.t("group.title"),
        html! {
            h1 { (lang.t("group.title")) " " span #group-name-shown { (g.name) } " " (status_badge(lang, g.status)) }
            div.grid {
                section #edit {
                    h2 { (lang.t("groups.rename")) }
                    form.stack method="post" action=(action) {
                        (csrf_field(f))
                        (form_error(refused.edit()))
                        label { (lang.t("dir.name"))
                            input #edit-name name="name" required maxlength="200" value=(g.name); }
                        button #save-group type="submit" { (lang.t("dir.save")) }
                    }
                }
                section #deactivate {
                    h2 { (lang.t("dir.deactivate")) }
                    (form_error(refused.deactivate()))
                    @if g.status == "deactivated" { p.muted { (lang.t("group.deactivated")) } }
                    @else {
                        form.stack method="post" action={ (action) "/deactivate" } {
                            (csrf_field(f))
                            p.muted { (lang.t("group.deactivate.hint")) }
                            button.danger #deactivate-group type="submit" { (lang.t("dir.deactivate")) }
                        }
                    }
                }
            }
            (limits)
            div.grid {
                section #group-drivers {
                    h2 { (lang.t("drivers.title")) }
                    @if drivers.is_empty() { p.muted { (lang.t("dir.none")) } }
                    @else { div.scroll { table { tbody {
                        @for d in &drivers {
                            tr data-driver=(d.id) {
                                td { a href={ (MOUNT) "/drivers/" (d.id) } { (d.name) } }
                                td { (status_badge(lang, d.status)) }
                            }
                        }
                    } } } }
                }
                section #group-vehicles {
                    h2 { (lang.t("vehicles.title")) }
                    @if vehicles.is_empty() { p.muted { (lang.t("dir.none")) } }
                    @else { div.scroll { table { tbody {
                        @for x in &vehicles {
                            tr data-vehicle=(x.id) {
                                td { a href={ (MOUNT) "/vehicles/" (x.id) } { (x.plate) } }
                                td { (status_badge(lang, x.status)) }
                            }
                        }
                    } } } }
                }
            }
        },
    ))
}

pub async fn update(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let g = group(&c, &v, &raw).await?;
    let req = UpdateGroup { name: form.get("name").unwrap_or_default().to_owned() };
    match c.issuing.update_group(&v.who, g.id, &req).await.or_page(&v.frame) {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/groups/{}", g.id))),
        Err(e) => {
            let error = e.into_inline()?;
            Ok(with_status(
                error.status,
                render_page(&c, &v, &g, Refused::Edit(&error, None)).await?,
            ))
        }
    }
}

/// Deactivates the depot when it holds nothing: it then takes no new drivers, vehicles,
/// cards or child depots, and leaves the pickers.
pub async fn deactivate(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    _form: CheckedForm,
) -> PageResult {
    let g = group(&c, &v, &raw).await?;
    match c.issuing.deactivate_group(&v.who, g.id).await.or_page(&v.frame) {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/groups/{}", g.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_page(&c, &v, &g, Refused::Deactivate(&error)).await?;
            Ok(with_status(error.status, page))
        }
    }
}

/// Sets the depot's own limits: they bind every card of the depot and of its child depots.
pub async fn set_limits(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let g = group(&c, &v, &raw).await?;
    let subject = SubjectRef { level: Level::Group, id: g.id.0 };
    match limits::save_level(&c, &v, subject, &form).await {
        Ok(()) => Ok(see_other(&format!("{MOUNT}/groups/{}", g.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_page(&c, &v, &g, Refused::Limits(&error, &form)).await?;
            Ok(with_status(error.status, page))
        }
    }
}
