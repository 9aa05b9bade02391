//! The contents of a software store, shared by [`MemoryStore`](super::MemoryStore) and
//! [`FileStore`](super::FileStore): each trait method is implemented once, here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use emv::cryptogram::KeyIndex;
use emv::luk_batch::{EncryptedBatch, LukEntry};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::key::SoftwareKey;
use super::{PublicKeySec1, SignatureBytes, StoreError, StoredToken};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WalletState {
    device_key: Option<SoftwareKey>,
    device_id: Option<String>,
    #[serde(with = "optional_b64")]
    time_key: Option<Vec<u8>>,
    tokens: Vec<StoredToken>,
}

impl WalletState {
    pub(crate) fn device_public_key(&self) -> Option<PublicKeySec1> {
        self.device_key.as_ref().map(SoftwareKey::public_sec1)
    }

    pub(crate) fn create_device_key(&mut self) -> Result<PublicKeySec1, StoreError> {
        if self.device_key.is_some() {
            return Err(StoreError::DeviceKeyExists);
        }
        let key = SoftwareKey::generate()?;
        let public = key.public_sec1();
        self.device_key = Some(key);
        Ok(public)
    }

    fn key(&self) -> Result<&SoftwareKey, StoreError> {
        self.device_key.as_ref().ok_or(StoreError::NoDeviceKey)
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<SignatureBytes, StoreError> {
        Ok(self.key()?.sign(message))
    }

    pub(crate) fn open_batch(
        &self,
        token_ref: &str,
        batch: &EncryptedBatch,
    ) -> Result<Vec<LukEntry>, StoreError> {
        self.key()?.open_batch(token_ref, batch)
    }

    pub(crate) fn device_id(&self) -> Option<String> {
        self.device_id.clone()
    }

    pub(crate) fn set_device_id(&mut self, id: &str) {
        self.device_id = Some(id.to_owned());
    }

    pub(crate) fn pinned_time_key(&self) -> Option<Vec<u8>> {
        self.time_key.clone()
    }

    pub(crate) fn pin_time_key(&mut self, key_sec1: &[u8]) {
        self.time_key = Some(key_sec1.to_vec());
    }

    pub(crate) fn tokens(&self) -> Vec<StoredToken> {
        self.tokens.clone()
    }

    /// Counters only move forward: a token read before another writer spent an ATC must
    /// not roll that ATC back when it is saved.
    pub(crate) fn save_token(&mut self, mut token: StoredToken) {
        match self.tokens.iter_mut().find(|t| t.id == token.id) {
            Some(slot) => {
                token.keep_counters_of(slot);
                *slot = token;
            }
            None => self.tokens.push(token),
        }
    }

    pub(crate) fn delete_token(&mut self, id: &str) -> Result<(), StoreError> {
        let before = self.tokens.len();
        self.tokens.retain(|t| t.id != id);
        if self.tokens.len() == before {
            return Err(StoreError::UnknownToken);
        }
        Ok(())
    }

    pub(crate) fn claim_atc(
        &mut self,
        token_id: &str,
        key_index: KeyIndex,
    ) -> Result<u16, StoreError> {
        let token =
            self.tokens.iter_mut().find(|t| t.id == token_id).ok_or(StoreError::UnknownToken)?;
        token.claim(key_index)
    }
}

/// An optional byte string as base64url without padding (the API's encoding).
mod optional_b64 {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        bytes.as_ref().map(|b| B64.encode(b)).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| B64.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}
