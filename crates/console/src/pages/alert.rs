//! One alert: the authorization, its decision trace (the limit checks, then every fraud
//! rule with the values it saw and why it fired), the card's recent fills, comments, and
//! the actions: take, comment, resolve as confirmed fraud (blocks the card) or false
//! positive. Each action is the service call the API makes.

use super::{fills, form_error, html, parse_id, see_other, short_time, with_status, PageResult};
use crate::error::{FormError, OrPage, PageError};
use crate::form::CheckedForm;
use crate::i18n::{alert_status, Lang};
use crate::layout::{csrf_field, Frame};
use crate::session::Viewer;
use crate::{Console, MOUNT};
use authorizer::review::{AlertDetail, AlertQuery, AlertView, NewComment, Resolution, Resolve};
use authorizer::views::{AuthorizationView, StationView};
use axum::extract::{Path, State};
use maud::{html, Markup};
use serde_json::Value;
use uuid::Uuid;

/// Which of the alert's forms a refusal belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AlertForm {
    /// Take or resolve: shown in the actions box (or under the title once resolved).
    Action,
    Comment,
}

pub async fn page(State(c): State<Console>, v: Viewer, Path(raw): Path<String>) -> PageResult {
    let id: Uuid = parse_id(&v.frame, &raw)?;
    render(&c, &v, id, None).await
}

async fn render(
    c: &Console,
    v: &Viewer,
    id: Uuid,
    refused: Option<(AlertForm, &FormError)>,
) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let on = |which: AlertForm| refused.filter(|r| r.0 == which).map(|r| r.1);
    let d = c.authorizer.alert(&v.who, id).await.or_page(f)?;
    let a = &d.alert;
    let auth = &d.authorization;
    let resolved = a.resolved_at.is_some();
    // Analysts may read any card by id; its effective controls carry the fleet's currency,
    // so amounts show as money. Without it (a failed read) they show in minor units.
    let cur = c.issuing.effective_controls(&v.who, a.card_id).await.ok().map(|e| e.currency);
    // Other alerts on the same card, every status: the pattern matters more than one hit.
    let fleet = AlertQuery { status: None, org_id: Some(a.org_id), rule_id: None };
    let related: Vec<_> = c
        .authorizer
        .alerts(&v.who, &fleet)
        .await
        .or_page(f)?
        .alerts
        .into_iter()
        .filter(|other| other.card_id == a.card_id && other.id != a.id)
        .collect();
    // And on other cards: the same driver's fills, fills at the same station.
    let more = c.authorizer.related_alerts(&v.who, id).await.or_page(f)?;
    // Impossible travel: the two stations by name (analysts may list stations; a failed
    // read leaves the ids).
    let travel = travel_hit(&auth.trace);
    let stations = match travel {
        Some(_) => c.authorizer.list_stations(&v.who).await.unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(html(
        f,
        lang.t("alert.title"),
        html! {
            h1 { (lang.t("alert.title")) " · " (a.rule_id) " "
                span #alert-status class={ "badge s-" (a.status) } data-status=(a.status) { (alert_status(lang, a.status)) } }
            section.grid {
                div { div.muted { (lang.t("alerts.risk")) } div.stat { (a.risk) } }
                div { div.muted { (lang.t("alerts.reason")) } div { (a.reason) } }
                div { div.muted { (lang.t("alerts.age")) } div { (short_time(&a.created_at)) } }
                div { div.muted { (lang.t("alert.card")) } div { code { (a.card_id) } } }
                div { div.muted { (lang.t("alerts.org")) } div { code { (a.org_id) } } }
            }
            section #authorization {
                h2 { (lang.t("alert.authorization")) }
                (fills::table(lang, std::slice::from_ref(auth), cur, false))
            }
            @if let Some(observed) = &travel {
                (travel_panel(lang, observed, auth, &d.recent_fills, &stations))
            }
            section #checks { h2 { (lang.t("alert.checks")) } (checks(lang, &auth.trace)) }
            section #rules { h2 { (lang.t("alert.rules")) } (rules(lang, &auth.trace)) }
            @if !resolved { (actions(f, &d, on(AlertForm::Action))) }
            @else { (form_error(on(AlertForm::Action))) }
            section #comments {
                h2 { (lang.t("alert.comments")) }
                @for cm in &d.comments { p { span.muted { (short_time(&cm.at)) } " " (cm.body) } }
                form.inline method="post" action={ (MOUNT) "/alerts/" (a.id) "/comment" } {
                    (csrf_field(f))
                    (form_error(on(AlertForm::Comment)))
                    input #comment-body name="body" required maxlength="2000";
                    button #add-comment type="submit" { (lang.t("alert.comment")) }
                }
            }
            section #related {
                h2 { (lang.t("alert.related")) }
                (alert_rows(lang, &related))
                h3 #related-driver data-driver=(more.driver_id.map(|d| d.to_string()).unwrap_or_default()) {
                    (lang.t("alert.related_driver"))
                    @if let Some(d) = more.driver_id { " " code { (d) } }
                }
                @if more.driver_id.is_none() { p.muted { (lang.t("alert.driver_unknown")) } }
                @else { (alert_rows(lang, &more.by_driver)) }
                h3 #related-station data-station=(more.station_id) {
                    (lang.t("alert.related_station")) " " code { (more.station_id) }
                }
                (alert_rows(lang, &more.by_station))
                p { a #fleet-rules href={ (MOUNT) "/rules?org_id=" (a.org_id) } { (lang.t("rules.title")) } }
            }
            section #recent-fills {
                h2 { (lang.t("alert.recent_fills")) }
                (fills::table(lang, &d.recent_fills, cur, false))
            }
        },
    ))
}

fn alert_rows(lang: Lang, alerts: &[AlertView]) -> Markup {
    html! {
        @if alerts.is_empty() { p.muted { (lang.t("alerts.none")) } }
        @else {
            div.scroll { table { tbody {
                @for r in alerts {
                    tr data-alert=(r.id) data-card=(r.card_id) {
                        td.num { (r.risk) }
                        td { a href={ (MOUNT) "/alerts/" (r.id) } { (r.rule_id) } }
                        td { span class={ "badge s-" (r.status) } { (alert_status(lang, r.status)) } }
                        td { (short_time(&r.created_at)) }
                        td { (r.reason) }
                    }
                }
            } } }
        }
    }
}

fn actions(f: &Frame, d: &AlertDetail, error: Option<&FormError>) -> Markup {
    let lang = f.lang;
    let a = &d.alert;
    html! {
        section #actions {
            (form_error(error))
            @if a.status == "open" {
                form.inline method="post" action={ (MOUNT) "/alerts/" (a.id) "/take" } {
                    (csrf_field(f))
                    button #take type="submit" { (lang.t("alert.take")) }
                }
            }
            h2 { (lang.t("alert.resolve")) }
            form.stack method="post" action={ (MOUNT) "/alerts/" (a.id) "/resolve" } {
                (csrf_field(f))
                label.choice { input #resolve-fraud type="radio" name="resolution" value="confirmed_fraud" required;
                    " " (lang.t("alert.confirmed_fraud")) }
                label.choice { input #resolve-false-positive type="radio" name="resolution" value="false_positive";
                    " " (lang.t("alert.false_positive")) }
                label { (lang.t("alert.note")) input #resolve-note name="note" maxlength="2000"; }
                button.danger #resolve type="submit" { (lang.t("alert.resolve")) }
            }
        }
    }
}

/// The limit checks of the decision, in the order they ran.
fn checks(lang: Lang, trace: &Value) -> Markup {
    let list = trace.get("checks").and_then(Value::as_array).cloned().unwrap_or_default();
    html! {
        div.scroll { table {
            thead { tr { th { (lang.t("alert.check")) } th { (lang.t("alert.passed")) } th { (lang.t("alert.detail")) } } }
            tbody {
                @for c in &list {
                    @let passed = c.get("passed").and_then(Value::as_bool).unwrap_or(false);
                    tr {
                        td { code { (text(c.get("check"))) } }
                        td class=[(!passed).then_some("hit")] { (if passed { lang.t("yes") } else { lang.t("no") }) }
                        td { (text(c.get("detail"))) }
                    }
                }
            }
        } }
    }
}

/// Every fraud rule of the screening: mode, action, whether it hit, its score, the values
/// it observed and the reason it gave.
fn rules(lang: Lang, trace: &Value) -> Markup {
    let fraud = trace.get("fraud");
    let list =
        fraud.and_then(|f| f.get("trace")).and_then(Value::as_array).cloned().unwrap_or_default();
    html! {
        @if let Some(fr) = fraud.filter(|f| !f.is_null()) {
            p { "outcome: " strong { (text(fr.get("outcome"))) } ", risk: " strong { (text(fr.get("risk"))) } }
        }
        div.scroll { table {
            thead { tr {
                th { (lang.t("alerts.rule")) } th { (lang.t("alert.mode")) } th { (lang.t("alert.action")) }
                th { (lang.t("alert.rule_hit")) } th { (lang.t("alert.observed")) } th { (lang.t("alerts.reason")) }
            } }
            tbody {
                @for r in &list {
                    @let hit = r.get("hit").filter(|h| !h.is_null());
                    tr data-rule=(text(r.get("rule_id"))) {
                        td { code { (text(r.get("rule_id"))) } }
                        td { (text(r.get("mode"))) }
                        td { (text(r.get("action"))) }
                        @match hit {
                            Some(h) => {
                                td.hit { "score " (text(h.get("score"))) }
                                td { code { (h.get("observed").map(Value::to_string).unwrap_or_default()) } }
                                td { (text(h.get("reason"))) }
                            }
                            None => { td { (lang.t("alert.rule_pass")) } td {} td {} }
                        }
                    }
                }
            }
        } }
    }
}

/// The observed values of the `impossible_travel` hit in a decision trace, if it hit.
fn travel_hit(trace: &Value) -> Option<Value> {
    let list = trace.get("fraud")?.get("trace")?.as_array()?;
    let entry = list
        .iter()
        .find(|r| r.get("rule_id").and_then(Value::as_str) == Some("impossible_travel"))?;
    entry.get("hit").filter(|h| !h.is_null())?.get("observed").cloned()
}

fn parse_time(rfc3339: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()
}

/// The card's most recent approved fill created before `this` among the loaded recent
/// fills: the one the rule measured from (a declined fill never becomes the card's last
/// fill in its features; a reversed or completed one was approved first).
fn previous_fill<'a>(
    this: &AuthorizationView,
    recent: &'a [AuthorizationView],
) -> Option<&'a AuthorizationView> {
    let at = parse_time(&this.created_at)?;
    recent
        .iter()
        .filter(|r| r.id != this.id && r.card_id == this.card_id && r.status != "declined")
        .filter_map(|r| parse_time(&r.created_at).map(|t| (t, r)))
        .filter(|(t, _)| *t < at)
        .max_by_key(|(t, _)| *t)
        .map(|(_, r)| r)
}

/// A fill's station (name and id) and its time, local to the station when it is known.
fn fill_place(fill: &AuthorizationView, stations: &[StationView]) -> Markup {
    let station = stations.iter().find(|s| s.id == fill.station_id);
    let at = parse_time(&fill.created_at);
    html! {
        @if let Some(s) = station { strong.station-name { (s.name) } " " }
        code { (fill.station_id) } ", "
        @match (at, station) {
            (Some(t), Some(s)) => {
                @let l = authorizer::local_time(t, &s.time_zone);
                (format!("{} {:02}:{:02}", l.date(), l.hour(), l.minute())) " (" (s.time_zone) ")"
            }
            _ => { (short_time(&fill.created_at)) " UTC" }
        }
    }
}

/// Metres as km with one decimal, integer arithmetic only.
fn km(metres: u64) -> String {
    format!("{}.{} km", metres / 1000, metres % 1000 / 100)
}

/// Seconds as minutes, or hours and minutes.
fn duration(lang: Lang, secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} {}", lang.t("unit.s")),
        (0, _) => format!("{m} {} {s} {}", lang.t("unit.min"), lang.t("unit.s")),
        _ => format!("{h} {} {m} {}", lang.t("unit.h"), lang.t("unit.min")),
    }
}

/// Where the card was before, where it is now, how far apart and how fast it would have
/// had to travel (the rule's observed values).
fn travel_panel(
    lang: Lang,
    observed: &Value,
    auth: &AuthorizationView,
    recent: &[AuthorizationView],
    stations: &[StationView],
) -> Markup {
    let distance = observed.get("distance_m").and_then(Value::as_u64);
    let elapsed = observed.get("elapsed_s").and_then(Value::as_i64);
    let speed = observed.get("speed_kmh").and_then(Value::as_u64);
    let max = observed.get("max_kmh").and_then(Value::as_u64);
    let previous = previous_fill(auth, recent);
    html! {
        section #travel data-distance-m=[distance] data-speed-kmh=[speed] {
            h2 { (lang.t("travel.title")) }
            dl {
                dt { (lang.t("travel.from")) }
                dd #travel-from data-station=[previous.map(|p| p.station_id.to_string())] {
                    @match previous {
                        Some(p) => { (fill_place(p, stations)) }
                        None => { span.muted { (lang.t("travel.no_previous")) } }
                    }
                }
                dt { (lang.t("travel.to")) }
                dd #travel-to data-station=(auth.station_id) { (fill_place(auth, stations)) }
                dt { (lang.t("travel.distance")) }
                dd #travel-distance { (distance.map(km).unwrap_or_default()) }
                dt { (lang.t("travel.elapsed")) }
                dd #travel-elapsed { (elapsed.map(|e| duration(lang, e)).unwrap_or_default()) }
                dt { (lang.t("travel.speed")) }
                dd #travel-speed class="hit" {
                    @if let Some(k) = speed { (k) " km/h" }
                    @else if elapsed.is_some_and(|e| e <= 0) { (lang.t("travel.no_time")) }
                    @if let Some(m) = max { " (" (lang.t("travel.max")) " " (m) " km/h)" }
                }
            }
        }
    }
}

/// A JSON scalar as text (strings without quotes).
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn back(id: Uuid) -> axum::response::Response {
    see_other(&format!("{MOUNT}/alerts/{id}"))
}

pub async fn take(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    _form: CheckedForm,
) -> PageResult {
    let id: Uuid = parse_id(&v.frame, &raw)?;
    match c.authorizer.take_alert(&v.who, id).await.or_page(&v.frame) {
        Ok(_) => Ok(back(id)),
        Err(e) => inline(&c, &v, id, AlertForm::Action, e).await,
    }
}

/// A refused action: the alert page again, the message next to the form (409 when someone
/// took or resolved the alert first, 422 for a refused value).
async fn inline(c: &Console, v: &Viewer, id: Uuid, which: AlertForm, e: PageError) -> PageResult {
    let error = e.into_inline()?;
    Ok(with_status(error.status, render(c, v, id, Some((which, &error))).await?))
}

pub async fn comment(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let id: Uuid = parse_id(&v.frame, &raw)?;
    let req = NewComment { body: form.get("body").unwrap_or_default().to_owned() };
    match c.authorizer.comment_alert(&v.who, id, &req).await.or_page(&v.frame) {
        Ok(_) => Ok(back(id)),
        Err(e) => inline(&c, &v, id, AlertForm::Comment, e).await,
    }
}

pub async fn resolve(
    State(c): State<Console>,
    v: Viewer,
    Path(raw): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let f = &v.frame;
    let id: Uuid = parse_id(f, &raw)?;
    let resolution = match form.get("resolution") {
        Some("confirmed_fraud") => Ok(Resolution::ConfirmedFraud),
        Some("false_positive") => Ok(Resolution::FalsePositive),
        _ => Err(PageError::refused(f, "resolution: choose confirmed fraud or false positive")),
    };
    let done = match resolution {
        Ok(resolution) => {
            let req = Resolve { resolution, note: form.get("note").map(str::to_owned) };
            c.authorizer.resolve_alert(&v.who, id, &req).await.or_page(f).map(|_| ())
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => Ok(back(id)),
        Err(e) => inline(&c, &v, id, AlertForm::Action, e).await,
    }
}
