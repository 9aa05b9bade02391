//! A store in one JSON file, for the demo CLI.
//!
//! The file holds the device key and the LUKs in clear, protected only by its mode
//! (0600, and a file others can read is refused). That is what a demo on a laptop can do;
//! a phone keeps them in secure hardware (see the module doc of [`store`](super)).
//!
//! Every change is a read-modify-write of the whole file under a lock, written atomically
//! (temporary file, fsync, rename, fsync of the directory): a crash leaves the old or the
//! new wallet, and two processes sharing the file see each other's ATCs.

mod disk;

use std::path::{Path, PathBuf};

use emv::cryptogram::KeyIndex;
use emv::luk_batch::{EncryptedBatch, LukEntry};
use serde::{Deserialize, Serialize};

use super::state::WalletState;
use super::{PublicKeySec1, SecureStore, SignatureBytes, StoreError, StoredToken};
use crate::secret::SecretText;

pub use disk::FILE_MODE;

/// Version of the file layout.
const FORMAT: u32 = 1;

/// A logged-in user's API session (the CLI keeps it beside the wallet).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub access_token: SecretText,
    pub refresh_token: SecretText,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    format: u32,
    wallet: WalletState,
    session: Option<Session>,
}

/// [`SecureStore`] in a JSON file. `Debug` redacts every secret.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    doc: FileDoc,
}

impl FileStore {
    /// Opens the wallet at `path`; a missing file is an empty wallet, created on the first
    /// change.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileStore, StoreError> {
        let path = path.into();
        let doc = read_doc(&path)?;
        Ok(FileStore { path, doc })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn session(&self) -> Option<&Session> {
        self.doc.session.as_ref()
    }

    pub fn set_session(&mut self, session: Option<Session>) -> Result<(), StoreError> {
        self.update_doc(|doc| {
            doc.session = session;
            Ok(())
        })
    }

    fn update<T>(
        &mut self,
        change: impl FnOnce(&mut WalletState) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.update_doc(|doc| change(&mut doc.wallet))
    }

    /// Re-reads the file under the lock, applies `change`, writes it back. On error
    /// nothing is written and the in-memory copy is the last good one.
    fn update_doc<T>(
        &mut self,
        change: impl FnOnce(&mut FileDoc) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _lock = disk::Lock::acquire(&self.path)?;
        let mut doc = read_doc(&self.path)?;
        let out = change(&mut doc)?;
        let mut writer = disk::ZeroizingWriter::new();
        serde_json::to_writer_pretty(&mut writer, &doc)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode: {:?}", e.classify())))?;
        disk::write_atomically(&self.path, &writer.into_inner())?;
        self.doc = doc;
        Ok(out)
    }
}

fn read_doc(path: &Path) -> Result<FileDoc, StoreError> {
    let Some(bytes) = disk::read(path)? else {
        return Ok(FileDoc { format: FORMAT, ..FileDoc::default() });
    };
    // Position only: serde's message can quote the offending value, which may be secret.
    let doc: FileDoc = serde_json::from_slice(&bytes).map_err(|e| {
        StoreError::Corrupt(format!("unreadable at line {} column {}", e.line(), e.column()))
    })?;
    if doc.format != FORMAT {
        return Err(StoreError::Corrupt(format!("unknown format {}", doc.format)));
    }
    Ok(doc)
}

impl SecureStore for FileStore {
    fn device_public_key(&self) -> Result<Option<PublicKeySec1>, StoreError> {
        Ok(self.doc.wallet.device_public_key())
    }

    fn create_device_key(&mut self) -> Result<PublicKeySec1, StoreError> {
        self.update(WalletState::create_device_key)
    }

    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, StoreError> {
        self.doc.wallet.sign(message)
    }

    fn open_batch(
        &self,
        token_ref: &str,
        batch: &EncryptedBatch,
    ) -> Result<Vec<LukEntry>, StoreError> {
        self.doc.wallet.open_batch(token_ref, batch)
    }

    fn device_id(&self) -> Result<Option<String>, StoreError> {
        Ok(self.doc.wallet.device_id())
    }

    fn set_device_id(&mut self, id: &str) -> Result<(), StoreError> {
        self.update(|w| {
            w.set_device_id(id);
            Ok(())
        })
    }

    fn pinned_time_key(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.doc.wallet.pinned_time_key())
    }

    fn pin_time_key(&mut self, key_sec1: &[u8]) -> Result<(), StoreError> {
        self.update(|w| {
            w.pin_time_key(key_sec1);
            Ok(())
        })
    }

    /// Read from disk, not from this handle's copy: another process sharing the file
    /// may have spent uses since, and a payment must pick its key from the latest counts.
    /// (No lock needed: the file is only ever replaced whole.)
    fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        Ok(read_doc(&self.path)?.wallet.tokens())
    }

    fn save_token(&mut self, token: StoredToken) -> Result<(), StoreError> {
        self.update(|w| {
            w.save_token(token);
            Ok(())
        })
    }

    fn delete_token(&mut self, id: &str) -> Result<(), StoreError> {
        self.update(|w| w.delete_token(id))
    }

    fn claim_atc(&mut self, token_id: &str, key_index: KeyIndex) -> Result<u16, StoreError> {
        self.update(|w| w.claim_atc(token_id, key_index))
    }
}
