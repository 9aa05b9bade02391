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

pub use config::{Config, HsmConfig, RemoteHsm};
pub use error::ApiError;
pub use state::AppState;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::Router;
use hsm_sim::{Component, Engine, HsmClient};
use issuing::Issuing;
use store::SqlStore;
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
    let store = SqlStore::connect(&config.database_url).await?;
    let hsm = open_hsm(&config.hsm)?;
    let issuing = Issuing::new(store, hsm.clone(), config.issuing.clone()).await?;
    let tokens = tokens::Tokens::new(issuing.clone(), hsm.clone(), config.tokens.clone())
        .map_err(StartError::Config)?;
    let authorizer = authorizer::Authorizer::new(
        issuing.clone(),
        tokens.clone(),
        hsm,
        config.authorizer.clone(),
    );
    let state = AppState { issuing, tokens, authorizer };
    Ok((router(state.clone()), state))
}

fn open_hsm(config: &HsmConfig) -> Result<HsmClient, StartError> {
    if let Some(remote) = &config.remote {
        let psk = hsm_sim::Psk::parse_hex(&remote.psk_hex)?;
        return Ok(HsmClient::tcp(hsm_sim::TcpClientConfig::new(remote.addr.clone(), psk))?);
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
