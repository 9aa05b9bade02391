/// Settings of the authorizer, each with its unit in the name.
#[derive(Debug, Clone)]
pub struct AuthorizerConfig {
    /// How long an approval holds money before it expires without a completion.
    pub hold_ttl_secs: i64,
    /// How often a commit refused for a stale snapshot is decided again before giving up.
    pub max_commit_attempts: usize,
    /// How many expired holds one sweep releases.
    pub expiry_batch_size: i64,
    /// How many old nonces one statement of the nonce sweep forgets.
    pub nonce_sweep_batch_size: i64,
    /// The longest a terminal waits for an authorization answer; past it, it is answered
    /// 91 (`docs/TERMINAL-API.md`, "Deadlines").
    pub authorization_deadline_ms: u64,
    /// Most pre-authorizations in progress at once; one more is answered 91 at once
    /// instead of queueing behind work the database cannot finish before the deadline
    /// (`docs/TERMINAL-API.md`, "Overload").
    pub max_pending_authorizations: u32,
}

/// The default of [`AuthorizerConfig::authorization_deadline_ms`].
pub const DEFAULT_AUTHORIZATION_DEADLINE_MS: u64 = 2_000;
/// The default of [`AuthorizerConfig::max_pending_authorizations`]: several times what the
/// benchmark machine has in flight at its best throughput (docs/BENCHMARKS.md).
pub const DEFAULT_MAX_PENDING_AUTHORIZATIONS: u32 = 64;

impl Default for AuthorizerConfig {
    fn default() -> Self {
        Self {
            hold_ttl_secs: 30 * 60,
            max_commit_attempts: 16,
            expiry_batch_size: 500,
            nonce_sweep_batch_size: 5_000,
            authorization_deadline_ms: DEFAULT_AUTHORIZATION_DEADLINE_MS,
            max_pending_authorizations: DEFAULT_MAX_PENDING_AUTHORIZATIONS,
        }
    }
}
