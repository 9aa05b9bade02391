//! The page shell: head with the vendored CSS and htmx, the navigation for the viewer's
//! role, and the language switch (a plain form, so it works without JavaScript).

use crate::assets;
use crate::i18n::Lang;
use domain::Role;
use maud::{html, Markup, DOCTYPE};

/// What every page needs to frame its content: the language, the CSRF token for forms,
/// the viewer's role (for the navigation; `None` before login) and the path to come back
/// to after switching language.
#[derive(Clone)]
pub struct Frame {
    pub lang: Lang,
    pub csrf: String,
    pub role: Option<Role>,
    pub path: String,
}

impl std::fmt::Debug for Frame {
    // The CSRF token is a credential of the session: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("lang", &self.lang)
            .field("role", &self.role)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(frame: &Frame) -> Markup {
    html! { input type="hidden" name="csrf" value=(frame.csrf); }
}

pub fn page(frame: &Frame, title: &str, content: Markup) -> Markup {
    let lang = frame.lang;
    let m = crate::MOUNT;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t("app.title")) }
                link rel="stylesheet" href={ (m) "/assets/" (assets::CSS_FILE) };
                script src={ (m) "/assets/" (assets::HTMX_FILE) } defer {}
            }
            body {
                header.top {
                    a.brand href=(m) { (lang.t("app.title")) }
                    nav {
                        @match frame.role {
                            Some(Role::Owner | Role::Admin) => {
                                a href=(m) { (lang.t("nav.dashboard")) }
                                a href={ (m) "/cards" } { (lang.t("nav.cards")) }
                                a href={ (m) "/drivers" } { (lang.t("nav.drivers")) }
                                a href={ (m) "/vehicles" } { (lang.t("nav.vehicles")) }
                                a href={ (m) "/groups" } { (lang.t("nav.groups")) }
                            }
                            Some(Role::FraudAnalyst) => {
                                a href={ (m) "/alerts" } { (lang.t("nav.alerts")) }
                            }
                            _ => {}
                        }
                    }
                    form.lang method="post" action={ (m) "/lang" } {
                        (csrf_field(frame))
                        input type="hidden" name="next" value=(frame.path);
                        button name="lang" value="en" disabled[lang == Lang::En] { "EN" }
                        button name="lang" value="ru" disabled[lang == Lang::Ru] { "RU" }
                    }
                    @if frame.role.is_some() {
                        form.logout method="post" action={ (m) "/logout" } {
                            (csrf_field(frame))
                            button #logout type="submit" { (lang.t("nav.logout")) }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}
