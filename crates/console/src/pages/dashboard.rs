//! The fleet dashboard: the account (owners), spend today and this month, a 30-day spend
//! chart and the latest fills. Analysts land on their queue instead.
//!
//! Days are the fleet's days: "today", "this month" and the chart's dates are read in the
//! org's time zone with the authorizer's own `local_time` (the function its limits and
//! windows use). The sums are over every completed fill in scope since the earlier of the
//! chart's first day and the first of the month: the store sums them per quarter hour
//! (`Authorizer::spend_buckets`), and each quarter hour lies within one local day because
//! every zone's offset from UTC is a whole number of quarter hours.

use super::{fills, html, see_other, PageResult};
use crate::error::{OrPage, PageError};
use crate::i18n::Lang;
use crate::money;
use crate::session::Viewer;
use crate::{Console, MOUNT};
use authorizer::views::{AccountView, AuthorizationQuery};
use axum::extract::State;
use domain::{Currency, Role};
use maud::{html, Markup};
use time::{Date, Duration, OffsetDateTime};

const CHART_DAYS: i64 = 30;
const LATEST_FILLS: i64 = 10;
const LATEST_ALERTS: usize = 10;
/// The store's sums are per quarter hour: the finest step of any zone's UTC offset.
const SPEND_BUCKET_US: i64 = 15 * 60 * 1_000_000;

pub async fn page(State(c): State<Console>, v: Viewer) -> PageResult {
    let f = &v.frame;
    if v.who.role == Role::FraudAnalyst {
        return Ok(see_other(&format!("{MOUNT}/alerts")));
    }
    let org_id = v.who.org().or_page(f)?;
    let org = c.issuing.get_org(&v.who, org_id).await.or_page(f)?;
    let account = match c.authorizer.account(&v.who, org_id).await {
        Ok(a) => Some(a),
        // Admins may not see the fleet's account: the page says so instead of failing.
        Err(issuing::IssuingError::Forbidden(_)) => None,
        Err(e) => return Err(PageError::new(f, crate::error::kind_of(e))),
    };
    let zone = org.time_zone.as_str();
    let today = authorizer::local_time(OffsetDateTime::now_utc(), zone).date();
    let first_day = today - Duration::days(CHART_DAYS - 1);
    let month_start = today.replace_day(1).unwrap_or(today);
    // A day early in UTC covers the local midnight whatever the zone's offset (at most
    // 14 hours); fills are then bucketed by their local day.
    let since = (first_day.min(month_start) - Duration::days(1)).midnight().assume_utc();
    let completed = AuthorizationQuery {
        from_us: i64::try_from(since.unix_timestamp_nanos() / 1_000).ok(),
        ..Default::default()
    };
    let buckets =
        c.authorizer.spend_buckets(&v.who, &completed, SPEND_BUCKET_US).await.or_page(f)?;
    let latest_query = AuthorizationQuery { limit: Some(LATEST_FILLS), ..Default::default() };
    let latest = c.authorizer.search_authorizations(&v.who, &latest_query).await.or_page(f)?;
    let mut per_day = vec![0i64; usize::try_from(CHART_DAYS).unwrap_or(0)];
    let (mut spent_today, mut spent_month) = (0i64, 0i64);
    for bucket in &buckets {
        let Some(day) = day_of(bucket.start_us, zone) else { continue };
        let spent = bucket.amount_minor;
        if day == today {
            spent_today += spent;
        }
        if day.year() == today.year() && day.month() == today.month() {
            spent_month += spent;
        }
        let age = (today - day).whole_days();
        if (0..CHART_DAYS).contains(&age) {
            if let Some(slot) =
                usize::try_from(CHART_DAYS - 1 - age).ok().and_then(|i| per_day.get_mut(i))
            {
                *slot += spent;
            }
        }
    }
    let alerts = c.authorizer.fleet_open_alerts(&v.who).await.or_page(f)?;
    let lang = f.lang;
    let cur = org.currency;
    Ok(html(
        f,
        lang.t("dash.title"),
        html! {
            h1 { (lang.t("dash.title")) " · " (org.name) }
            div.grid {
                (account_panel(lang, account.as_ref(), cur))
                div.panel #spent-today { div.muted { (lang.t("dash.spent_today")) } div.stat { (money::show(spent_today, cur)) } }
                div.panel #spent-month { div.muted { (lang.t("dash.spent_month")) } div.stat { (money::show(spent_month, cur)) } }
            }
            section #open-alerts {
                h2 { (lang.t("dash.alerts")) " " span.badge.s-open { (alerts.len()) } }
                @if alerts.is_empty() { p.muted { (lang.t("dash.alerts.none")) } }
                @else {
                    div.scroll { table {
                        thead { tr {
                            th { (lang.t("fills.card")) } th { (lang.t("alerts.rule")) }
                            th.num { (lang.t("alerts.risk")) } th { (lang.t("alerts.status")) }
                            th { (lang.t("alerts.age")) }
                        } }
                        tbody {
                            @for a in alerts.iter().take(LATEST_ALERTS) {
                                tr data-card=(a.card_id) {
                                    td { a href={ (MOUNT) "/cards/" (a.card_id) } { "…" (tail(&a.card_id.to_string())) } }
                                    td { (a.rule_id) }
                                    td.num { (a.risk) }
                                    td { span class={ "badge s-" (a.status) } { (crate::i18n::alert_status(lang, a.status)) } }
                                    td { (super::short_time(&a.created_at)) }
                                }
                            }
                        }
                    } }
                }
            }
            section {
                h2 { (lang.t("dash.chart")) }
                (chart(&per_day, today, cur))
            }
            section {
                h2 { (lang.t("dash.latest_fills")) }
                (fills::table(lang, &latest, Some(cur), true))
            }
        },
    ))
}

fn account_panel(lang: Lang, account: Option<&AccountView>, cur: Currency) -> Markup {
    html! {
        div.panel #account {
            div.muted { (lang.t("dash.account")) }
            @match account {
                Some(a) => {
                    div { (lang.t("dash.available")) ": " span.stat { (money::show(a.available, cur)) } }
                    div { (lang.t("dash.held")) ": " strong { (money::show(a.held, cur)) } }
                }
                None => { p.muted { (lang.t("dash.account_owner_only")) } }
            }
        }
    }
}

/// The fleet's day of a time in unix microseconds.
fn day_of(unix_us: i64, zone: &str) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_us) * 1_000)
        .ok()
        .map(|t| authorizer::local_time(t, zone).date())
}

/// Inline SVG bars, one per day, scaled with integer arithmetic to the busiest day.
fn chart(per_day: &[i64], today: Date, cur: Currency) -> Markup {
    const HEIGHT: i64 = 100;
    const BAR: i64 = 10;
    let max = per_day.iter().copied().max().unwrap_or(0).max(1);
    let width = BAR * i64::try_from(per_day.len()).unwrap_or(0);
    let first = today - Duration::days(i64::try_from(per_day.len()).unwrap_or(1) - 1);
    html! {
        // Stretched to the panel's width; the dates sit outside the SVG so they do not
        // stretch with it.
        svg.chart viewBox={ "0 0 " (width) " " (HEIGHT) } preserveAspectRatio="none" role="img" xmlns="http://www.w3.org/2000/svg" {
            @for (i, amount) in per_day.iter().enumerate() {
                @let x = BAR * i64::try_from(i).unwrap_or(0);
                @let h = amount * HEIGHT / max;
                @let day = first + Duration::days(i64::try_from(i).unwrap_or(0));
                rect x=(x + 1) y=(HEIGHT - h) width=(BAR - 2) height=(h) {
                    title { (day) ": " (money::show(*amount, cur)) }
                }
            }
        }
        div.chart-axis { span { (first) } span { (today) } }
    }
}

/// The end of an id: UUIDv7s share their (time) prefix, their tails tell them apart.
fn tail(id: &str) -> &str {
    id.get(id.len().saturating_sub(6)..).unwrap_or(id)
}
