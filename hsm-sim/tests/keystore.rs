//! Key store: init, open, LMK check, base keys, tamper detection.

mod common;

use common::{block_index, fresh_engine, keystore_json, write_keystore_json, TempDir};
use hsm_sim::lmk::Lmk;
use hsm_sim::{Component, Engine, HsmError, Pan, Request, Response};

fn health(engine: &Engine) -> hsm_sim::HealthReport {
    match engine.execute(Request::Health).unwrap() {
        Response::Health(h) => h,
        other => panic!("unexpected {other:?}"),
    }
}

fn public_key(engine: &Engine, label: &str) -> Vec<u8> {
    match engine.execute(Request::PublicKey { label: label.into() }).unwrap() {
        Response::PublicKey { sec1 } => sec1,
        other => panic!("unexpected {other:?}"),
    }
}

fn fingerprint(engine: &Engine, pan: &str) -> [u8; 32] {
    let pan = Pan::parse(pan).unwrap();
    match engine.execute(Request::PanFingerprint { pan }).unwrap() {
        Response::PanFingerprint { fingerprint } => fingerprint,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn init_then_open_round_trip() {
    let dir = TempDir::new();
    let sub = dir.path().join("new-store");
    let report = hsm_sim::init(&sub, 3).unwrap();
    assert_eq!(report.components.len(), 3);
    assert_eq!(report.store_path, sub.join("keystore.json"));
    assert_eq!(report.lmk_kcv, Lmk::combine(&report.components).unwrap().kcv());
    assert_eq!(keystore_json(&sub)["keys"].as_array().unwrap().len(), 0, "init stores no keys");
    let engine = Engine::open(&sub, &report.components).unwrap();
    let h = health(&engine);
    assert_eq!((h.status.as_str(), h.lmk_kcv.as_str(), h.key_count), ("ok", &*report.lmk_kcv, 6));
}

#[test]
fn components_in_any_order_open_the_store() {
    let dir = TempDir::new();
    let mut report = hsm_sim::init(dir.path(), 2).unwrap();
    report.components.reverse();
    Engine::open(dir.path(), &report.components).unwrap();
}

#[test]
fn init_refuses_an_existing_store_and_bad_counts() {
    let (dir, _components, _engine) = fresh_engine();
    let before = std::fs::read(dir.path().join("keystore.json")).unwrap();
    assert!(
        matches!(hsm_sim::init(dir.path(), 3), Err(HsmError::Storage(m)) if m.contains("already exists"))
    );
    assert_eq!(std::fs::read(dir.path().join("keystore.json")).unwrap(), before);
    let other = TempDir::new();
    assert!(matches!(hsm_sim::init(other.path(), 1), Err(HsmError::InvalidRequest(_))));
    assert!(matches!(hsm_sim::init(other.path(), 10), Err(HsmError::InvalidRequest(_))));
}

#[test]
fn base_keys_are_created_once_and_stable_across_reopen() {
    let (dir, components, engine) = fresh_engine();
    let jwt = public_key(&engine, "jwt-signing");
    let time = public_key(&engine, "time-signing");
    assert_ne!(jwt, time);
    let fp = fingerprint(&engine, "4111111111111111");
    let store = keystore_json(dir.path());
    drop(engine);

    let engine = Engine::open(dir.path(), &components).unwrap();
    assert_eq!(public_key(&engine, "jwt-signing"), jwt);
    assert_eq!(public_key(&engine, "time-signing"), time);
    assert_eq!(fingerprint(&engine, "4111111111111111"), fp);
    assert_eq!(keystore_json(dir.path()), store, "reopen must not rewrite or add keys");
    let labels: Vec<_> =
        store["keys"].as_array().unwrap().iter().map(|k| k["header"]["label"].clone()).collect();
    assert_eq!(
        labels,
        [
            "pan-data",
            "pan-fingerprint",
            "jwt-signing",
            "time-signing",
            "issuer-master-key",
            "terminal-key-wrap"
        ]
    );
}

#[test]
fn pan_ciphertext_survives_reopen() {
    let (dir, components, engine) = fresh_engine();
    let Response::GeneratePan(issued) =
        engine.execute(Request::GeneratePan { bin: "600000".into(), length: 16 }).unwrap()
    else {
        panic!("wrong response")
    };
    let engine = Engine::open(dir.path(), &components).unwrap();
    let Response::DecryptPan { pan } =
        engine.execute(Request::DecryptPan { ciphertext: issued.ciphertext }).unwrap()
    else {
        panic!("wrong response")
    };
    assert_eq!(pan.last4(), issued.last4);
}

#[test]
fn wrong_component_is_lmk_mismatch_naming_both_check_values() {
    let (dir, mut components, _engine) = fresh_engine();
    let expected = Lmk::combine(&components).unwrap().kcv();
    components[1] = Component::generate();
    let got = Lmk::combine(&components).unwrap().kcv();
    let err = Engine::open(dir.path(), &components).unwrap_err();
    assert_eq!(err, HsmError::LmkMismatch { expected: expected.clone(), got: got.clone() });
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!("LMK check value mismatch: expected {expected}, got {got}; a component is wrong")
    );
    assert!(!msg.contains(components[1].to_hex().as_str()));
}

#[test]
fn a_missing_component_is_a_mismatch_too() {
    let (dir, components, _engine) = fresh_engine();
    let err = Engine::open(dir.path(), &components[..2]).unwrap_err();
    assert!(matches!(err, HsmError::LmkMismatch { .. }), "{err:?}");
    assert!(matches!(Engine::open(dir.path(), &components[..1]), Err(HsmError::InvalidRequest(_))));
}

fn assert_refused_at_open(edit: impl FnOnce(&mut serde_json::Value)) {
    let (dir, components, engine) = fresh_engine();
    drop(engine);
    let mut store = keystore_json(dir.path());
    edit(&mut store);
    write_keystore_json(dir.path(), &store);
    let err = Engine::open(dir.path(), &components).unwrap_err();
    assert!(matches!(&err, HsmError::Storage(_)), "{err:?}");
}

#[test]
fn edited_usage_in_keystore_json_is_refused_at_open() {
    // Usage and algorithm edited together, so only the AAD check can catch it.
    assert_refused_at_open(|store| {
        let i = block_index(store, "pan-data");
        store["keys"][i]["header"]["usage"] = "jwt_signing".into();
        store["keys"][i]["header"]["algorithm"] = "ecdsa_p256".into();
    });
    // Usage alone: inconsistent with the algorithm.
    assert_refused_at_open(|store| {
        let i = block_index(store, "pan-fingerprint");
        store["keys"][i]["header"]["usage"] = "pan_encryption".into();
    });
    // Turning the time key into a JWT key stays consistent: only the AAD catches it.
    assert_refused_at_open(|store| {
        let i = block_index(store, "time-signing");
        store["keys"][i]["header"]["usage"] = "jwt_signing".into();
    });
}

#[test]
fn edited_label_version_or_wrapped_bytes_are_refused_at_open() {
    assert_refused_at_open(|store| {
        let i = block_index(store, "time-signing");
        store["keys"][i]["header"]["label"] = "jwt-signing-2".into();
    });
    assert_refused_at_open(|store| {
        let i = block_index(store, "pan-data");
        store["keys"][i]["header"]["version"] = 2.into();
    });
    assert_refused_at_open(|store| {
        let i = block_index(store, "pan-data");
        let wrapped = store["keys"][i]["wrapped"].as_str().unwrap();
        let flipped = if wrapped.starts_with('0') { "1" } else { "0" };
        store["keys"][i]["wrapped"] = format!("{flipped}{}", &wrapped[1..]).into();
    });
}

#[test]
fn a_duplicated_block_is_refused() {
    assert_refused_at_open(|store| {
        let block = store["keys"][0].clone();
        store["keys"].as_array_mut().unwrap().push(block);
    });
}

#[test]
fn an_edited_store_check_value_is_a_mismatch() {
    let (dir, components, _engine) = fresh_engine();
    let mut store = keystore_json(dir.path());
    store["lmk_kcv"] = "000000".into();
    write_keystore_json(dir.path(), &store);
    assert!(matches!(
        Engine::open(dir.path(), &components),
        Err(HsmError::LmkMismatch { expected, .. }) if expected == "000000"
    ));
}

#[test]
fn opening_without_a_store_says_to_run_init() {
    let dir = TempDir::new();
    let components = [Component::generate(), Component::generate()];
    let err = Engine::open(dir.path(), &components).unwrap_err();
    assert!(matches!(&err, HsmError::Storage(m) if m.contains("forecourt-hsm init")), "{err}");
}

#[test]
fn writes_leave_no_temporary_files() {
    let (dir, _components, _engine) = fresh_engine();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["keystore.json"]);
}

#[cfg(unix)]
#[test]
fn keystore_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _components, _engine) = fresh_engine();
    let mode = std::fs::metadata(dir.path().join("keystore.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
