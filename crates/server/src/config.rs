//! Settings of the `forecourt` process. Every limit carries its unit in its name.

use issuing::IssuingConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite:<file>` (the embedded default) or `postgres://...`.
    pub database_url: String,
    pub listen: SocketAddr,
    pub hsm: HsmConfig,
    pub issuing: IssuingConfig,
    pub tokens: tokens::TokensConfig,
    pub authorizer: authorizer::AuthorizerConfig,
    /// How often expired holds are released.
    pub hold_sweep_interval_secs: u64,
    /// Create the demo fleet when the database has no org yet.
    pub seed_demo: bool,
}

#[derive(Clone)]
pub struct HsmConfig {
    /// Where the in-process HSM keeps its key store.
    pub dir: PathBuf,
    /// LMK components (hex). `None`: demo mode, components kept beside the store.
    pub components: Option<Vec<String>>,
    /// Use `forecourt-hsm serve` at this address instead of the in-process HSM.
    pub remote: Option<RemoteHsm>,
}

/// An out-of-process HSM: its address and the pre-shared key (hex) both sides hold.
#[derive(Clone)]
pub struct RemoteHsm {
    pub addr: String,
    pub psk_hex: String,
}

impl std::fmt::Debug for HsmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let components = self.components.as_ref().map(|c| format!("{} given", c.len()));
        f.debug_struct("HsmConfig")
            .field("dir", &self.dir)
            .field("components", &components.as_deref().unwrap_or("demo mode"))
            .field("remote", &self.remote.as_ref().map(|r| r.addr.as_str()))
            .finish()
    }
}
