//! The web console: server-rendered HTML pages for fleet owners and admins (cards, limits,
//! fills) and for fraud analysts (the alert queue). It is a second front end over the same
//! services as the JSON API: every page calls the service method the matching endpoint
//! calls, with the same [`issuing::Principal`], so scope and role checks are the services'
//! own. The console never reads the store directly.
//!
//! `server` mounts [`router`] under `/console`.

mod assets;
mod cookies;
mod csrf;
mod error;
mod form;
pub mod i18n;
mod layout;
pub mod money;
mod pages;
mod session;

use authorizer::Authorizer;
use axum::routing::{get, post};
use axum::Router;
use issuing::Issuing;
use store::SqlStore;

/// Where the console is mounted; cookies are scoped to it.
pub const MOUNT: &str = "/console";

/// What the console's handlers reach: the same services the API holds.
#[derive(Clone)]
pub struct Console {
    pub issuing: Issuing<SqlStore>,
    pub authorizer: Authorizer<SqlStore>,
    /// Mark cookies `Secure` (the server is reached over TLS).
    pub cookie_secure: bool,
}

/// The console's routes, to be nested at [`MOUNT`]. The state is applied here, so the
/// router fits into any parent router.
pub fn router<S: Clone + Send + Sync + 'static>(console: Console) -> Router<S> {
    let signed_in = Router::new()
        .route("/", get(pages::dashboard::page))
        .route("/cards", get(pages::cards::list).post(pages::cards::issue))
        .route("/cards/{id}", get(pages::card::page))
        .route("/cards/{id}/binding", post(pages::card::bind))
        .route("/cards/{id}/status", post(pages::card::change_status))
        .route("/cards/{id}/limits", post(pages::card::set_limits))
        .route("/cards/{id}/restrictions", post(pages::card::set_restrictions))
        .route("/cards/{id}/windows", post(pages::card::set_windows))
        .route("/drivers", get(pages::drivers::list).post(pages::drivers::invite))
        .route("/drivers/{id}", get(pages::drivers::page).post(pages::drivers::update))
        .route("/drivers/{id}/deactivate", post(pages::drivers::deactivate))
        .route("/drivers/{id}/limits", post(pages::drivers::set_limits))
        .route("/vehicles", get(pages::vehicles::list).post(pages::vehicles::create))
        .route("/vehicles/{id}", get(pages::vehicles::page).post(pages::vehicles::update))
        .route("/vehicles/{id}/deactivate", post(pages::vehicles::deactivate))
        .route("/vehicles/{id}/limits", post(pages::vehicles::set_limits))
        .route("/groups", get(pages::groups::list).post(pages::groups::create))
        .route("/groups/{id}", get(pages::groups::page).post(pages::groups::update))
        .route("/groups/{id}/deactivate", post(pages::groups::deactivate))
        .route("/groups/{id}/limits", post(pages::groups::set_limits))
        .route("/alerts", get(pages::alerts::queue))
        .route("/alerts/{id}", get(pages::alert::page))
        .route("/alerts/{id}/take", post(pages::alert::take))
        .route("/alerts/{id}/comment", post(pages::alert::comment))
        .route("/alerts/{id}/resolve", post(pages::alert::resolve))
        .route("/rules", get(pages::rules::page))
        .route("/rules/{id}", post(pages::rules::save))
        .route("/logout", post(pages::login::logout))
        .route_layer(axum::middleware::from_fn_with_state(console.clone(), session::require));
    Router::new()
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/lang", post(pages::login::set_lang))
        .route(&format!("/assets/{}", assets::HTMX_FILE), get(assets::htmx))
        .route(&format!("/assets/{}", assets::CSS_FILE), get(assets::css))
        .merge(signed_in)
        .fallback(pages::errors::not_found)
        .method_not_allowed_fallback(pages::errors::method_not_allowed)
        .with_state(console)
}
