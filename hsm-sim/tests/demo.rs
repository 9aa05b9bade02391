//! Demo mode: components kept next to the store.

mod common;

use common::TempDir;
use hsm_sim::{Component, Engine, HsmClient, HsmError, DEMO_COMPONENTS_FILE};

#[tokio::test]
async fn demo_mode_creates_a_private_components_file_and_reopens() {
    let dir = TempDir::new();
    let store = dir.path().join("hsm");
    let first = HsmClient::in_process(Engine::open_demo(&store).unwrap());
    let key = first.public_key("jwt-signing").await.unwrap();
    let issued = first.generate_pan("600000", 16).await.unwrap();

    let path = store.join(DEMO_COMPONENTS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let components: Vec<Component> =
        text.lines().map(|l| Component::parse_hex(l).unwrap()).collect();
    assert_eq!(components.len(), 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let again = HsmClient::in_process(Engine::open_demo(&store).unwrap());
    assert_eq!(again.public_key("jwt-signing").await.unwrap(), key);
    assert_eq!(again.decrypt_pan(&issued.ciphertext).await.unwrap().last4(), issued.last4);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "components must not change");
    // The file's components are the real ones: the store opens with them outside demo mode.
    Engine::open(&store, &components).unwrap();
}

#[test]
fn demo_mode_refuses_a_store_it_did_not_make() {
    let dir = TempDir::new();
    hsm_sim::init(dir.path(), 2).unwrap();
    let err = Engine::open_demo(dir.path()).unwrap_err();
    assert!(matches!(&err, HsmError::Storage(m) if m.contains("not made in demo mode")), "{err}");
    assert!(!dir.path().join(DEMO_COMPONENTS_FILE).exists());
}

#[test]
fn demo_mode_recovers_when_the_store_was_never_written() {
    let dir = TempDir::new();
    Engine::open_demo(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join("keystore.json")).unwrap();
    Engine::open_demo(dir.path()).unwrap();
}
