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
    /// How often nonces older than `authorizer::NONCE_MEMORY_US` are forgotten.
    pub nonce_sweep_interval_secs: u64,
    /// Create the demo fleet when the database has no org yet.
    pub seed_demo: bool,
    /// Bounds on waiting for the HSM and the database.
    pub timeouts: Timeouts,
}

/// How long the server waits for a slow dependency, each in milliseconds. The terminal's
/// own bound is `authorizer.authorization_deadline_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect plus handshake with an out-of-process HSM.
    pub hsm_connect_timeout_ms: u64,
    /// Waiting for a free HSM connection, and again for one request's reply.
    pub hsm_timeout_ms: u64,
    /// Waiting for a pooled database connection.
    pub db_acquire_timeout_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { hsm_connect_timeout_ms: 1_000, hsm_timeout_ms: 1_500, db_acquire_timeout_ms: 1_500 }
    }
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

/// Environment variable that marks the console's cookies `Secure`: set it to `true` when
/// browsers reach the server over TLS (directly or behind a TLS proxy). Default `false`,
/// so the console works on `http://localhost`.
pub const COOKIE_SECURE_ENV: &str = "FORECOURT_COOKIE_SECURE";

/// Reads [`COOKIE_SECURE_ENV`]: `true`/`1` or `false`/`0`/unset; anything else is refused
/// at startup rather than guessed. (An environment flag rather than a `Config` field, so
/// the places that build a `Config` literal need no change.)
pub fn cookie_secure_from_env() -> Result<bool, String> {
    parse_cookie_secure(std::env::var(COOKIE_SECURE_ENV).ok().as_deref())
}

fn parse_cookie_secure(value: Option<&str>) -> Result<bool, String> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(_) => Err(format!("{COOKIE_SECURE_ENV} must be true or false")),
    }
}

#[cfg(test)]
mod cookie_secure_tests {
    use super::parse_cookie_secure;

    #[test]
    fn cookie_secure_flag() {
        assert_eq!(parse_cookie_secure(None), Ok(false));
        assert_eq!(parse_cookie_secure(Some("false")), Ok(false));
        assert_eq!(parse_cookie_secure(Some(" TRUE ")), Ok(true));
        assert_eq!(parse_cookie_secure(Some("1")), Ok(true));
        assert!(parse_cookie_secure(Some("yes please")).is_err());
    }
}
