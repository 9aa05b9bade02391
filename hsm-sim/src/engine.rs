//! The synchronous HSM engine: opens the key store under the LMK, holds the unwrapped keys in
//! zeroizing memory and executes verbs. Keys never leave it; verbs return only results.
//!
//! A tampered key block (any edit to its header or wrapped bytes) is refused when the store
//! is **opened**, not when the key is first used: every block is unwrapped at open.
//!
//! **Concurrency and rotation.** Most keys never change while the engine runs; they sit in
//! an immutable map that verbs read without locking. Keys whose usage
//! [rotates](KeyUsage::is_rotating) — the issuer master keys — gain versions at run time
//! (`GenerateIssuerKey`), so they live behind an `RwLock` together with the store file they
//! are persisted in. Verbs that use them take the read lock for the duration of the
//! operation; a rotation takes the write lock, wraps the new key under the LMK (which the
//! engine therefore keeps for its lifetime), saves the whole store atomically and only then
//! publishes the new version in memory: a failed save changes nothing. One engine owns a
//! store directory: two engines rotating the same store would each write their own view.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::HsmError;
use crate::keyblock::{KeyBlock, KeyHeader, KeyUsage};
use crate::keystore::{self, StoreFile};
use crate::labels::BASE_KEYS;
use crate::lmk::{Component, Lmk};
use crate::material::KeyMaterial;
use crate::verbs::{HealthReport, Request, Response};

/// An unwrapped key with the header it was stored under.
pub(crate) struct LoadedKey {
    pub header: KeyHeader,
    pub material: KeyMaterial,
}

/// The in-process HSM. `Send + Sync`: fixed keys are immutable, rotating keys are behind a
/// lock (see the module doc).
pub struct Engine {
    lmk: Lmk,
    lmk_kcv: String,
    dir: PathBuf,
    /// Keys that never change after open: label → version → key.
    keys: KeyMap,
    rotating: RwLock<Rotating>,
}

/// The part of the engine that changes at run time.
pub(crate) struct Rotating {
    /// Keys of a rotating usage: label → version → key.
    pub keys: KeyMap,
    /// The store as last saved; a rotation appends to a copy and saves it.
    pub file: StoreFile,
}

impl Engine {
    /// Opens the store in `dir` with the LMK components, checks the LMK against the stored
    /// check value, unwraps every key block, and on first open generates the base keys.
    pub fn open(dir: &Path, components: &[Component]) -> Result<Self, HsmError> {
        let mut file = keystore::load(dir)?;
        let lmk = Lmk::combine(components)?;
        if lmk.kcv() != file.lmk_kcv {
            return Err(HsmError::LmkMismatch { expected: file.lmk_kcv, got: lmk.kcv() });
        }
        let mut keys = unwrap_all(&lmk, &file.keys)?;
        let added = add_missing_base_keys(&lmk, &mut file, &mut keys)?;
        if added > 0 {
            keystore::save(dir, &file)?;
            tracing::info!(added, "generated base keys in the HSM key store");
        }
        let (fixed, rotating) = split_rotating(keys);
        Ok(Self {
            lmk,
            lmk_kcv: file.lmk_kcv.clone(),
            dir: dir.to_path_buf(),
            keys: fixed,
            rotating: RwLock::new(Rotating { keys: rotating, file }),
        })
    }

    /// Runs one verb.
    pub fn execute(&self, request: Request) -> Result<Response, HsmError> {
        tracing::debug!(verb = request.verb(), "hsm request");
        match request {
            Request::GeneratePan { bin, length } => {
                self.generate_pan(&bin, length).map(Response::GeneratePan)
            }
            Request::PanFingerprint { pan } => {
                self.fingerprint(&pan).map(|fingerprint| Response::PanFingerprint { fingerprint })
            }
            Request::DecryptPan { ciphertext } => {
                self.decrypt_pan(&ciphertext).map(|pan| Response::DecryptPan { pan })
            }
            Request::Sign { label, message } => {
                self.sign(&label, &message).map(|signature| Response::Sign { signature })
            }
            Request::PublicKey { label } => {
                self.public_key(&label).map(|sec1| Response::PublicKey { sec1 })
            }
            Request::Health => Ok(Response::Health(self.health())),
            Request::GenerateIssuerKey => self.generate_issuer_key().map(Response::IssuerKey),
            Request::IssuerKeyVersions => {
                Ok(Response::IssuerKeyVersions { versions: self.issuer_key_versions()? })
            }
            Request::DeriveLukBatch {
                imk_version,
                token_pan,
                token_ref,
                device_public_key,
                luks,
            } => self
                .derive_luk_batch(imk_version, &token_pan, &token_ref, &device_public_key, &luks)
                .map(Response::LukBatch),
            Request::VerifyCryptogram { imk_version, token_pan, key_index, input, cryptogram } => {
                self.verify_cryptogram(imk_version, &token_pan, key_index, &input, &cryptogram)
                    .map(|valid| Response::CryptogramVerified { valid })
            }
            Request::GenerateTerminalSecret { terminal_ref } => self
                .generate_terminal_secret(&terminal_ref)
                .map(|(secret, wrapped)| Response::TerminalSecret { secret, wrapped }),
            Request::VerifyTerminalMac { terminal_ref, wrapped, message, mac } => self
                .verify_terminal_mac(&terminal_ref, &wrapped, &message, &mac)
                .map(|valid| Response::TerminalMacVerified { valid }),
        }
    }

    /// Check value of the LMK this engine was opened under.
    pub fn lmk_kcv(&self) -> &str {
        &self.lmk_kcv
    }

    fn health(&self) -> HealthReport {
        let rotating = self.rotating_read().keys.values().map(BTreeMap::len).sum::<usize>();
        HealthReport {
            status: "ok".into(),
            lmk_kcv: self.lmk_kcv.clone(),
            key_count: self.keys.values().map(BTreeMap::len).sum::<usize>() + rotating,
        }
    }

    /// The key `label` at `version` (the newest when `None`) if its usage passes `allowed`.
    ///
    /// Only keys fixed at open are lent out by reference. A rotating key (issuer master
    /// key) named here is refused with `UsageNotPermitted`: the verbs allowed to use it
    /// reach it under the lock through [`Engine::rotating_read`].
    pub(crate) fn key(
        &self,
        label: &str,
        version: Option<u32>,
        allowed: impl Fn(KeyUsage) -> bool,
    ) -> Result<&LoadedKey, HsmError> {
        let Some(versions) = self.keys.get(label) else {
            let rotating = self.rotating_read();
            let usage =
                rotating.keys.get(label).and_then(|v| v.values().next()).map(|k| k.header.usage);
            return Err(match usage {
                Some(usage) => HsmError::UsageNotPermitted { label: label.into(), usage },
                None => HsmError::KeyNotFound(label.into()),
            });
        };
        let key = match version {
            Some(v) => {
                versions.get(&v).ok_or_else(|| HsmError::KeyNotFound(format!("{label} v{v}")))
            }
            None => {
                versions.values().next_back().ok_or_else(|| HsmError::KeyNotFound(label.into()))
            }
        }?;
        if !allowed(key.header.usage) {
            return Err(HsmError::UsageNotPermitted {
                label: label.into(),
                usage: key.header.usage,
            });
        }
        Ok(key)
    }

    /// Shared access to the rotating keys. Poisoning is ignored: no code panics while
    /// holding the lock, and the state is only replaced after a successful save.
    pub(crate) fn rotating_read(&self) -> RwLockReadGuard<'_, Rotating> {
        self.rotating.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive access to the rotating keys, for a rotation.
    pub(crate) fn rotating_write(&self) -> RwLockWriteGuard<'_, Rotating> {
        self.rotating.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the rotating key `header` describes (a new version of its label): wraps it
    /// under the LMK, saves the store atomically, then makes it usable. `rotating` is the
    /// state behind the write lock, held by the caller across the whole operation so two
    /// rotations cannot pick the same version.
    pub(crate) fn add_rotating_key(
        &self,
        rotating: &mut Rotating,
        header: KeyHeader,
        material: KeyMaterial,
    ) -> Result<(), HsmError> {
        if !header.usage.is_rotating() || header.usage.algorithm() != header.algorithm {
            return Err(HsmError::invalid("this key usage does not rotate"));
        }
        let versions = rotating.keys.get(&header.label);
        if versions.is_some_and(|v| v.contains_key(&header.version)) {
            return Err(HsmError::storage(format!(
                "key {:?} v{} already exists",
                header.label, header.version
            )));
        }
        let block = KeyBlock::wrap(&self.lmk, header.clone(), material.to_bytes().as_ref())?;
        let mut file = rotating.file.clone();
        file.keys.push(block);
        keystore::save(&self.dir, &file)?;
        rotating.file = file;
        rotating
            .keys
            .entry(header.label.clone())
            .or_default()
            .insert(header.version, LoadedKey { header, material });
        Ok(())
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rotating = self.rotating_read();
        let keys: Vec<String> = self
            .keys
            .values()
            .chain(rotating.keys.values())
            .flat_map(BTreeMap::values)
            .map(|k| format!("{} v{} {}", k.header.label, k.header.version, k.header.usage))
            .collect();
        f.debug_struct("Engine").field("lmk_kcv", &self.lmk_kcv).field("keys", &keys).finish()
    }
}

pub(crate) type KeyMap = BTreeMap<String, BTreeMap<u32, LoadedKey>>;

/// Splits the keys into those fixed at open and those of a rotating usage. `unwrap_all`
/// made sure all versions of a label share one usage.
fn split_rotating(keys: KeyMap) -> (KeyMap, KeyMap) {
    let (rotating, fixed) = keys.into_iter().partition(|(_, versions)| {
        versions.values().next().is_some_and(|k| k.header.usage.is_rotating())
    });
    (fixed, rotating)
}

/// Unwraps every block; any failure refuses the whole store (an HSM must not run on a key
/// set someone may have edited).
fn unwrap_all(lmk: &Lmk, blocks: &[KeyBlock]) -> Result<KeyMap, HsmError> {
    let mut keys = KeyMap::new();
    for block in blocks {
        let h = &block.header;
        let refused =
            |why: &str| HsmError::storage(format!("key block {:?} v{} {why}", h.label, h.version));
        if h.usage.algorithm() != h.algorithm {
            return Err(refused("has an algorithm its usage does not allow"));
        }
        let bytes = block.unwrap_key(lmk).map_err(|_| {
            refused("failed its integrity check under the LMK (altered or corrupt)")
        })?;
        let material = KeyMaterial::from_bytes(h.algorithm, &bytes)?;
        let slot = keys.entry(h.label.clone()).or_default();
        if slot.values().any(|k| k.header.usage != h.usage) {
            return Err(refused("has another usage than other versions of its label"));
        }
        if slot.insert(h.version, LoadedKey { header: h.clone(), material }).is_some() {
            return Err(refused("appears twice"));
        }
    }
    Ok(keys)
}

/// Generates each base key that has no version yet; returns how many were added.
fn add_missing_base_keys(
    lmk: &Lmk,
    file: &mut StoreFile,
    keys: &mut KeyMap,
) -> Result<usize, HsmError> {
    let mut added = 0;
    for (label, usage, algorithm) in BASE_KEYS {
        if keys.contains_key(label) {
            continue;
        }
        let header =
            KeyHeader { label: label.into(), usage, algorithm, version: 1, created_at: now() };
        let material = KeyMaterial::generate(algorithm);
        file.keys.push(KeyBlock::wrap(lmk, header.clone(), material.to_bytes().as_ref())?);
        keys.entry(label.into()).or_default().insert(1, LoadedKey { header, material });
        added += 1;
    }
    Ok(added)
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
