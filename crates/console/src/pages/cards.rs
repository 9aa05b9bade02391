//! The card list (status, driver, last four digits; filter by status) and the issue form.

use super::{form_error, html, query_param, see_other, with_status, PageResult};
use crate::error::{FormError, Kind, OrPage, PageError};
use crate::form::CheckedForm;
use crate::i18n::Lang;
use crate::layout::{csrf_field, Frame};
use crate::session::Viewer;
use crate::{Console, MOUNT};
use axum::extract::{RawQuery, State};
use domain::{CardStatus, Role};
use issuing::views::{GroupView, UserView, VehicleView};
use issuing::IssueCard;
use maud::{html, Markup};
use std::collections::HashMap;

/// The depots, drivers and vehicles the viewer may pick from (the services' own lists).
pub struct Directory {
    pub groups: Vec<GroupView>,
    pub drivers: Vec<UserView>,
    pub vehicles: Vec<VehicleView>,
}

impl Directory {
    pub async fn load(c: &Console, v: &Viewer) -> Result<Self, PageError> {
        let f = &v.frame;
        Ok(Self {
            groups: c.issuing.list_groups(&v.who).await.or_page(f)?,
            drivers: c.issuing.list_users(&v.who, Some(Role::Driver)).await.or_page(f)?,
            vehicles: c.issuing.list_vehicles(&v.who).await.or_page(f)?,
        })
    }

    pub fn driver_names(&self) -> HashMap<domain::UserId, &str> {
        self.drivers.iter().map(|d| (d.id, d.name.as_str())).collect()
    }

    pub fn plates(&self) -> HashMap<domain::VehicleId, &str> {
        self.vehicles.iter().map(|x| (x.id, x.plate.as_str())).collect()
    }
}

pub fn status_label(lang: Lang, status: CardStatus) -> &'static str {
    match status {
        CardStatus::Active => lang.t("status.active"),
        CardStatus::Suspended => lang.t("status.suspended"),
        CardStatus::Blocked => lang.t("status.blocked"),
        CardStatus::Closed => lang.t("status.closed"),
    }
}

pub async fn list(State(c): State<Console>, v: Viewer, RawQuery(q): RawQuery) -> PageResult {
    render_list(&c, &v, q.as_deref(), None).await
}

/// The list; with `refused`, the issue form shows the refusal and keeps the choices made.
async fn render_list(
    c: &Console,
    v: &Viewer,
    q: Option<&str>,
    refused: Option<(&FormError, &CheckedForm)>,
) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let status_text = query_param(q, "status");
    // Search narrows what the service listed (last four digits, driver, depot); it never
    // widens it.
    let search = query_param(q, "q").map(|s| s.to_lowercase());
    let status = match &status_text {
        None => None,
        Some(s) => Some(
            s.parse::<CardStatus>().map_err(|()| PageError::refused(f, "unknown card status"))?,
        ),
    };
    let cards = c.issuing.list_cards(&v.who, status).await.or_page(f)?;
    let dir = Directory::load(c, v).await?;
    let names = dir.driver_names();
    let groups: HashMap<_, _> = dir.groups.iter().map(|g| (g.id, g.name.as_str())).collect();
    let cards: Vec<_> = cards
        .into_iter()
        .filter(|card| {
            let Some(needle) = &search else { return true };
            let driver = card.driver_id.and_then(|d| names.get(&d).copied()).unwrap_or_default();
            let group = card.group_id.and_then(|g| groups.get(&g).copied()).unwrap_or_default();
            [card.pan_last4.as_str(), driver, group]
                .iter()
                .any(|h| h.to_lowercase().contains(needle.as_str()))
        })
        .collect();
    Ok(html(
        f,
        lang.t("cards.title"),
        html! {
            h1 { (lang.t("cards.title")) }
            section {
                // Without JavaScript this is a plain GET form; htmx swaps only the table.
                form.inline method="get" action={ (MOUNT) "/cards" }
                    hx-get={ (MOUNT) "/cards" } hx-target="#cards" hx-select="#cards"
                    hx-swap="outerHTML" hx-push-url="true" hx-trigger="change" {
                    label { (lang.t("cards.status"))
                        select name="status" {
                            option value="" { (lang.t("cards.all")) }
                            @for s in [CardStatus::Active, CardStatus::Suspended, CardStatus::Blocked, CardStatus::Closed] {
                                option value=(s.as_str()) selected[status == Some(s)] { (status_label(lang, s)) }
                            }
                        }
                    }
                    label { (lang.t("cards.search"))
                        input #card-search type="search" name="q" value=(search.clone().unwrap_or_default())
                            hx-get={ (MOUNT) "/cards" } hx-target="#cards" hx-select="#cards" hx-swap="outerHTML"
                            hx-include="closest form" hx-push-url="true" hx-trigger="input changed delay:300ms, search"; }
                    button type="submit" { (lang.t("cards.filter")) }
                }
                div.scroll #cards {
                    @if cards.is_empty() { p.muted { (lang.t("cards.none")) } }
                    @else {
                        table {
                            thead { tr {
                                th { (lang.t("cards.last4")) }
                                th { (lang.t("cards.status")) }
                                th { (lang.t("cards.driver")) }
                                th { (lang.t("cards.group")) }
                                th { (lang.t("cards.expiry")) }
                            } }
                            tbody {
                                @for card in &cards {
                                    tr data-card=(card.id) {
                                        td { a href={ (MOUNT) "/cards/" (card.id) } { "•••• " (card.pan_last4) } }
                                        td { span class={ "badge s-" (card.status.as_str()) } { (status_label(lang, card.status)) } }
                                        td { (card.driver_id.and_then(|d| names.get(&d).copied()).unwrap_or("—")) }
                                        td { (card.group_id.and_then(|g| groups.get(&g).copied()).unwrap_or("—")) }
                                        td { (card.expiry) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section #issue {
                h2 { (lang.t("cards.issue")) }
                (issue_form(f, &dir, refused))
            }
        },
    ))
}

fn issue_form(f: &Frame, dir: &Directory, refused: Option<(&FormError, &CheckedForm)>) -> Markup {
    let lang = f.lang;
    let chosen = |name: &str| refused.and_then(|r| r.1.get(name)).unwrap_or_default().to_owned();
    let (group, driver, vehicle) = (chosen("group_id"), chosen("driver_id"), chosen("vehicle_id"));
    html! {
        form.inline method="post" action={ (MOUNT) "/cards" } {
            (csrf_field(f))
            (form_error(refused.map(|r| r.0)))
            label { (lang.t("cards.group"))
                select name="group_id" {
                    option value="" { (lang.t("cards.nobody")) }
                    @for g in super::pickable(&dir.groups, None) { option value=(g.id) selected[group == g.id.to_string()] { (g.name) } }
                }
            }
            label { (lang.t("cards.driver"))
                select name="driver_id" {
                    option value="" { (lang.t("cards.nobody")) }
                    @for d in &dir.drivers { option value=(d.id) selected[driver == d.id.to_string()] { (d.name) " <" (d.email) ">" } }
                }
            }
            label { (lang.t("cards.vehicle"))
                select name="vehicle_id" {
                    option value="" { (lang.t("cards.nobody")) }
                    @for x in &dir.vehicles { option value=(x.id) selected[vehicle == x.id.to_string()] { (x.plate) } }
                }
            }
            button #issue-card type="submit" { (lang.t("cards.issue.submit")) }
        }
    }
}

/// An optional id field: blank is `None`, garbage is a 422 naming the field.
pub fn optional_id<T: std::str::FromStr>(
    f: &Frame,
    form: &CheckedForm,
    name: &str,
) -> Result<Option<T>, PageError> {
    form.get(name)
        .map(|raw| {
            raw.parse().map_err(|_| PageError::refused(f, format!("{name}: must be a UUID")))
        })
        .transpose()
}

pub async fn issue(State(c): State<Console>, v: Viewer, form: CheckedForm) -> PageResult {
    let made = async {
        let f = &v.frame;
        let req = IssueCard {
            group_id: optional_id(f, &form, "group_id")?,
            driver_id: optional_id(f, &form, "driver_id")?,
            vehicle_id: optional_id(f, &form, "vehicle_id")?,
        };
        match c.issuing.issue_card(&v.who, &req, None).await.or_page(f)? {
            issuing::Created::Fresh(card) => Ok(card),
            // No idempotency key is sent from a form, so a replay cannot happen.
            issuing::Created::Replayed { .. } => Err(PageError::new(f, Kind::Internal)),
        }
    };
    match made.await {
        Ok(card) => Ok(see_other(&format!("{MOUNT}/cards/{}", card.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_list(&c, &v, None, Some((&error, &form))).await?;
            Ok(with_status(error.status, page))
        }
    }
}
