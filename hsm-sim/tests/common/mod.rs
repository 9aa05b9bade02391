//! Shared test helpers. Not every test binary uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hsm_sim::{Component, Engine};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("hsm-sim-test-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new store with 3 components, opened once (so the base keys exist).
pub fn fresh_engine() -> (TempDir, Vec<Component>, Engine) {
    let dir = TempDir::new();
    let report = hsm_sim::init(dir.path(), 3).unwrap();
    let engine = Engine::open(dir.path(), &report.components).unwrap();
    (dir, report.components, engine)
}

pub fn keystore_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("keystore.json")).unwrap()).unwrap()
}

pub fn write_keystore_json(dir: &Path, value: &serde_json::Value) {
    std::fs::write(dir.join("keystore.json"), serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// Index of the key block labelled `label` in the store's JSON.
pub fn block_index(store: &serde_json::Value, label: &str) -> usize {
    store["keys"].as_array().unwrap().iter().position(|k| k["header"]["label"] == label).unwrap()
}

/// Whether `text` contains a run of at least `n` hex digits (a key printed in clear would).
pub fn has_hex_run(text: &str, n: usize) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}
