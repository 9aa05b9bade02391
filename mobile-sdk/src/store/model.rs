//! What the phone keeps per token, and the pure rules over it: which LUK pays next, what
//! one payment spends, what a replenishment reports.

use emv::cryptogram::{KeyIndex, LUK_LEN};
use emv::luk_batch::LukEntry;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::secret::{SecretBytes, TokenPan};

/// A payment token on this phone. `Debug` shows the PAN's last four digits only.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredToken {
    pub id: String,
    pub card_id: String,
    pub token_pan: TokenPan,
    /// Issuer master key version, for the IAD.
    pub imk_version: u8,
    /// The last ATC spent; 0 before the first payment.
    pub atc: u16,
    pub luks: Vec<StoredLuk>,
}

/// One limited-use key and how often this phone used it. Once the key is spent or expired
/// its secret is dropped ([`StoredLuk::luk`] becomes `None`) but the record stays: every
/// replenishment must report the uses of every key the server may have seen used.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredLuk {
    #[serde(with = "key_index_hex")]
    pub key_index: KeyIndex,
    pub luk: Option<SecretBytes<LUK_LEN>>,
    /// Unix seconds; the key may not make a cryptogram at or after this time.
    pub expires_at_s: u64,
    pub max_uses: u16,
    /// Cryptograms made with this key (counted when made, whether presented or not).
    pub used: u16,
}

/// One line of a replenishment request: uses of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageReport {
    pub key_index: KeyIndex,
    pub used: u16,
}

impl StoredLuk {
    fn from_entry(entry: LukEntry) -> StoredLuk {
        StoredLuk {
            key_index: entry.key_index,
            luk: Some(SecretBytes::new(entry.luk)),
            expires_at_s: entry.expires_at_s,
            max_uses: entry.max_uses,
            used: 0,
        }
    }

    /// Uses left if the key may still generate at `now_ms` (server-synchronised).
    pub fn uses_left(&self, now_ms: i64) -> u16 {
        let live = self.luk.is_some() && now_ms < expiry_ms(self.expires_at_s);
        if live {
            self.max_uses.saturating_sub(self.used)
        } else {
            0
        }
    }
}

fn expiry_ms(expires_at_s: u64) -> i64 {
    i64::try_from(expires_at_s).unwrap_or(i64::MAX).saturating_mul(1_000)
}

impl StoredToken {
    /// A new token with the LUKs of its first batch.
    pub fn new(
        id: String,
        card_id: String,
        token_pan: TokenPan,
        imk_version: u8,
        luks: Vec<LukEntry>,
    ) -> StoredToken {
        let mut token = StoredToken { id, card_id, token_pan, imk_version, atc: 0, luks: vec![] };
        token.add_luks(luks);
        token
    }

    /// Adds the LUKs of a new batch; a key index already held is ignored (a repeated
    /// answer must not reset a use count).
    pub fn add_luks(&mut self, entries: Vec<LukEntry>) {
        for entry in entries {
            if !self.luks.iter().any(|l| l.key_index == entry.key_index) {
                self.luks.push(StoredLuk::from_entry(entry));
            }
        }
    }

    /// The key the next payment uses: live, with uses left, the one expiring first (so no
    /// use is wasted), then the lowest key index.
    pub fn usable_luk(&self, now_ms: i64) -> Option<&StoredLuk> {
        self.luks
            .iter()
            .filter(|l| l.uses_left(now_ms) > 0)
            .min_by_key(|l| (l.expires_at_s, l.key_index))
    }

    /// Payments this token can still make at `now_ms` without a replenishment.
    pub fn uses_left(&self, now_ms: i64) -> u32 {
        self.luks.iter().map(|l| u32::from(l.uses_left(now_ms))).sum()
    }

    /// Spends one use of `key_index` and the next ATC; returns the ATC. The caller
    /// persists the token before using the ATC.
    pub fn claim(&mut self, key_index: KeyIndex) -> Result<u16, StoreError> {
        let atc = self.atc.checked_add(1).ok_or(StoreError::AtcExhausted)?;
        let luk = self
            .luks
            .iter_mut()
            .find(|l| l.key_index == key_index)
            .ok_or(StoreError::UnknownKey)?;
        if luk.luk.is_none() || luk.used >= luk.max_uses {
            return Err(StoreError::KeyExhausted);
        }
        luk.used += 1;
        if luk.used == luk.max_uses {
            luk.luk = None; // spent: drop (and wipe) the key, keep the count
        }
        self.atc = atc;
        Ok(atc)
    }

    /// Takes the higher counters of `stored` (the same token as currently persisted): the
    /// ATC, each key's use count, and a key already dropped stays dropped.
    pub fn keep_counters_of(&mut self, stored: &StoredToken) {
        self.atc = self.atc.max(stored.atc);
        for old in &stored.luks {
            match self.luks.iter_mut().find(|l| l.key_index == old.key_index) {
                Some(luk) => {
                    luk.used = luk.used.max(old.used);
                    if old.luk.is_none() || luk.used >= luk.max_uses {
                        luk.luk = None;
                    }
                }
                // A key's record is never forgotten: its uses are reported at replenishment.
                None => self.luks.push(old.clone()),
            }
        }
    }

    /// Drops the secrets of keys expired at `now_ms`; their use counts stay.
    pub fn retire_expired(&mut self, now_ms: i64) {
        for luk in &mut self.luks {
            if now_ms >= expiry_ms(luk.expires_at_s) {
                luk.luk = None;
            }
        }
    }

    /// Uses of every key used at least once, in key-index order (what the server's
    /// replenishment check compares with what it saw).
    pub fn usage_reports(&self) -> Vec<UsageReport> {
        let mut reports: Vec<UsageReport> = self
            .luks
            .iter()
            .filter(|l| l.used > 0)
            .map(|l| UsageReport { key_index: l.key_index, used: l.used })
            .collect();
        reports.sort_by_key(|r| r.key_index);
        reports
    }
}

/// A key index in JSON: 12 hex digits, as the API writes it.
mod key_index_hex {
    use emv::cryptogram::KeyIndex;
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &KeyIndex, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(k.as_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KeyIndex, D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 6];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|_| de::Error::custom("key index must be 12 hex digits"))?;
        Ok(KeyIndex(bytes))
    }
}

#[cfg(test)]
mod tests;
