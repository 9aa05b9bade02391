//! The limits form of one control level, shared by the card, driver, vehicle and depot
//! pages: amounts (major units), volumes (litres) and fill counts per fill, day, week and
//! month. Saving keeps everything else the level sets (products, stations, time windows),
//! so the form never lifts a restriction it does not show.

use super::form_error;
use crate::error::{FormError, OrPage, PageError};
use crate::form::CheckedForm;
use crate::layout::{csrf_field, Frame};
use crate::money;
use crate::session::Viewer;
use crate::Console;
use domain::controls::{Controls, PerAuthorization, PeriodLimits};
use domain::Currency;
use issuing::SubjectRef;
use maud::{html, Markup};

/// Volumes are typed in litres with at most this many decimals (whole millilitres).
const LITRE_DECIMALS: u8 = 3;

/// Whether the viewer may change the limits a form shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Edit,
    /// Shown, not editable: an admin's own depot is capped by the owner (the service
    /// refuses the write), so the page says so instead of offering a form that fails.
    ReadOnly,
}

/// The form for `own` (the level's stored controls) posting to `action`. After a refusal
/// it shows what was typed, so nothing has to be typed again.
pub fn form(
    f: &Frame,
    action: &str,
    own: &Controls,
    cur: Currency,
    hint: &str,
    refused: Option<(&FormError, &CheckedForm)>,
) -> Markup {
    fields(f, action, own, cur, hint, refused, Access::Edit)
}

fn fields(
    f: &Frame,
    action: &str,
    own: &Controls,
    cur: Currency,
    hint: &str,
    refused: Option<(&FormError, &CheckedForm)>,
    access: Access,
) -> Markup {
    let (error, typed) = (refused.map(|r| r.0), refused.map(|r| r.1));
    let lang = f.lang;
    let shown = |name: &str, stored: String| match typed {
        Some(t) => t.get(name).unwrap_or_default().to_owned(),
        None => stored,
    };
    let digits = cur.minor_digits();
    let amount = |name: &str, v: Option<i64>| {
        shown(name, v.map(|m| money::input_value(m, digits)).unwrap_or_default())
    };
    let litres = |name: &str, v: Option<i64>| {
        shown(name, v.map(|ml| money::input_value(ml, LITRE_DECIMALS)).unwrap_or_default())
    };
    let count =
        |name: &str, v: Option<i64>| shown(name, v.map(|c| c.to_string()).unwrap_or_default());
    let per = own.per_authorization.unwrap_or_default();
    let [daily, weekly, monthly] =
        [own.daily, own.weekly, own.monthly].map(Option::unwrap_or_default);
    html! {
        form.stack method="post" action=(action) {
            (csrf_field(f))
            (form_error(error))
            p.muted { (hint) " (" (cur) ")" }
            fieldset.plain disabled[access == Access::ReadOnly] {
            label { (lang.t("limit.per_authorization"))
                input #limit-per-authorization name="per_authorization" inputmode="decimal" value=(amount("per_authorization", per.amount)); }
            label { (lang.t("limit.daily"))
                input #limit-daily name="daily" inputmode="decimal" value=(amount("daily", daily.amount)); }
            label { (lang.t("limit.daily_count"))
                input #limit-daily-count name="daily_count" inputmode="numeric" value=(count("daily_count", daily.count)); }
            label { (lang.t("limit.weekly"))
                input #limit-weekly name="weekly" inputmode="decimal" value=(amount("weekly", weekly.amount)); }
            label { (lang.t("limit.weekly_count"))
                input #limit-weekly-count name="weekly_count" inputmode="numeric" value=(count("weekly_count", weekly.count)); }
            label { (lang.t("limit.monthly"))
                input #limit-monthly name="monthly" inputmode="decimal" value=(amount("monthly", monthly.amount)); }
            label { (lang.t("limit.monthly_count"))
                input #limit-monthly-count name="monthly_count" inputmode="numeric" value=(count("monthly_count", monthly.count)); }
            label { (lang.t("limit.per_authorization_litres"))
                input #limit-per-authorization-litres name="per_authorization_litres" inputmode="decimal" value=(litres("per_authorization_litres", per.volume_ml)); }
            label { (lang.t("limit.daily_litres"))
                input #limit-daily-litres name="daily_litres" inputmode="decimal" value=(litres("daily_litres", daily.volume_ml)); }
            label { (lang.t("limit.weekly_litres"))
                input #limit-weekly-litres name="weekly_litres" inputmode="decimal" value=(litres("weekly_litres", weekly.volume_ml)); }
            label { (lang.t("limit.monthly_litres"))
                input #limit-monthly-litres name="monthly_litres" inputmode="decimal" value=(litres("monthly_litres", monthly.volume_ml)); }
            }
            @if access == Access::Edit {
                button #save-limits type="submit" { (lang.t("card.limits.submit")) }
            } @else {
                p.muted #limits-locked { (lang.t("level.limits.locked")) }
            }
        }
    }
}

/// The stored controls of `subject` (none stored: empty), as the viewer may read them.
pub async fn own(c: &Console, v: &Viewer, subject: SubjectRef) -> Result<Controls, PageError> {
    Ok(c.issuing.get_controls(&v.who, subject).await.or_page(&v.frame)?.controls)
}

/// The limits panel of a driver, vehicle or depot page: that level's own limits, which
/// bind every card under it (a card's effective limit is the tightest of its chain).
pub async fn panel(
    c: &Console,
    v: &Viewer,
    subject: SubjectRef,
    action: &str,
    access: Access,
    refused: Option<(&FormError, &CheckedForm)>,
) -> Result<Markup, PageError> {
    let (own, cur) = (own(c, v, subject).await?, fleet_currency(c, v).await?);
    let lang = v.frame.lang;
    let hint = lang.t("level.limits.hint");
    Ok(html! {
        section #limits {
            h2 { (lang.t("level.limits")) }
            (fields(&v.frame, action, &own, cur, hint, refused, access))
        }
    })
}

/// [`save`] in the fleet's currency, for a driver, vehicle or depot.
pub async fn save_level(
    c: &Console,
    v: &Viewer,
    subject: SubjectRef,
    form: &CheckedForm,
) -> Result<(), PageError> {
    let cur = fleet_currency(c, v).await?;
    save(c, v, subject, cur, form).await
}

/// The viewer's fleet currency: amounts are typed in its major units.
async fn fleet_currency(c: &Console, v: &Viewer) -> Result<Currency, PageError> {
    let f = &v.frame;
    let org = v.who.org().or_page(f)?;
    Ok(c.issuing.get_org(&v.who, org).await.or_page(f)?.currency)
}

/// Replaces the level's amounts, volumes and counts with the form's (blank: no limit at
/// this level), keeping its products, stations and time windows.
pub async fn save(
    c: &Console,
    v: &Viewer,
    subject: SubjectRef,
    cur: Currency,
    form: &CheckedForm,
) -> Result<(), PageError> {
    let f = &v.frame;
    let mut controls = own(c, v, subject).await?;
    let typed = Typed { f, form, digits: cur.minor_digits() };
    controls.per_authorization = non_empty_per(PerAuthorization {
        amount: typed.amount("per_authorization")?,
        volume_ml: typed.litres("per_authorization_litres")?,
    });
    controls.daily = typed.period("daily")?;
    controls.weekly = typed.period("weekly")?;
    controls.monthly = typed.period("monthly")?;
    c.issuing.set_controls(&v.who, subject, controls).await.or_page(f)?;
    Ok(())
}

/// The form's fields read as integers, a bad one refused naming the field.
struct Typed<'a> {
    f: &'a Frame,
    form: &'a CheckedForm,
    digits: u8,
}

impl Typed<'_> {
    fn field(&self, name: &str) -> &str {
        self.form.get(name).unwrap_or_default()
    }

    fn amount(&self, name: &str) -> Result<Option<i64>, PageError> {
        money::parse(self.field(name), self.digits)
            .map_err(|e| PageError::refused(self.f, format!("{name}: not a valid amount ({e:?})")))
    }

    fn litres(&self, name: &str) -> Result<Option<i64>, PageError> {
        money::parse(self.field(name), LITRE_DECIMALS).map_err(|e| {
            PageError::refused(self.f, format!("{name}: not a valid number of litres ({e:?})"))
        })
    }

    fn count(&self, name: &str) -> Result<Option<i64>, PageError> {
        let raw = self.field(name).trim();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse::<i64>()
            .map(Some)
            .map_err(|_| PageError::refused(self.f, format!("{name}: must be a whole number")))
    }

    /// `daily`, `weekly` or `monthly`: the amount, `{period}_litres` and `{period}_count`.
    fn period(&self, period: &str) -> Result<Option<PeriodLimits>, PageError> {
        let limits = PeriodLimits {
            amount: self.amount(period)?,
            volume_ml: self.litres(&format!("{period}_litres"))?,
            count: self.count(&format!("{period}_count"))?,
        };
        Ok((limits != PeriodLimits::default()).then_some(limits))
    }
}

fn non_empty_per(p: PerAuthorization) -> Option<PerAuthorization> {
    (p != PerAuthorization::default()).then_some(p)
}
