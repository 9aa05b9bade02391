//! The key store: one JSON file `<dir>/keystore.json` holding the LMK's check value and the
//! key blocks wrapped under it. Nothing in it is secret without the LMK components.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::HsmError;
use crate::fsutil;
use crate::keyblock::KeyBlock;
use crate::lmk::{Component, Lmk, MIN_COMPONENTS};

/// File name of the key store inside its directory.
pub const STORE_FILE: &str = "keystore.json";

/// Bumped when the file layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

/// More components than this is a typo, not a key ceremony.
pub const MAX_COMPONENTS: usize = 9;

/// The file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoreFile {
    pub format: u32,
    pub lmk_kcv: String,
    pub keys: Vec<KeyBlock>,
}

/// What `init` made: the components for the custodians and the check values to verify them.
/// `Debug` shows only check values (see [`Component`]).
#[derive(Debug)]
pub struct InitReport {
    pub components: Vec<Component>,
    pub lmk_kcv: String,
    pub store_path: PathBuf,
}

/// Path of the key store file in `dir`.
pub fn store_path(dir: &Path) -> PathBuf {
    dir.join(STORE_FILE)
}

/// Creates an empty key store in `dir` (created if missing) under a fresh LMK split into
/// `n_components` random components. Refuses to overwrite an existing store: its keys
/// would be lost for good.
pub fn init(dir: &Path, n_components: usize) -> Result<InitReport, HsmError> {
    if !(MIN_COMPONENTS..=MAX_COMPONENTS).contains(&n_components) {
        return Err(HsmError::invalid("the number of LMK components must be between 2 and 9"));
    }
    let components: Vec<Component> = (0..n_components).map(|_| Component::generate()).collect();
    let lmk = Lmk::combine(&components)?;
    let store_path = create(dir, &lmk)?;
    Ok(InitReport { components, lmk_kcv: lmk.kcv(), store_path })
}

/// Writes an empty store for `lmk`; the engine adds its base keys on first open.
pub(crate) fn create(dir: &Path, lmk: &Lmk) -> Result<PathBuf, HsmError> {
    let path = store_path(dir);
    if path.exists() {
        return Err(HsmError::storage(format!(
            "{} already exists; refusing to overwrite a key store",
            path.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
    save(dir, &StoreFile { format: FORMAT_VERSION, lmk_kcv: lmk.kcv(), keys: Vec::new() })?;
    Ok(path)
}

/// Reads and sanity-checks the store in `dir`.
pub(crate) fn load(dir: &Path) -> Result<StoreFile, HsmError> {
    let path = store_path(dir);
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => HsmError::storage(format!(
            "no key store at {}; run `forecourt-hsm init --dir {}` first",
            path.display(),
            dir.display()
        )),
        _ => io_error(&path, &e),
    })?;
    let file: StoreFile = serde_json::from_slice(&bytes).map_err(|e| {
        HsmError::storage(format!("{} is not a valid key store: {e}", path.display()))
    })?;
    if file.format != FORMAT_VERSION {
        return Err(HsmError::storage(format!(
            "{} has format {}, this build reads format {FORMAT_VERSION}",
            path.display(),
            file.format
        )));
    }
    Ok(file)
}

/// Replaces the store in `dir` atomically.
pub(crate) fn save(dir: &Path, file: &StoreFile) -> Result<(), HsmError> {
    let path = store_path(dir);
    let bytes = serde_json::to_vec_pretty(file)
        .map_err(|e| HsmError::storage(format!("encoding key store: {e}")))?;
    fsutil::write_atomic(&path, &bytes).map_err(|e| io_error(&path, &e))
}

pub(crate) fn io_error(path: &Path, e: &io::Error) -> HsmError {
    HsmError::storage(format!("{}: {e}", path.display()))
}
