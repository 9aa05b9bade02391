//! The wallet file: mode 0600, replaced atomically, refused when others can read it; and
//! no secret in any `Debug` output or error message.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;
use mobile_sdk::secret::SecretText;
use mobile_sdk::store::Session;
use mobile_sdk::{FileStore, MemoryStore, SecureStore, StoreError};

#[test]
fn the_wallet_file_is_mode_0600_and_nothing_is_left_beside_it() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let issuer = Issuer::new();
    let mut wallet = ready(FileStore::open(&path).unwrap(), &luks(1, 2, 4, EXPIRES_S), &issuer);
    wallet.qr_payload(true).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["wallet.json"], "no temporary or lock file left behind");
}

#[test]
fn a_wallet_file_others_can_read_is_refused() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let mut store = FileStore::open(&path).unwrap();
    store.create_device_key().unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = FileStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Permissions { mode: 0o644, .. }), "{err:?}");
}

#[test]
fn a_missing_file_is_an_empty_wallet_created_on_first_change() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let mut store = FileStore::open(&path).unwrap();
    assert!(!path.exists());
    assert_eq!(store.device_public_key().unwrap(), None);
    let public = store.create_device_key().unwrap();
    assert_eq!(store.create_device_key().unwrap_err(), StoreError::DeviceKeyExists);
    assert_eq!(FileStore::open(&path).unwrap().device_public_key().unwrap(), Some(public));
}

/// Every secret a wallet file holds, read back from the file itself.
fn secrets_in(path: &std::path::Path) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    let wallet = &doc["wallet"];
    let mut secrets = vec![wallet["device_key"].as_str().unwrap().to_owned()];
    for token in wallet["tokens"].as_array().unwrap() {
        secrets.push(token["token_pan"].as_str().unwrap().to_owned());
        for luk in token["luks"].as_array().unwrap() {
            if let Some(key) = luk["luk"].as_str() {
                secrets.push(key.to_owned());
            }
        }
    }
    secrets.push(doc["session"]["access_token"].as_str().unwrap().to_owned());
    secrets.push(doc["session"]["refresh_token"].as_str().unwrap().to_owned());
    secrets
}

#[test]
fn debug_output_shows_no_secret() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let issuer = Issuer::new();
    let mut wallet = ready(FileStore::open(&path).unwrap(), &luks(1, 2, 4, EXPIRES_S), &issuer);
    let session = Session {
        access_token: SecretText::new("eyJhbGciOiJFUzI1NiJ9.access".into()),
        refresh_token: SecretText::new("refresh-0123456789abcdef".into()),
    };
    wallet.store_mut().set_session(Some(session)).unwrap();
    let secrets = secrets_in(&path);
    assert_eq!(secrets.len(), 6, "device key, PAN, two LUKs, two session tokens");

    let memory = ready(MemoryStore::new(), &luks(1, 2, 4, EXPIRES_S), &issuer);
    let outputs = [
        format!("{wallet:?}"),
        format!("{:#?}", wallet.store()),
        format!("{:?}", wallet.store().tokens().unwrap()),
        format!("{:?}", wallet.tokens().unwrap()),
        format!("{memory:?}"),
        format!("{:?}", wallet.replenish_request(wallet.now_ms().unwrap()).unwrap()),
    ];
    for output in &outputs {
        for secret in &secrets {
            assert!(!output.contains(secret.as_str()), "a secret in {output}");
        }
        assert!(!output.contains(TOKEN_PAN));
        // LUKs of the in-memory wallet, whose values the test knows.
        for entry in luks(1, 2, 4, EXPIRES_S) {
            assert!(!output.contains(&hex::encode(entry.luk.as_ref())));
        }
    }
    assert!(outputs[2].contains("…1234"), "the last four digits may show");
}

#[test]
fn a_corrupt_file_is_reported_without_its_contents() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let mut store = FileStore::open(&path).unwrap();
    store.create_device_key().unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let key_hex = serde_json::from_str::<serde_json::Value>(&text).unwrap()["wallet"]["device_key"]
        .as_str()
        .unwrap()
        .to_owned();
    fs::write(&path, text.replace(&key_hex, &format!("{key_hex}zz"))).unwrap();
    let err = FileStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(!err.to_string().contains(&key_hex), "{err}");
}

#[test]
fn two_handles_on_one_file_never_spend_the_same_atc() {
    let dir = TempDir::new();
    let path = dir.path().join("wallet.json");
    let issuer = Issuer::new();
    let mut first = ready(FileStore::open(&path).unwrap(), &luks(1, 2, 4, EXPIRES_S), &issuer);
    let mut second = mobile_sdk::Wallet::new(FileStore::open(&path).unwrap(), phone_clock());
    sync(&mut second, &issuer).unwrap();
    let mut atcs = Vec::new();
    for _ in 0..3 {
        for wallet_payload in [first.qr_payload(true), second.qr_payload(true)] {
            let (text, _) = wallet_payload.unwrap();
            atcs.push(emv::qr::decode(&text).unwrap().chip.atc);
        }
    }
    assert_eq!(atcs, [1, 2, 3, 4, 5, 6]);
}
