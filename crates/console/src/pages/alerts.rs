//! The fraud analyst's queue: highest risk first, then oldest (the service's order), the
//! count per status, and filters by org, rule and status as query parameters (a plain GET
//! form; htmx swaps only the table when a filter changes).

use super::{html, short_time, PageResult};
use crate::error::{OrPage, PageError};
use crate::i18n::alert_status;
use crate::session::Viewer;
use crate::{Console, MOUNT};
use authorizer::review::AlertQuery;
use axum::extract::{RawQuery, State};
use domain::OrgId;
use maud::html;

const STATUSES: [&str; 4] = ["open", "taken", "confirmed_fraud", "false_positive"];

pub async fn queue(State(c): State<Console>, v: Viewer, RawQuery(q): RawQuery) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let pairs: Vec<(String, String)> = match q.as_deref() {
        None => Vec::new(),
        Some(q) => {
            serde_urlencoded::from_str(q).map_err(|_| PageError::refused(f, "unreadable query"))?
        }
    };
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let org_id = param("org_id")
        .map(|o| o.parse::<OrgId>().map_err(|_| PageError::refused(f, "org_id: must be a UUID")))
        .transpose()?;
    // Without a status filter the queue shows what needs work: open alerts.
    let status = param("status").unwrap_or_else(|| "open".to_owned());
    let status = (status != "all").then_some(status);
    let query = AlertQuery { status: status.clone(), org_id, rule_id: param("rule_id") };
    let queue = c.authorizer.alerts(&v.who, &query).await.or_page(f)?;
    let count = |s: &str| queue.counts.get(s).and_then(|n| n.as_i64()).unwrap_or(0);
    Ok(html(
        f,
        lang.t("alerts.title"),
        html! {
            h1 { (lang.t("alerts.title")) }
            div.counts #counts {
                @for s in STATUSES {
                    a class={ "badge s-" (s) } href={ (MOUNT) "/alerts?status=" (s) } { (alert_status(lang, s)) ": " (count(s)) }
                }
            }
            section {
                form.inline method="get" action={ (MOUNT) "/alerts" }
                    hx-get={ (MOUNT) "/alerts" } hx-target="#queue" hx-select="#queue"
                    hx-swap="outerHTML" hx-push-url="true" {
                    label { (lang.t("alerts.status"))
                        select name="status" {
                            @for s in STATUSES { option value=(s) selected[status.as_deref() == Some(s)] { (alert_status(lang, s)) } }
                            option value="all" selected[status.is_none()] { (lang.t("alerts.all_statuses")) }
                        }
                    }
                    label { (lang.t("alerts.org")) input name="org_id" value=(org_id.map(|o| o.to_string()).unwrap_or_default()); }
                    label { (lang.t("alerts.rule")) input name="rule_id" value=(query.rule_id.clone().unwrap_or_default()); }
                    button type="submit" { (lang.t("alerts.apply")) }
                }
                div.scroll #queue {
                    @if queue.alerts.is_empty() { p.muted { (lang.t("alerts.none")) } }
                    @else {
                        table {
                            thead { tr {
                                th.num { (lang.t("alerts.risk")) }
                                th { (lang.t("alerts.rule")) }
                                th { (lang.t("alerts.status")) }
                                th { (lang.t("alerts.age")) }
                                th { (lang.t("alerts.reason")) }
                            } }
                            tbody {
                                @for a in &queue.alerts {
                                    tr data-alert=(a.id) data-card=(a.card_id) {
                                        td.num { (a.risk) }
                                        td { a href={ (MOUNT) "/alerts/" (a.id) } { (a.rule_id) } }
                                        td { span class={ "badge s-" (a.status) } { (alert_status(lang, a.status)) } }
                                        td { (short_time(&a.created_at)) }
                                        td { (a.reason) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}
