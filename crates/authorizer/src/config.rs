/// Settings of the authorizer, each with its unit in the name.
#[derive(Debug, Clone)]
pub struct AuthorizerConfig {
    /// How long an approval holds money before it expires without a completion.
    pub hold_ttl_secs: i64,
    /// How often a commit refused for a stale snapshot is decided again before giving up.
    pub max_commit_attempts: usize,
    /// How many expired holds one sweep releases.
    pub expiry_batch_size: i64,
}

impl Default for AuthorizerConfig {
    fn default() -> Self {
        Self { hold_ttl_secs: 30 * 60, max_commit_attempts: 16, expiry_batch_size: 500 }
    }
}
