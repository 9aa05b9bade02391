/// Settings of the token service, each with its unit in the name.
#[derive(Debug, Clone)]
pub struct TokensConfig {
    /// BIN range token PANs are issued under: distinct from the cards' so a token PAN can
    /// never be mistaken for a funding PAN.
    pub token_bin: String,
    pub token_pan_length: u8,
    pub token_validity_months: u32,
    /// LUKs per provisioning or replenishment batch.
    pub luk_batch_size: u16,
    /// How long a LUK may be used after it was issued.
    pub luk_ttl_secs: i64,
    /// Cryptograms one LUK may make.
    pub luk_max_uses: u16,
    /// How long an enrolment challenge stays valid.
    pub challenge_ttl_secs: i64,
    /// How old a device-signed replenishment request may be.
    pub replenish_max_age_secs: i64,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            token_bin: "700199".into(),
            token_pan_length: 16,
            token_validity_months: 36,
            luk_batch_size: 8,
            luk_ttl_secs: 7 * 24 * 3600,
            luk_max_uses: 4,
            challenge_ttl_secs: 300,
            replenish_max_age_secs: 300,
        }
    }
}

/// Most LUKs one batch may carry (also the HSM's limit).
pub const MAX_LUK_BATCH_SIZE: u16 = 32;

impl TokensConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_LUK_BATCH_SIZE).contains(&self.luk_batch_size) {
            return Err(format!("luk_batch_size must be 1 to {MAX_LUK_BATCH_SIZE}"));
        }
        if self.luk_ttl_secs < 60 || self.luk_max_uses == 0 {
            return Err("luk_ttl_secs must be at least 60 and luk_max_uses at least 1".into());
        }
        if self.challenge_ttl_secs < 10 || self.replenish_max_age_secs < 10 {
            return Err("challenge_ttl_secs and replenish_max_age_secs must be at least 10".into());
        }
        Ok(())
    }
}
