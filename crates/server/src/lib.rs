//! The `forecourt` server: configuration, the axum application, demo data.
//!
//! `build` wires store → HSM → services → routes; `main.rs` only parses flags and serves.
//! Tests call `build` too, so they run the same application in-process.

pub mod config;
pub mod demo;
mod error;
mod extract;
mod routes;
mod state;

pub use config::{Config, HsmConfig, RemoteHsm, Timeouts};
pub use error::ApiError;
pub use state::AppState;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::Router;
use hsm_sim::{Component, Engine, HsmClient};
use issuing::Issuing;
use std::sync::Arc;
use store::SqlStore;
use tokio::sync::Semaphore;
use tower_http::trace::TraceLayer;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
    #[error("hsm: {0}")]
    Hsm(#[from] hsm_sim::HsmError),
    #[error("issuing: {0}")]
    Issuing(#[from] issuing::IssuingError),
    #[error("{0}")]
    Config(String),
}

/// Opens the database (migrating it) and the HSM, and builds the application.
pub async fn build(config: &Config) -> Result<(Router, AppState), StartError> {
    let store =
        SqlStore::connect_with(&config.database_url, config.timeouts.db_acquire_timeout_ms).await?;
    let hsm = open_hsm(&config.hsm, config.timeouts)?;
    let issuing = Issuing::new(store, hsm.clone(), config.issuing.clone()).await?;
    let tokens = tokens::Tokens::new(issuing.clone(), hsm.clone(), config.tokens.clone())
        .map_err(StartError::Config)?;
    let authorizer = authorizer::Authorizer::new(
        issuing.clone(),
        tokens.clone(),
        hsm,
        config.authorizer.clone(),
    );
    let pending = usize::try_from(config.authorizer.max_pending_authorizations)
        .map_err(|_| StartError::Config("max_pending_authorizations does not fit".into()))?;
    let pending = Semaphore::new(pending);
    let state = AppState { issuing, tokens, authorizer, pending_authorizations: Arc::new(pending) };
    let cookie_secure = config::cookie_secure_from_env().map_err(StartError::Config)?;
    let console = console::Console {
        issuing: state.issuing.clone(),
        authorizer: state.authorizer.clone(),
        cookie_secure,
    };
    Ok((router(state.clone()).merge(console_routes(console)), state))
}

fn open_hsm(config: &HsmConfig, timeouts: Timeouts) -> Result<HsmClient, StartError> {
    if let Some(remote) = &config.remote {
        let psk = hsm_sim::Psk::parse_hex(&remote.psk_hex)?;
        let mut tcp = hsm_sim::TcpClientConfig::new(remote.addr.clone(), psk);
        tcp.connect_timeout_ms = timeouts.hsm_connect_timeout_ms;
        tcp.request_timeout_ms = timeouts.hsm_timeout_ms;
        return Ok(HsmClient::tcp(tcp)?);
    }
    std::fs::create_dir_all(&config.dir)
        .map_err(|e| StartError::Config(format!("cannot create {}: {e}", config.dir.display())))?;
    let engine = match &config.components {
        None => Engine::open_demo(&config.dir)?,
        Some(hexes) => {
            let components =
                hexes.iter().map(|h| Component::parse_hex(h)).collect::<Result<Vec<_>, _>>()?;
            Engine::open(&config.dir, &components)?
        }
    };
    Ok(HsmClient::in_process(engine))
}

/// The web console at `/console` (same origin as the API), and `/` sending browsers there.
fn console_routes(console: console::Console) -> Router {
    Router::new()
        .nest(console::MOUNT, console::router(console))
        .route("/", axum::routing::get(root))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // Method and path only: cookies carry the session.
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
        }))
}

/// `/`: browsers (asking for HTML) go to the console; API clients keep the JSON 404 of
/// any unknown path.
async fn root(headers: axum::http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        axum::response::Redirect::to(console::MOUNT).into_response()
    } else {
        routes::not_found().await.into_response()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/v1", routes::v1())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // Method and path only: headers and bodies carry tokens and passwords.
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), user_id = tracing::field::Empty)
        }))
        .with_state(state)
}
