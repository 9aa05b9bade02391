//! Where the phone keeps its device key, its payment tokens, their limited-use keys (LUKs)
//! and their transaction counters (ATC).
//!
//! The wallet talks to a [`SecureStore`]; two implementations live here:
//! [`MemoryStore`] (tests, nothing persists) and [`FileStore`] (the demo CLI: one JSON file,
//! mode 0600, replaced atomically on every change). The device key is never handed out:
//! the store signs and opens LUK batches itself, because on a real phone the private key
//! cannot leave the secure hardware.
//!
//! # On a phone
//!
//! **Android.** The device key is an EC P-256 key generated in **Android Keystore**
//! (`KeyGenParameterSpec` with `PURPOSE_SIGN | PURPOSE_AGREE_KEY`,
//! `setIsStrongBoxBacked(true)` when `FEATURE_STRONGBOX_KEYSTORE` is present, else the TEE;
//! non-exportable). Token metadata, LUKs and counters live in `EncryptedSharedPreferences`
//! (or a file encrypted with a Keystore AES key), one entry per token.
//!
//! **iOS.** The device key is a **Secure Enclave** key made with CryptoKit
//! (`SecureEnclave.P256.Signing.PrivateKey`, access control
//! `.privateKeyUsage`); only its opaque `dataRepresentation` is kept, in the Keychain.
//! Tokens, LUKs and counters are Keychain items (`kSecClassGenericPassword`,
//! `kSecAttrAccessibleWhenUnlockedThisDeviceOnly`, so they never reach a backup or another
//! device).
//!
//! | trait method | Android | iOS |
//! |---|---|---|
//! | [`device_public_key`](SecureStore::device_public_key) | `KeyStore.getCertificate(alias).publicKey`, SEC1-encoded | `publicKey.x963Representation` |
//! | [`create_device_key`](SecureStore::create_device_key) | `KeyPairGenerator("EC", "AndroidKeyStore")` | `SecureEnclave.P256.Signing.PrivateKey()` |
//! | [`sign`](SecureStore::sign) | `Signature("SHA256withECDSA")`, DER → `r ‖ s` | `signature(for:)`, `.rawRepresentation` |
//! | [`open_batch`](SecureStore::open_batch) | `KeyAgreement("ECDH", "AndroidKeyStore")` for `Z`, then HKDF and AES-GCM in the app (Android 12+) | `SecureEnclave.P256.KeyAgreement.PrivateKey(dataRepresentation:)` → `sharedSecretFromKeyAgreement`, then HKDF and AES-GCM |
//! | [`device_id`](SecureStore::device_id), [`set_device_id`](SecureStore::set_device_id) | a preference | a Keychain item |
//! | [`pinned_time_key`](SecureStore::pinned_time_key), [`pin_time_key`](SecureStore::pin_time_key) | a preference (or a key shipped in the APK) | a Keychain item (or a key shipped in the app) |
//! | [`tokens`](SecureStore::tokens), [`save_token`](SecureStore::save_token), [`delete_token`](SecureStore::delete_token) | one encrypted preference per token | one Keychain item per token |
//! | [`claim_atc`](SecureStore::claim_atc) | the same entry, written with `commit()` (synchronous), not `apply()` | `SecItemUpdate` (synchronous) |
//!
//! Porting caveat: the protocol uses one device key for both ECDSA and ECDH. Keystore
//! allows both purposes on one key; CryptoKit types a Secure Enclave key as signing *or*
//! key agreement. Re-opening the same `dataRepresentation` as a key-agreement key is
//! what apps do today; if a platform refuses it, the protocol needs a second (agreement)
//! device key, which is a server change.

mod file;
mod key;
mod memory;
mod model;
mod state;

pub use file::{FileStore, Session, FILE_MODE};
pub use memory::MemoryStore;
pub use model::{StoredLuk, StoredToken, UsageReport};

use emv::cryptogram::KeyIndex;
use emv::luk_batch::{EncryptedBatch, LukEntry, PUBLIC_KEY_LEN};

/// A SEC1 uncompressed P-256 public key: `04 ‖ x ‖ y`.
pub type PublicKeySec1 = [u8; PUBLIC_KEY_LEN];
/// An ECDSA P-256 signature, `r ‖ s`.
pub type SignatureBytes = [u8; 64];

/// The phone's secure storage. Methods that change something are durable when they
/// return: a crash right after cannot undo them (this is what keeps an ATC from ever being
/// used twice).
pub trait SecureStore {
    /// The device key's public half, if the key exists.
    fn device_public_key(&self) -> Result<Option<PublicKeySec1>, StoreError>;
    /// Makes the device key inside the store. Refused if one exists: replacing it would
    /// orphan the enrolment and every token.
    fn create_device_key(&mut self) -> Result<PublicKeySec1, StoreError>;
    /// ECDSA P-256/SHA-256 over `message` with the device key.
    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, StoreError>;
    /// Opens a LUK batch sealed to the device key (`emv::luk_batch`).
    fn open_batch(
        &self,
        token_ref: &str,
        batch: &EncryptedBatch,
    ) -> Result<Vec<LukEntry>, StoreError>;

    /// The id the server gave this phone at enrolment.
    fn device_id(&self) -> Result<Option<String>, StoreError>;
    fn set_device_id(&mut self, id: &str) -> Result<(), StoreError>;

    /// The public key (SEC1) the server's signed time must verify with.
    fn pinned_time_key(&self) -> Result<Option<Vec<u8>>, StoreError>;
    fn pin_time_key(&mut self, key_sec1: &[u8]) -> Result<(), StoreError>;

    /// Every token this phone holds.
    fn tokens(&self) -> Result<Vec<StoredToken>, StoreError>;
    /// Adds the token, or replaces the one with its id.
    fn save_token(&mut self, token: StoredToken) -> Result<(), StoreError>;
    fn delete_token(&mut self, id: &str) -> Result<(), StoreError>;
    /// Spends one use of LUK `key_index` and the token's next ATC, durably, and returns
    /// that ATC. Call it before the ATC goes into a cryptogram.
    fn claim_atc(&mut self, token_id: &str, key_index: KeyIndex) -> Result<u16, StoreError>;
}

/// Why the store refused or failed. Messages never carry a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("this phone has no device key yet")]
    NoDeviceKey,
    #[error("this phone already has a device key")]
    DeviceKeyExists,
    #[error("this phone holds no such token")]
    UnknownToken,
    #[error("the token holds no such limited-use key")]
    UnknownKey,
    #[error("the limited-use key has no uses left")]
    KeyExhausted,
    #[error("the token's transaction counter is used up; provision the card again")]
    AtcExhausted,
    #[error("the key batch could not be opened")]
    Batch,
    #[error("the random number generator failed")]
    Random,
    #[error("wallet file: {0}")]
    Io(String),
    #[error("wallet file is not a wallet: {0}")]
    Corrupt(String),
    #[error("wallet file {path} can be read by others (mode {mode:o}); chmod 600 it")]
    Permissions { path: String, mode: u32 },
    #[error("wallet file {0} is in use by another process")]
    Locked(String),
}
