//! Demo mode: the LMK components live in a file next to the key store, so a developer can
//! start the server with no key ceremony. This defeats split knowledge entirely, which is
//! why it logs a warning every time and must never be used for real cards.

use std::io;
use std::path::Path;

use zeroize::Zeroizing;

use crate::engine::Engine;
use crate::error::HsmError;
use crate::fsutil;
use crate::keystore::{self, io_error};
use crate::lmk::{Component, Lmk};

/// File in the store directory holding the demo components, one hex string per line.
pub const DEMO_COMPONENTS_FILE: &str = "demo-lmk-components";

impl Engine {
    /// Opens (creating on first use) a development store in `dir` whose components are kept
    /// in `<dir>/demo-lmk-components` (mode 0600).
    pub fn open_demo(dir: &Path) -> Result<Self, HsmError> {
        tracing::warn!(
            dir = %dir.display(),
            "HSM demo mode: LMK components are stored next to the key store; \
             for development only, never with real cards"
        );
        let components = load_or_create_components(dir)?;
        // Components are written before the store, so a crash in between leaves components
        // without a store (recovered here), never a store nobody can open.
        if !keystore::store_path(dir).exists() {
            keystore::create(dir, &Lmk::combine(&components)?)?;
        }
        Self::open(dir, &components)
    }
}

fn load_or_create_components(dir: &Path) -> Result<Vec<Component>, HsmError> {
    let path = dir.join(DEMO_COMPONENTS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_components(&Zeroizing::new(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if keystore::store_path(dir).exists() {
                return Err(HsmError::storage(format!(
                    "{} exists but {} does not; this store was not made in demo mode",
                    keystore::store_path(dir).display(),
                    path.display()
                )));
            }
            std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
            let components = vec![Component::generate(), Component::generate()];
            let mut text = Zeroizing::new(String::new());
            for c in &components {
                text.push_str(&c.to_hex());
                text.push('\n');
            }
            fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| io_error(&path, &e))?;
            Ok(components)
        }
        Err(e) => Err(io_error(&path, &e)),
    }
}

fn parse_components(text: &str) -> Result<Vec<Component>, HsmError> {
    text.lines().filter(|l| !l.trim().is_empty()).map(Component::parse_hex).collect()
}
