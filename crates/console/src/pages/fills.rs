//! The table of fills (authorizations) shown on the dashboard, the card page and the
//! alert page.

use crate::i18n::Lang;
use crate::money;
use authorizer::views::AuthorizationView;
use domain::Currency;
use maud::{html, Markup};

/// What a fill cost: the final amount once completed, else what is held or was asked.
pub fn amount_of(fill: &AuthorizationView) -> i64 {
    fill.final_amount.unwrap_or(if fill.status == "approved" {
        fill.approved_amount
    } else {
        fill.requested_amount
    })
}

/// `currency` is `None` where the viewer cannot read the fleet's currency (analysts):
/// amounts are then shown in minor units, said so.
pub fn table(
    lang: Lang,
    fills: &[AuthorizationView],
    currency: Option<Currency>,
    link_cards: bool,
) -> Markup {
    html! {
        @if fills.is_empty() {
            p.muted { (lang.t("fills.none")) }
        } @else {
            div.scroll {
                table.fills {
                    thead { tr {
                        th { (lang.t("fills.when")) }
                        @if link_cards { th { (lang.t("fills.card")) } }
                        th { (lang.t("fills.status")) }
                        th.num { (lang.t("fills.amount")) }
                        th { (lang.t("fills.code")) }
                    } }
                    tbody {
                        @for f in fills {
                            tr {
                                td { (super::short_time(&f.created_at)) }
                                @if link_cards {
                                    td { @if let Some(card) = f.card_id {
                                        // Ids are UUIDv7 (time first): the tail tells cards apart.
                                        @let id = card.to_string();
                                        a href={ (crate::MOUNT) "/cards/" (id) } { "…" (id.get(id.len().saturating_sub(6)..).unwrap_or_default()) }
                                    } }
                                }
                                td { span class={ "badge s-" (f.status) } { (f.status) } }
                                td.num { (amount_text(amount_of(f), currency)) }
                                td { (f.response_code) @if let Some(r) = &f.reason { " " span.muted { (r) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn amount_text(minor: i64, currency: Option<Currency>) -> String {
    match currency {
        Some(c) => money::show(minor, c),
        None => format!("{minor} (minor units)"),
    }
}
