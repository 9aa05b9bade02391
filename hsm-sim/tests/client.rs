//! The async client handle over the in-process transport.

mod common;

use std::sync::Arc;

use common::fresh_engine;
use hsm_sim::{HsmClient, HsmError, Pan};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

#[tokio::test]
async fn typed_helpers_round_trip() {
    let (_dir, _c, engine) = fresh_engine();
    let kcv = engine.lmk_kcv().to_owned();
    let client = HsmClient::in_process(engine);

    let issued = client.generate_pan("600000", 16).await.unwrap();
    let pan = client.decrypt_pan(&issued.ciphertext).await.unwrap();
    assert_eq!(pan.last4(), issued.last4);
    assert_eq!(client.pan_fingerprint(&pan).await.unwrap(), issued.fingerprint);

    let key =
        VerifyingKey::from_sec1_bytes(&client.public_key("jwt-signing").await.unwrap()).unwrap();
    let signature = client.sign("jwt-signing", b"header.payload").await.unwrap();
    key.verify(b"header.payload", &Signature::from_slice(&signature).unwrap()).unwrap();

    let health = client.health().await.unwrap();
    assert_eq!((health.status.as_str(), health.lmk_kcv, health.key_count), ("ok", kcv, 6));
    assert!(!format!("{client:?}").contains(pan.expose_digits()));
}

#[tokio::test]
async fn errors_pass_through_unchanged() {
    let (_dir, _c, engine) = fresh_engine();
    let client = HsmClient::in_process(Arc::new(engine));
    assert!(matches!(client.sign("pan-data", b"x").await, Err(HsmError::UsageNotPermitted { .. })));
    let mut ciphertext = client.generate_pan("600000", 16).await.unwrap().ciphertext;
    *ciphertext.last_mut().unwrap() ^= 1;
    assert_eq!(client.decrypt_pan(&ciphertext).await.unwrap_err(), HsmError::Crypto);
    assert!(matches!(client.generate_pan("6", 16).await, Err(HsmError::InvalidRequest(_))));
    let other = Pan::parse("4111111111111111").unwrap();
    assert_eq!(client.pan_fingerprint(&other).await.unwrap().len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_work_concurrently_across_tasks() {
    let (_dir, _c, engine) = fresh_engine();
    let client = HsmClient::in_process(engine);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(
                async move { client.generate_pan("600000", 16).await.unwrap().fingerprint },
            )
        })
        .collect();
    let mut fingerprints = Vec::new();
    for task in tasks {
        fingerprints.push(task.await.unwrap());
    }
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 8);
}
