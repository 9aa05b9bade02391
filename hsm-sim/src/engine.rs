//! The synchronous HSM engine: opens the key store under the LMK, holds the unwrapped keys in
//! zeroizing memory and executes verbs. Keys never leave it; verbs return only results.
//!
//! A tampered key block (any edit to its header or wrapped bytes) is refused when the store
//! is **opened**, not when the key is first used: every block is unwrapped at open.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
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

/// The in-process HSM. Immutable after open, hence `Send + Sync` without locks.
pub struct Engine {
    lmk_kcv: String,
    /// label → version → key.
    keys: BTreeMap<String, BTreeMap<u32, LoadedKey>>,
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
        Ok(Self { lmk_kcv: file.lmk_kcv, keys })
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
        }
    }

    /// Check value of the LMK this engine was opened under.
    pub fn lmk_kcv(&self) -> &str {
        &self.lmk_kcv
    }

    fn health(&self) -> HealthReport {
        HealthReport {
            status: "ok".into(),
            lmk_kcv: self.lmk_kcv.clone(),
            key_count: self.keys.values().map(BTreeMap::len).sum(),
        }
    }

    /// The key `label` at `version` (the newest when `None`) if its usage passes `allowed`.
    pub(crate) fn key(
        &self,
        label: &str,
        version: Option<u32>,
        allowed: impl Fn(KeyUsage) -> bool,
    ) -> Result<&LoadedKey, HsmError> {
        let versions = self.keys.get(label).ok_or_else(|| HsmError::KeyNotFound(label.into()))?;
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
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self
            .keys
            .values()
            .flat_map(BTreeMap::values)
            .map(|k| format!("{} v{} {}", k.header.label, k.header.version, k.header.usage))
            .collect();
        f.debug_struct("Engine").field("lmk_kcv", &self.lmk_kcv).field("keys", &keys).finish()
    }
}

type KeyMap = BTreeMap<String, BTreeMap<u32, LoadedKey>>;

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

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
