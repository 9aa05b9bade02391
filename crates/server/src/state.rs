use issuing::Issuing;
use store::SqlStore;

/// What every handler can reach. Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct AppState {
    pub issuing: Issuing<SqlStore>,
    pub tokens: tokens::Tokens<SqlStore>,
    pub authorizer: authorizer::Authorizer<SqlStore>,
}
