//! The card page (status, driver, vehicle, effective controls with the level each part
//! comes from, the card's own limits, recent fills, the audit timeline) and its forms:
//! bind / re-bind, change status with a reason, change the card's limits.

use super::cards::{optional_id, status_label, Directory};
use super::{
    fills, form_error, html, limits, parse_id, see_other, short_time, with_status, PageResult,
};
use crate::error::{FormError, OrPage, PageError};
use crate::form::CheckedForm;
use crate::i18n::Lang;
use crate::layout::{csrf_field, Frame};
use crate::money;
use crate::session::Viewer;
use crate::{Console, MOUNT};
use authorizer::views::AuthorizationQuery;
use authorizer::LimitsLeft;
use axum::extract::{Path, State};
use domain::controls::{
    ClockTime, Controls, Level, LevelRef, Sourced, TimeWindow, Weekday, MAX_TIME_WINDOWS,
};
use domain::{CardId, CardStatus, Currency, Product};
use issuing::views::{CardView, EffectiveControlsView, EventView};
use issuing::{BindCard, ChangeCardStatus, SubjectRef};
use maud::{html, Markup};

/// Names for the levels a control can come from, so the page says "Depot North" rather
/// than a UUID.
struct Names<'a> {
    dir: &'a Directory,
}

impl Names<'_> {
    fn level(&self, lang: Lang, source: &LevelRef) -> String {
        let name = match source.level {
            Level::Group => {
                self.dir.groups.iter().find(|g| g.id.0 == source.id).map(|g| g.name.clone())
            }
            Level::Driver => {
                self.dir.drivers.iter().find(|d| d.id.0 == source.id).map(|d| d.name.clone())
            }
            Level::Vehicle => {
                self.dir.vehicles.iter().find(|x| x.id.0 == source.id).map(|x| x.plate.clone())
            }
            Level::Org | Level::Card => None,
        };
        let _ = lang;
        match name {
            Some(n) => format!("{} · {n}", source.level.as_str()),
            None => source.level.as_str().to_owned(),
        }
    }
}

pub async fn page(State(c): State<Console>, v: Viewer, Path(raw): Path<String>) -> PageResult {
    let id: CardId = parse_id(&v.frame, &raw)?;
    render(&c, &v, id, None).await
}

/// Which of the card's forms a refusal belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CardForm {
    Limits,
    Restrictions,
    Windows,
    Binding,
    Status,
}

/// The card page; with `refused`, that form shows the refusal and the values typed instead
/// of the stored ones.
async fn render(
    c: &Console,
    v: &Viewer,
    id: CardId,
    refused: Option<(CardForm, &FormError, &CheckedForm)>,
) -> PageResult {
    let on = |which: CardForm| refused.filter(|r| r.0 == which).map(|r| (r.1, r.2));
    let f = &v.frame;
    let lang = f.lang;
    let card = c.issuing.get_card(&v.who, id).await.or_page(f)?;
    let effective = c.issuing.effective_controls(&v.who, id).await.or_page(f)?;
    let own = c
        .issuing
        .get_controls(&v.who, SubjectRef { level: Level::Card, id: id.0 })
        .await
        .or_page(f)?;
    let recent = AuthorizationQuery { card_id: Some(id), limit: Some(20), ..Default::default() };
    let card_fills = c.authorizer.search_authorizations(&v.who, &recent).await.or_page(f)?;
    let mut events = c.issuing.card_events(&v.who, id).await.or_page(f)?;
    events.sort_by(|a, b| b.at.cmp(&a.at));
    let left = c.authorizer.card_limits_left(&v.who, id).await.or_page(f)?;
    let dir = Directory::load(c, v).await?;
    let names = Names { dir: &dir };
    let driver = card.driver_id.and_then(|d| dir.driver_names().get(&d).map(|s| (*s).to_owned()));
    let plate = card.vehicle_id.and_then(|x| dir.plates().get(&x).map(|s| (*s).to_owned()));
    let cur = effective.currency;
    Ok(html(
        f,
        lang.t("card.title"),
        html! {
            h1 { (lang.t("card.title")) " •••• " (card.pan_last4) " "
                span #card-status class={ "badge s-" (card.status.as_str()) } { (status_label(lang, card.status)) } }
            section.grid #card-summary {
                div { div.muted { (lang.t("cards.driver")) } div #card-driver { (driver.as_deref().unwrap_or("—")) } }
                div { div.muted { (lang.t("cards.vehicle")) } div #card-vehicle { (plate.as_deref().unwrap_or("—")) } }
                div { div.muted { (lang.t("cards.expiry")) } div { (card.expiry) } }
                div { div.muted { (lang.t("card.reason")) } div { (card.status_reason.as_deref().unwrap_or("—")) } }
            }
            section #controls {
                h2 { (lang.t("card.controls")) }
                (effective_table(lang, &effective, &names, cur))
            }
            section #limits-left {
                h2 { (lang.t("left.title")) }
                (limits_left(lang, &left))
            }
            div.grid {
                section #limits { h2 { (lang.t("card.limits")) } (limits::form(f, &format!("{MOUNT}/cards/{}/limits", card.id), &own.controls, cur, lang.t("card.limits.hint"), on(CardForm::Limits))) }
                section #restrictions { h2 { (lang.t("card.restrictions")) } (restrictions_form(f, &card, &own.controls, on(CardForm::Restrictions))) }
                section #windows { h2 { (lang.t("card.windows")) } (windows_form(f, &card, &own.controls, on(CardForm::Windows))) }
                section { h2 { (lang.t("card.binding")) } (binding_form(f, &card, &dir, on(CardForm::Binding).map(|r| r.0))) }
                section { h2 { (lang.t("card.status_change")) } (status_form(f, &card, on(CardForm::Status).map(|r| r.0))) }
            }
            section #fills {
                h2 { (lang.t("card.fills")) }
                (fills::table(lang, &card_fills, Some(cur), false))
            }
            section #timeline {
                h2 { (lang.t("card.timeline")) }
                (timeline(&events))
            }
        },
    ))
}

fn effective_table(
    lang: Lang,
    e: &EffectiveControlsView,
    names: &Names<'_>,
    cur: Currency,
) -> Markup {
    let eff = &e.effective;
    #[derive(Clone, Copy)]
    enum Unit {
        Money,
        Litres,
        Count,
    }
    let shown = |s: &Sourced<i64>, unit: Unit| match unit {
        Unit::Money => money::show(s.value, cur),
        Unit::Litres => format!("{} l", money::input_value(s.value, 3)),
        Unit::Count => s.value.to_string(),
    };
    type Row<'a> = (&'static str, Option<&'a Sourced<i64>>, Unit);
    let rows: [Row<'_>; 11] = [
        ("limit.per_authorization", eff.per_authorization.amount.as_ref(), Unit::Money),
        ("limit.daily", eff.daily.amount.as_ref(), Unit::Money),
        ("limit.daily_count", eff.daily.count.as_ref(), Unit::Count),
        ("limit.weekly", eff.weekly.amount.as_ref(), Unit::Money),
        ("limit.monthly", eff.monthly.amount.as_ref(), Unit::Money),
        ("limit.per_authorization_litres", eff.per_authorization.volume_ml.as_ref(), Unit::Litres),
        ("limit.daily_litres", eff.daily.volume_ml.as_ref(), Unit::Litres),
        ("limit.weekly_litres", eff.weekly.volume_ml.as_ref(), Unit::Litres),
        ("limit.monthly_litres", eff.monthly.volume_ml.as_ref(), Unit::Litres),
        ("limit.weekly_count", eff.weekly.count.as_ref(), Unit::Count),
        ("limit.monthly_count", eff.monthly.count.as_ref(), Unit::Count),
    ];
    let sources = |list: &[LevelRef]| {
        list.iter().map(|s| names.level(lang, s)).collect::<Vec<_>>().join(", ")
    };
    let any = rows.iter().any(|r| r.1.is_some())
        || eff.allowed_products.is_some()
        || eff.allowed_stations.is_some()
        || eff.blocked_stations.is_some()
        || eff.time_windows.is_some();
    html! {
        @if !any { p.muted { (lang.t("card.controls.none")) } }
        @else {
            div.scroll { table {
                thead { tr { th {} th { "" } th { (lang.t("card.controls.source")) } } }
                tbody {
                    @for (key, value, unit) in rows {
                        @if let Some(s) = value {
                            tr data-limit=(key) {
                                th { (lang.t(key)) }
                                td.num { (shown(s, unit)) }
                                td { (names.level(lang, &s.source)) }
                            }
                        }
                    }
                    @if let Some(p) = &eff.allowed_products {
                        tr { th { (lang.t("limit.products")) }
                            td { (p.value.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { (sources(&p.sources)) } }
                    }
                    @if let Some(s) = &eff.allowed_stations {
                        tr { th { (lang.t("limit.stations")) }
                            td { (s.value.iter().cloned().collect::<Vec<_>>().join(", ")) }
                            td { (sources(&s.sources)) } }
                    }
                    @if let Some(s) = &eff.blocked_stations {
                        tr { th { (lang.t("limit.blocked_stations")) }
                            td { (s.value.iter().cloned().collect::<Vec<_>>().join(", ")) }
                            td { (sources(&s.sources)) } }
                    }
                    @if let Some(w) = &eff.time_windows {
                        tr { th { (lang.t("limit.time_windows")) }
                            td { (w.value.iter().map(|d| format!("{:?} {}–{}", d.day, d.start, d.end)).collect::<Vec<_>>().join(", ")) }
                            td { (sources(&w.sources)) } }
                    }
                }
            } }
        }
    }
}

/// Used and left of each period limit as a `<meter>` with the numbers as text.
fn limits_left(lang: Lang, left: &LimitsLeft) -> Markup {
    let cur = left.currency;
    let periods = [
        ("day", "left.day", &left.day),
        ("week", "left.week", &left.week),
        ("month", "left.month", &left.month),
    ];
    let any = periods.iter().any(|(_, _, p)| {
        p.amount.limit.is_some() || p.volume_ml.limit.is_some() || p.count.limit.is_some()
    });
    let amount = |m: i64| money::show(m, cur);
    let litres = |ml: i64| money::input_value(ml, 3);
    let count = |n: i64| n.to_string();
    html! {
        @if !any { p.muted { (lang.t("left.none")) } }
        @else {
            div.grid {
                @for (code, key, p) in periods {
                    @if p.amount.limit.is_some() || p.volume_ml.limit.is_some() || p.count.limit.is_some() {
                    div data-period=(code) {
                        h3 { (lang.t(key)) }
                        @for (measure, label, gauge, show) in [
                            ("amount", "left.amount", p.amount, &amount as &dyn Fn(i64) -> String),
                            ("volume_ml", "left.volume", p.volume_ml, &litres),
                            ("count", "left.count", p.count, &count),
                        ] {
                            @if let (Some(limit), Some(rest), Some(pct)) = (gauge.limit, gauge.left(), gauge.percent_used()) {
                                div.left-row data-measure=(measure) data-used=(gauge.used)
                                    data-limit=(limit) data-left=(rest) data-percent=(pct) {
                                    span { (lang.t(label)) }
                                    meter min="0" max=(limit.max(1)) value=(gauge.used.clamp(0, limit.max(1)))
                                        aria-label={ (lang.t(key)) ", " (lang.t(label)) ": " (pct) "% " (lang.t("left.used")) } {
                                        (pct) "%"
                                    }
                                    span.nums { (lang.t("left.used")) " " (show(gauge.used)) " " (lang.t("left.of")) " " (show(limit))
                                        " · " (lang.t("left.left")) " " strong.left { (show(rest)) } }
                                }
                            }
                        }
                    }
                    }
                }
            }
        }
    }
}

/// The card's own product and station restrictions. No product ticked and blank station
/// lists mean the card level sets none (the depot's, driver's or vehicle's still apply).
fn restrictions_form(
    f: &Frame,
    card: &CardView,
    own: &Controls,
    refused: Option<(&FormError, &CheckedForm)>,
) -> Markup {
    let lang = f.lang;
    let (error, typed) = (refused.map(|r| r.0), refused.map(|r| r.1));
    let ticked = |p: Product| match typed {
        Some(t) => t.all("products").contains(&p.as_str()),
        None => own.allowed_products.as_ref().is_some_and(|list| list.contains(&p)),
    };
    let stations = |name: &str, stored: &Option<Vec<String>>| match typed {
        Some(t) => t.get(name).unwrap_or_default().to_owned(),
        None => stored.as_ref().map(|l| l.join(", ")).unwrap_or_default(),
    };
    html! {
        form.stack method="post" action={ (MOUNT) "/cards/" (card.id) "/restrictions" } {
            (csrf_field(f))
            (form_error(error))
            p.muted { (lang.t("card.restrictions.hint")) }
            fieldset.products {
                legend { (lang.t("limit.products")) }
                @for p in Product::ALL {
                    label.choice { input type="checkbox" name="products" value=(p.as_str()) checked[ticked(p)]; (p.as_str()) }
                }
            }
            label { (lang.t("limit.stations"))
                input #allowed-stations name="allowed_stations" value=(stations("allowed_stations", &own.allowed_stations)); }
            label { (lang.t("limit.blocked_stations"))
                input #blocked-stations name="blocked_stations" value=(stations("blocked_stations", &own.blocked_stations)); }
            button #save-restrictions type="submit" { (lang.t("card.limits.submit")) }
        }
    }
}

/// The code a weekday has in controls (`mon` .. `sun`) and its label key.
fn day_code(day: Weekday) -> (&'static str, &'static str) {
    match day {
        Weekday::Mon => ("mon", "day.mon"),
        Weekday::Tue => ("tue", "day.tue"),
        Weekday::Wed => ("wed", "day.wed"),
        Weekday::Thu => ("thu", "day.thu"),
        Weekday::Fri => ("fri", "day.fri"),
        Weekday::Sat => ("sat", "day.sat"),
        Weekday::Sun => ("sun", "day.sun"),
    }
}

/// The card's own time windows: one row per stored window and an empty row to add one
/// (fields `days_{i}`, repeated, `start_{i}` and `end_{i}` as HH:MM). A row left blank is
/// dropped; all rows blank removes the card's windows (other levels' still apply).
fn windows_form(
    f: &Frame,
    card: &CardView,
    own: &Controls,
    refused: Option<(&FormError, &CheckedForm)>,
) -> Markup {
    let lang = f.lang;
    let (error, typed) = (refused.map(|r| r.0), refused.map(|r| r.1));
    let stored: &[TimeWindow] = own.time_windows.as_deref().unwrap_or_default();
    let rows = (stored.len() + 1).min(MAX_TIME_WINDOWS);
    let ticked = |i: usize, day: Weekday| match typed {
        Some(t) => t.all(&format!("days_{i}")).contains(&day_code(day).0),
        None => stored.get(i).is_some_and(|w| w.days.contains(&day)),
    };
    let time = |i: usize, name: &str, stored: Option<ClockTime>| match typed {
        Some(t) => t.get(&format!("{name}_{i}")).unwrap_or_default().to_owned(),
        None => stored.map(|c| c.to_string()).unwrap_or_default(),
    };
    html! {
        form.stack method="post" action={ (MOUNT) "/cards/" (card.id) "/windows" } {
            (csrf_field(f))
            (form_error(error))
            p.muted { (lang.t("card.windows.hint")) }
            @for i in 0..rows {
                fieldset.window data-row=(i) {
                    legend { (lang.t("card.windows.window")) " " (i + 1) }
                    @for day in Weekday::ALL {
                        label.choice { input type="checkbox" name={ "days_" (i) } value=(day_code(day).0) checked[ticked(i, day)]; (lang.t(day_code(day).1)) }
                    }
                    label { (lang.t("card.windows.from"))
                        input name={ "start_" (i) } placeholder="06:00" value=(time(i, "start", stored.get(i).map(|w| w.start))); }
                    label { (lang.t("card.windows.to"))
                        input name={ "end_" (i) } placeholder="22:00" value=(time(i, "end", stored.get(i).map(|w| w.end))); }
                }
            }
            button #save-windows type="submit" { (lang.t("card.limits.submit")) }
        }
    }
}

fn binding_form(f: &Frame, card: &CardView, dir: &Directory, error: Option<&FormError>) -> Markup {
    let lang = f.lang;
    html! {
        form.stack method="post" action={ (MOUNT) "/cards/" (card.id) "/binding" } {
            (csrf_field(f))
            (form_error(error))
            label { (lang.t("cards.driver"))
                select #bind-driver name="driver_id" {
                    option value="" { (lang.t("cards.nobody")) }
                    @for d in &dir.drivers {
                        option value=(d.id) selected[card.driver_id == Some(d.id)] { (d.name) " <" (d.email) ">" }
                    }
                }
            }
            label { (lang.t("cards.vehicle"))
                select #bind-vehicle name="vehicle_id" {
                    option value="" { (lang.t("cards.nobody")) }
                    @for x in &dir.vehicles {
                        option value=(x.id) selected[card.vehicle_id == Some(x.id)] { (x.plate) }
                    }
                }
            }
            button #save-binding type="submit" { (lang.t("card.binding.submit")) }
        }
    }
}

fn status_form(f: &Frame, card: &CardView, error: Option<&FormError>) -> Markup {
    let lang = f.lang;
    html! {
        form.stack method="post" action={ (MOUNT) "/cards/" (card.id) "/status" } {
            (csrf_field(f))
            (form_error(error))
            label { (lang.t("cards.status"))
                select #new-status name="status" {
                    @for s in [CardStatus::Active, CardStatus::Suspended, CardStatus::Blocked, CardStatus::Closed] {
                        option value=(s.as_str()) selected[card.status == s] { (status_label(lang, s)) }
                    }
                }
            }
            label { (lang.t("card.reason")) input #status-reason name="reason" required maxlength="500"; }
            button.danger #save-status type="submit" { (lang.t("card.status.submit")) }
        }
    }
}

fn timeline(events: &[EventView]) -> Markup {
    html! {
        div.scroll { table {
            tbody {
                @for e in events {
                    tr data-action=(e.action) {
                        td { (short_time(&e.at)) }
                        td { code { (e.action) } }
                        td { (e.actor_role.map(|r| r.as_str()).unwrap_or("system")) }
                        td { (e.reason.as_deref().unwrap_or("")) }
                    }
                }
            }
        } }
    }
}

pub async fn bind(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let id: CardId = parse_id(&v.frame, &raw)?;
    let change = async {
        let f = &v.frame;
        let req = BindCard {
            driver_id: optional_id(f, &form, "driver_id")?,
            vehicle_id: optional_id(f, &form, "vehicle_id")?,
        };
        c.issuing.bind_card(&v.who, id, &req).await.or_page(f)
    };
    match change.await {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/cards/{id}"))),
        Err(e) => inline(&c, &v, id, CardForm::Binding, e, &form).await,
    }
}

/// A refused card form: the card page again, the message next to that form.
async fn inline(
    c: &Console,
    v: &Viewer,
    id: CardId,
    which: CardForm,
    e: PageError,
    form: &CheckedForm,
) -> PageResult {
    let error = e.into_inline()?;
    Ok(with_status(error.status, render(c, v, id, Some((which, &error, form))).await?))
}

pub async fn change_status(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let id: CardId = parse_id(&v.frame, &raw)?;
    let change = async {
        let f = &v.frame;
        let status = form
            .get("status")
            .and_then(|s| s.parse::<CardStatus>().ok())
            .ok_or_else(|| PageError::refused(f, "status: unknown card status"))?;
        let reason = form.get("reason").unwrap_or_default().to_owned();
        c.issuing
            .change_card_status(&v.who, id, &ChangeCardStatus { status, reason })
            .await
            .or_page(f)
    };
    match change.await {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/cards/{id}"))),
        Err(e) => inline(&c, &v, id, CardForm::Status, e, &form).await,
    }
}

/// Sets the amounts, volumes and counts the form shows on the card's own controls, keeping
/// everything else the card level already sets (products, stations, windows).
pub async fn set_limits(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let id: CardId = parse_id(&v.frame, &raw)?;
    let saved = async {
        let cur = c.issuing.effective_controls(&v.who, id).await.or_page(&v.frame)?.currency;
        limits::save(&c, &v, SubjectRef { level: Level::Card, id: id.0 }, cur, &form).await
    };
    match saved.await {
        Ok(()) => Ok(see_other(&format!("{MOUNT}/cards/{id}"))),
        // A refused value is shown next to the form, on the card page itself.
        Err(e) => inline(&c, &v, id, CardForm::Limits, e, &form).await,
    }
}

/// Station ids typed separated by commas, spaces or new lines; none is `None`.
fn station_list(raw: Option<&str>) -> Option<Vec<String>> {
    let list: Vec<String> = raw
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// Sets the card's own allowed products, allowed and blocked stations, keeping its other
/// card-level controls (amounts, volumes, windows).
pub async fn set_restrictions(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let id: CardId = parse_id(&v.frame, &raw)?;
    let save = async {
        let f = &v.frame;
        let subject = SubjectRef { level: Level::Card, id: id.0 };
        let mut controls = c.issuing.get_controls(&v.who, subject).await.or_page(f)?.controls;
        let products = form
            .all("products")
            .into_iter()
            .map(|p| {
                p.parse::<Product>()
                    .map_err(|()| PageError::refused(f, "products: unknown product"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        controls.allowed_products = (!products.is_empty()).then_some(products);
        controls.allowed_stations = station_list(form.get("allowed_stations"));
        controls.blocked_stations = station_list(form.get("blocked_stations"));
        c.issuing.set_controls(&v.who, subject, controls).await.or_page(f)
    };
    match save.await {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/cards/{id}"))),
        Err(e) => inline(&c, &v, id, CardForm::Restrictions, e, &form).await,
    }
}

/// Reads the windows form: rows with no day ticked and both times blank are dropped.
fn typed_windows(f: &Frame, form: &CheckedForm) -> Result<Vec<TimeWindow>, PageError> {
    let mut windows = Vec::new();
    for i in 0..MAX_TIME_WINDOWS {
        let days_field = format!("days_{i}");
        let ticked = form.all(&days_field);
        let start = form.get(&format!("start_{i}")).unwrap_or_default();
        let end = form.get(&format!("end_{i}")).unwrap_or_default();
        if ticked.is_empty() && start.is_empty() && end.is_empty() {
            continue;
        }
        let days = ticked
            .iter()
            .map(|code| {
                Weekday::ALL.into_iter().find(|d| day_code(*d).0 == *code).ok_or_else(|| {
                    PageError::refused(f, format!("window {}: unknown day {code:?}", i + 1))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let clock = |value: &str, what: &str| {
            value.parse::<ClockTime>().map_err(|_| {
                PageError::refused(
                    f,
                    format!("window {}: {what} must be a time written HH:MM, e.g. 06:00", i + 1),
                )
            })
        };
        windows.push(TimeWindow { days, start: clock(start, "from")?, end: clock(end, "to")? });
    }
    Ok(windows)
}

/// Sets the card's own time windows, keeping its other card-level controls.
pub async fn set_windows(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let id: CardId = parse_id(&v.frame, &raw)?;
    let save = async {
        let f = &v.frame;
        let subject = SubjectRef { level: Level::Card, id: id.0 };
        let mut controls = c.issuing.get_controls(&v.who, subject).await.or_page(f)?.controls;
        let windows = typed_windows(f, &form)?;
        controls.time_windows = (!windows.is_empty()).then_some(windows);
        c.issuing.set_controls(&v.who, subject, controls).await.or_page(f)
    };
    match save.await {
        Ok(_) => Ok(see_other(&format!("{MOUNT}/cards/{id}"))),
        Err(e) => inline(&c, &v, id, CardForm::Windows, e, &form).await,
    }
}
