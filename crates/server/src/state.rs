use issuing::Issuing;
use std::sync::Arc;
use store::SqlStore;
use tokio::sync::Semaphore;

/// What every handler can reach. Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct AppState {
    pub issuing: Issuing<SqlStore>,
    pub tokens: tokens::Tokens<SqlStore>,
    pub authorizer: authorizer::Authorizer<SqlStore>,
    /// One permit per pre-authorization in progress
    /// (`AuthorizerConfig::max_pending_authorizations`).
    pub pending_authorizations: Arc<Semaphore>,
}
