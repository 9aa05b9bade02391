//! Vehicles: the list (search by plate or depot, active / deactivated filter) with the
//! create form, a page per vehicle with the edit form, the deactivate button and the
//! vehicle's own limits. The same service methods as `/v1/vehicles`. Tank capacity is
//! typed in litres with up to three decimals and read as whole millilitres (integers
//! only).

use super::cards::optional_id;
use super::{
    filter_form, form_error, html, limits, matches_search, parse_id, query_param, see_other,
    status_badge, with_status, PageResult, Refused, StateFilter,
};
use crate::error::{FormError, Kind, OrPage, PageError};
use crate::form::CheckedForm;
use crate::layout::{csrf_field, Frame};
use crate::money;
use crate::session::Viewer;
use crate::{Console, MOUNT};
use axum::extract::{Path, RawQuery, State};
use domain::controls::Level;
use domain::{Product, VehicleId};
use issuing::views::{GroupView, VehicleView};
use issuing::{CreateVehicle, SubjectRef, UpdateVehicle};
use maud::{html, Markup};
use std::collections::HashMap;

/// `70000` ml → `"70"`, `70500` → `"70.5"` (litres, integer arithmetic).
fn litres(ml: i64) -> String {
    let text = money::input_value(ml, 3);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// What the vehicle forms show: the values typed (after a refusal) or the vehicle's own.
struct Values {
    plate: String,
    products: Vec<String>,
    tank: String,
    group: String,
}

impl Values {
    fn typed(form: &CheckedForm) -> Self {
        Self {
            plate: form.get("plate").unwrap_or_default().to_owned(),
            products: form.all("products").into_iter().map(str::to_owned).collect(),
            tank: form.get("tank_litres").unwrap_or_default().to_owned(),
            group: form.get("group_id").unwrap_or_default().to_owned(),
        }
    }

    fn of(v: &VehicleView) -> Self {
        Self {
            plate: v.plate.clone(),
            products: v.products.iter().map(|p| p.as_str().to_owned()).collect(),
            tank: litres(v.tank_capacity_ml),
            group: v.group_id.map(|g| g.to_string()).unwrap_or_default(),
        }
    }
}

fn fields(f: &Frame, groups: &[GroupView], values: Option<&Values>, blank_group: bool) -> Markup {
    let lang = f.lang;
    let plate = values.map(|x| x.plate.as_str()).unwrap_or_default();
    let tank = values.map(|x| x.tank.as_str()).unwrap_or_default();
    let group = values.map(|x| x.group.as_str()).unwrap_or_default();
    let has = |p: Product| values.is_some_and(|x| x.products.iter().any(|s| s == p.as_str()));
    html! {
        label { (lang.t("vehicles.plate"))
            input #vehicle-plate name="plate" required maxlength="16" value=(plate); }
        label { (lang.t("vehicles.tank"))
            input #vehicle-tank name="tank_litres" inputmode="decimal" required value=(tank); }
        label { (lang.t("cards.group"))
            select #vehicle-group name="group_id" {
                @if blank_group { option value="" { (lang.t("cards.nobody")) } }
                @for g in groups.iter().filter(|g| g.status == "active" || group == g.id.to_string()) {
                    option value=(g.id) selected[group == g.id.to_string()] { (g.name) }
                }
            }
        }
        fieldset.products {
            legend { (lang.t("vehicles.products")) }
            @for p in Product::ALL {
                label.choice { input type="checkbox" name="products" value=(p.as_str()) checked[has(p)]; (p.as_str()) }
            }
        }
    }
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
    let vehicles = c.issuing.list_vehicles(&v.who).await.or_page(f)?;
    let groups = c.issuing.list_groups(&v.who).await.or_page(f)?;
    let names: HashMap<_, _> = groups.iter().map(|g| (g.id, g.name.as_str())).collect();
    let depot = |x: &VehicleView| x.group_id.and_then(|g| names.get(&g).copied()).unwrap_or("—");
    let shown: Vec<&VehicleView> = vehicles
        .iter()
        .filter(|x| state.keeps(x.status))
        .filter(|x| matches_search(search.as_deref(), &[&x.plate, depot(x)]))
        .collect();
    let path = format!("{MOUNT}/vehicles");
    let typed = typed.map(Values::typed);
    Ok(html(
        f,
        lang.t("vehicles.title"),
        html! {
            h1 { (lang.t("vehicles.title")) }
            section {
                (filter_form(f, &path, "vehicles", search.as_deref(), Some(state)))
                div.scroll #vehicles {
                    @if shown.is_empty() { p.muted { (lang.t("dir.none")) } }
                    @else {
                        table {
                            thead { tr {
                                th { (lang.t("vehicles.plate")) }
                                th { (lang.t("vehicles.products")) }
                                th.num { (lang.t("vehicles.tank")) }
                                th { (lang.t("cards.group")) }
                                th { (lang.t("cards.status")) }
                            } }
                            tbody {
                                @for x in &shown {
                                    tr data-vehicle=(x.id) {
                                        td { a href={ (MOUNT) "/vehicles/" (x.id) } { (x.plate) } }
                                        td { (x.products.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")) }
                                        td.num { (litres(x.tank_capacity_ml)) }
                                        td { (depot(x)) }
                                        td { (status_badge(lang, x.status)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section #new-vehicle {
                h2 { (lang.t("vehicles.create")) }
                form.stack method="post" action=(path) {
                    (csrf_field(f))
                    (form_error(error))
                    (fields(f, &groups, typed.as_ref(), true))
                    button #create-vehicle type="submit" { (lang.t("vehicles.create.submit")) }
                }
            }
        },
    ))
}

fn tank_ml(f: &Frame, form: &CheckedForm) -> Result<Option<i64>, PageError> {
    money::parse(form.get("tank_litres").unwrap_or_default(), 3)
        .map_err(|_| PageError::refused(f, "tank_litres: litres, up to three decimals"))
}

fn products(f: &Frame, form: &CheckedForm) -> Result<Vec<Product>, PageError> {
    form.all("products")
        .into_iter()
        .map(|p| p.parse().map_err(|()| PageError::refused(f, "products: unknown product")))
        .collect()
}

pub async fn create(State(c): State<Console>, v: Viewer, form: CheckedForm) -> PageResult {
    let f = &v.frame;
    let made = async {
        let req = CreateVehicle {
            plate: form.get("plate").unwrap_or_default().to_owned(),
            products: products(f, &form)?,
            tank_capacity_ml: tank_ml(f, &form)?.unwrap_or(0),
            group_id: optional_id(f, &form, "group_id")?,
        };
        match c.issuing.create_vehicle(&v.who, &req, None).await.or_page(f)? {
            issuing::Created::Fresh(vehicle) => Ok(vehicle),
            issuing::Created::Replayed { .. } => Err(PageError::new(f, Kind::Internal)),
        }
    };
    match made.await {
        Ok(vehicle) => Ok(see_other(&format!("{MOUNT}/vehicles/{}", vehicle.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_list(&c, &v, None, Some(&error), Some(&form)).await?;
            Ok(with_status(error.status, page))
        }
    }
}

async fn vehicle(c: &Console, v: &Viewer, raw: &str) -> Result<VehicleView, PageError> {
    let id: VehicleId = parse_id(&v.frame, raw)?;
    c.issuing.get_vehicle(&v.who, id).await.or_page(&v.frame)
}

pub async fn page(State(c): State<Console>, v: Viewer, Path(raw): Path<String>) -> PageResult {
    let x = vehicle(&c, &v, &raw).await?;
    render_page(&c, &v, &x, Refused::None).await
}

async fn render_page(c: &Console, v: &Viewer, x: &VehicleView, refused: Refused<'_>) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let groups = c.issuing.list_groups(&v.who).await.or_page(f)?;
    let depot = x.group_id.and_then(|g| groups.iter().find(|d| d.id == g)).map(|d| d.name.as_str());
    let action = format!("{MOUNT}/vehicles/{}", x.id);
    let values = refused.edit_typed().map_or_else(|| Values::of(x), Values::typed);
    let subject = SubjectRef { level: Level::Vehicle, id: x.id.0 };
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
        lang.t("vehicle.title"),
        html! {
            h1 { (lang.t("vehicle.title")) " " (x.plate) " " (status_badge(lang, x.status)) }
            section.grid #vehicle-summary {
                div { div.muted { (lang.t("vehicles.tank")) } div #vehicle-tank-shown { (litres(x.tank_capacity_ml)) } }
                div { div.muted { (lang.t("vehicles.products")) } div { (x.products.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")) } }
                div { div.muted { (lang.t("cards.group")) } div { (depot.unwrap_or("—")) } }
                div { div.muted { (lang.t("dir.created")) } div { (super::short_time(&x.created_at)) } }
            }
            div.grid {
                section #edit {
                    h2 { (lang.t("dir.edit")) }
                    form.stack method="post" action=(action) {
                        (csrf_field(f))
                        (form_error(refused.edit()))
                        (fields(f, &groups, Some(&values), x.group_id.is_none()))
                        button #save-vehicle type="submit" { (lang.t("dir.save")) }
                    }
                }
                section #deactivate {
                    h2 { (lang.t("dir.deactivate")) }
                    (form_error(refused.deactivate()))
                    @if x.status == "deactivated" { p.muted { (lang.t("vehicle.deactivated")) } }
                    @else {
                        form.stack method="post" action={ (action) "/deactivate" } {
                            (csrf_field(f))
                            button.danger #deactivate-vehicle type="submit" { (lang.t("dir.deactivate")) }
                        }
                    }
                }
            }
            (limits)
        },
    ))
}

pub async fn update(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let x = vehicle(&c, &v, &raw).await?;
    let f = &v.frame;
    let change = async {
        let req = UpdateVehicle {
            plate: Some(form.get("plate").unwrap_or_default().to_owned()),
            products: Some(products(f, &form)?),
            tank_capacity_ml: Some(tank_ml(f, &form)?.unwrap_or(0)),
            group_id: optional_id(f, &form, "group_id")?,
        };
        c.issuing.update_vehicle(&v.who, x.id, &req).await.or_page(f)
    };
    match change.await {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/vehicles/{}", x.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_page(&c, &v, &x, Refused::Edit(&error, Some(&form))).await?;
            Ok(with_status(error.status, page))
        }
    }
}

pub async fn deactivate(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    _form: CheckedForm,
) -> PageResult {
    let x = vehicle(&c, &v, &raw).await?;
    match c.issuing.deactivate_vehicle(&v.who, x.id).await.or_page(&v.frame) {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/vehicles/{}", x.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_page(&c, &v, &x, Refused::Deactivate(&error)).await?;
            Ok(with_status(error.status, page))
        }
    }
}

/// Sets the vehicle's own limits: they bind every card bound to the vehicle.
pub async fn set_limits(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let x = vehicle(&c, &v, &raw).await?;
    let subject = SubjectRef { level: Level::Vehicle, id: x.id.0 };
    match limits::save_level(&c, &v, subject, &form).await {
        Ok(()) => Ok(see_other(&format!("{MOUNT}/vehicles/{}", x.id))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render_page(&c, &v, &x, Refused::Limits(&error, &form)).await?;
            Ok(with_status(error.status, page))
        }
    }
}
