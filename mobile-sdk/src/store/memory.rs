//! A store that keeps everything in memory: for tests, and for an app that wants to see
//! the wallet logic without persistence. Nothing survives the process.

use emv::cryptogram::KeyIndex;
use emv::luk_batch::{EncryptedBatch, LukEntry};

use super::state::WalletState;
use super::{PublicKeySec1, SecureStore, SignatureBytes, StoreError, StoredToken};

/// In-memory [`SecureStore`]. `Debug` redacts the device key, LUKs and token PANs.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    state: WalletState,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl SecureStore for MemoryStore {
    fn device_public_key(&self) -> Result<Option<PublicKeySec1>, StoreError> {
        Ok(self.state.device_public_key())
    }

    fn create_device_key(&mut self) -> Result<PublicKeySec1, StoreError> {
        self.state.create_device_key()
    }

    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, StoreError> {
        self.state.sign(message)
    }

    fn open_batch(
        &self,
        token_ref: &str,
        batch: &EncryptedBatch,
    ) -> Result<Vec<LukEntry>, StoreError> {
        self.state.open_batch(token_ref, batch)
    }

    fn device_id(&self) -> Result<Option<String>, StoreError> {
        Ok(self.state.device_id())
    }

    fn set_device_id(&mut self, id: &str) -> Result<(), StoreError> {
        self.state.set_device_id(id);
        Ok(())
    }

    fn pinned_time_key(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state.pinned_time_key())
    }

    fn pin_time_key(&mut self, key_sec1: &[u8]) -> Result<(), StoreError> {
        self.state.pin_time_key(key_sec1);
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        Ok(self.state.tokens())
    }

    fn save_token(&mut self, token: StoredToken) -> Result<(), StoreError> {
        self.state.save_token(token);
        Ok(())
    }

    fn delete_token(&mut self, id: &str) -> Result<(), StoreError> {
        self.state.delete_token(id)
    }

    fn claim_atc(&mut self, token_id: &str, key_index: KeyIndex) -> Result<u16, StoreError> {
        self.state.claim_atc(token_id, key_index)
    }
}
