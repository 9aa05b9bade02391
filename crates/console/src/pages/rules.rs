//! A fleet's fraud rules for analysts: each rule's mode, action, parameters (editable as
//! the rule's JSON, validated by the service like the API's `PUT /v1/fraud/rules/{id}`)
//! and its hits / confirmed / false positives over the last 7 and 30 days.

use super::{form_error, html, see_other, with_status, PageResult};
use crate::error::{FormError, OrPage, PageError};
use crate::form::CheckedForm;
use crate::layout::csrf_field;
use crate::session::Viewer;
use crate::{Console, MOUNT};
use authorizer::review::{RuleEdit, RuleStats};
use axum::extract::{Path, RawQuery, State};
use domain::OrgId;
use fraud::{Action, Mode};
use maud::html;

fn org_param(raw: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> =
        raw.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    pairs.into_iter().find(|(k, _)| k == "org_id").map(|(_, v)| v.trim().to_owned())
}

fn stats(s: &RuleStats) -> String {
    format!("{} / {} / {}", s.hits, s.confirmed, s.false_positives)
}

const ACTIONS: [(Action, &str); 3] =
    [(Action::Decline, "decline"), (Action::Review, "review"), (Action::Alert, "alert")];
const MODES: [(Mode, &str); 2] = [(Mode::Active, "active"), (Mode::Shadow, "shadow")];

pub async fn page(State(c): State<Console>, v: Viewer, RawQuery(q): RawQuery) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let Some(raw) = org_param(q.as_deref()).filter(|o| !o.is_empty()) else {
        let status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Err(PageError::said(f, status, lang.t("rules.org_required")));
    };
    let org: OrgId = raw.parse().map_err(|_| PageError::refused(f, "org_id: must be a UUID"))?;
    render(&c, &v, org, None).await
}

/// The rules page; with `refused`, that rule's form shows the refusal and the JSON typed.
async fn render(
    c: &Console,
    v: &Viewer,
    org: OrgId,
    refused: Option<(&str, &FormError, &CheckedForm)>,
) -> PageResult {
    let f = &v.frame;
    let lang = f.lang;
    let rules = c.authorizer.fraud_rules(&v.who, org).await.or_page(f)?;
    Ok(html(
        f,
        lang.t("rules.title"),
        html! {
            h1 { (lang.t("rules.title")) }
            p.muted { code { (org) } }
            @for r in &rules {
                @let id = &r.config.id;
                @let mine = refused.filter(|x| x.0 == id.as_str());
                @let json = match mine.and_then(|x| x.2.raw("rule")) {
                    Some(typed) => typed.to_owned(),
                    None => serde_json::to_string(&r.config.rule).unwrap_or_default(),
                };
                section data-rule=(id) {
                    h2 { code { (id) } " "
                        span class={ "badge s-" (if r.config.enabled { "active" } else { "closed" }) } {
                            (if r.config.enabled { lang.t("yes") } else { lang.t("no") }) } }
                    p.muted { (lang.t("rules.last_7")) ": " strong { (stats(&r.last_7_days)) } br;
                        (lang.t("rules.last_30")) ": " strong { (stats(&r.last_30_days)) } }
                    form.stack method="post" action={ (MOUNT) "/rules/" (id) "?org_id=" (org) } {
                        (csrf_field(f))
                        (form_error(mine.map(|x| x.1)))
                        label { (lang.t("alert.mode"))
                            select name="mode" {
                                @for (m, name) in MODES { option value=(name) selected[r.config.mode == m] { (name) } }
                            }
                        }
                        label { (lang.t("alert.action"))
                            select name="action" {
                                @for (a, name) in ACTIONS { option value=(name) selected[r.config.action == a] { (name) } }
                            }
                        }
                        label.choice { input type="checkbox" name="enabled" value="true" checked[r.config.enabled];
                            " " (lang.t("rules.enabled")) }
                        label { (lang.t("rules.parameters"))
                            textarea name="rule" rows="2" { (json) } }
                        button type="submit" { (lang.t("rules.save")) }
                    }
                }
            }
        },
    ))
}

pub async fn save(
    State(c): State<Console>,
    v: Viewer,
    Path(rule_id): Path<String>,
    RawQuery(q): RawQuery,
    form: CheckedForm,
) -> PageResult {
    let f = &v.frame;
    let raw = org_param(q.as_deref()).unwrap_or_default();
    let org: OrgId = raw.parse().map_err(|_| PageError::refused(f, "org_id: must be a UUID"))?;
    match put(&c, &v, org, &rule_id, &form).await {
        Ok(()) => Ok(see_other(&format!("{MOUNT}/rules?org_id={org}"))),
        Err(e) => {
            let error = e.into_inline()?;
            let page = render(&c, &v, org, Some((&rule_id, &error, &form))).await?;
            Ok(with_status(error.status, page))
        }
    }
}

async fn put(
    c: &Console,
    v: &Viewer,
    org: OrgId,
    rule_id: &str,
    form: &CheckedForm,
) -> Result<(), PageError> {
    let f = &v.frame;
    let pick = |name: &str| form.get(name).map(|v| serde_json::Value::String(v.to_owned()));
    let mode: Option<Mode> = pick("mode")
        .map(|m| serde_json::from_value(m).map_err(|_| PageError::refused(f, "mode: unknown")))
        .transpose()?;
    let action: Option<Action> = pick("action")
        .map(|a| serde_json::from_value(a).map_err(|_| PageError::refused(f, "action: unknown")))
        .transpose()?;
    let rule = form
        .get("rule")
        .map(|r| serde_json::from_str(r).map_err(|e| PageError::refused(f, format!("rule: {e}"))))
        .transpose()?;
    // An unchecked checkbox sends nothing: absent means disabled.
    let edit = RuleEdit { rule, action, mode, enabled: Some(form.get("enabled").is_some()) };
    c.authorizer.put_fraud_rule(&v.who, org, rule_id, &edit).await.or_page(f)?;
    Ok(())
}
