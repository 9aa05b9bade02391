//! `HsmClient::tcp` against a real TCP server in this process: same answers as in-process,
//! a bounded pool under concurrency, and every failure bounded in time.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fresh_engine;
use emv::cryptogram::{self, CryptogramInput, EntryMode, KeyIndex};
use emv::luk_batch;
use hsm_sim::tcp::{serve, ServerLimits};
use hsm_sim::{Engine, HsmClient, HsmError, LukSpec, Pan, Psk, TcpClientConfig};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server for `engine` on `addr` (port 0: any free port); aborting the handle stops it
/// and closes its connections.
async fn start(
    addr: SocketAddr,
    engine: Arc<Engine>,
    psk: &Psk,
    limits: ServerLimits,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tokio::spawn(serve(listener, engine, psk.clone(), limits)))
}

async fn start_default(engine: Arc<Engine>, psk: &Psk) -> (SocketAddr, JoinHandle<()>) {
    start("127.0.0.1:0".parse().unwrap(), engine, psk, ServerLimits::default()).await
}

fn config(addr: SocketAddr, psk: &Psk) -> TcpClientConfig {
    let mut config = TcpClientConfig::new(addr.to_string(), psk.clone());
    config.connect_timeout_ms = 1_000;
    config.request_timeout_ms = 3_000;
    config
}

fn tcp_client(addr: SocketAddr, psk: &Psk) -> HsmClient {
    HsmClient::tcp(config(addr, psk)).unwrap()
}

async fn stop(server: JoinHandle<()>) {
    server.abort();
    let _ = server.await;
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, HsmError>) -> String {
    match result {
        Err(HsmError::Unavailable(msg)) => msg,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_helpers_give_the_same_results_as_in_process() {
    let (_dir, _c, engine) = fresh_engine();
    let engine = Arc::new(engine);
    let psk = Psk::generate();
    let (addr, _server) = start_default(Arc::clone(&engine), &psk).await;
    let local = HsmClient::in_process(Arc::clone(&engine));
    let remote = tcp_client(addr, &psk);

    // A PAN made over TCP decrypts in process and the other way round.
    let issued = remote.generate_pan("600000", 16).await.unwrap();
    let pan = local.decrypt_pan(&issued.ciphertext).await.unwrap();
    assert_eq!(remote.decrypt_pan(&issued.ciphertext).await.unwrap(), pan);
    assert_eq!(pan.last4(), issued.last4);
    assert_eq!(remote.pan_fingerprint(&pan).await.unwrap(), issued.fingerprint);
    let local_issued = local.generate_pan("600000", 19).await.unwrap();
    let local_pan = remote.decrypt_pan(&local_issued.ciphertext).await.unwrap();
    assert_eq!(local_pan.digit_count(), 19);
    assert_eq!(local.pan_fingerprint(&local_pan).await.unwrap(), local_issued.fingerprint);

    let sec1 = remote.public_key("jwt-signing").await.unwrap();
    assert_eq!(sec1, local.public_key("jwt-signing").await.unwrap());
    let key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let signature = remote.sign("jwt-signing", b"header.payload").await.unwrap();
    key.verify(b"header.payload", &Signature::from_slice(&signature).unwrap()).unwrap();

    let health = remote.health().await.unwrap();
    assert_eq!(health, local.health().await.unwrap());
    assert_eq!((health.status.as_str(), health.lmk_kcv.as_str()), ("ok", engine.lmk_kcv()));

    let made = remote.generate_issuer_key().await.unwrap();
    let versions = remote.issuer_key_versions().await.unwrap();
    assert_eq!(versions, local.issuer_key_versions().await.unwrap());
    assert_eq!(versions.last(), Some(&made));
}

#[tokio::test]
async fn cryptogram_verbs_work_over_tcp() {
    let (_dir, _c, engine) = fresh_engine();
    let psk = Psk::generate();
    let (addr, _server) = start_default(Arc::new(engine), &psk).await;
    let client = tcp_client(addr, &psk);
    let token_pan = Pan::parse("7001230000000015").unwrap();
    let device = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let public = device.public_key().to_encoded_point(false).as_bytes().to_vec();
    let key_index = KeyIndex::new(1_795_392_000, 1);
    let spec = LukSpec { key_index: key_index.0, expires_at_s: 1_795_478_400, max_uses: 5 };

    let batch = client.derive_luk_batch(1, &token_pan, "tok_1", &public, &[spec]).await.unwrap();
    let entries = luk_batch::open(&device, "tok_1", &batch).unwrap();
    let input = CryptogramInput {
        entry_mode: EntryMode::Qr,
        token_pan: token_pan.expose_digits().into(),
        key_index,
        atc: 1,
        generated_at_ms: 1_795_392_123_456,
        sync_age_s: 60,
        cdcvm: true,
        terminal: None,
        card_unpredictable_number: [1, 2, 3, 4],
    };
    let bytes = input.to_bytes().unwrap();
    let mut mac = cryptogram::compute(&entries[0].luk, &bytes);
    assert_eq!(client.verify_cryptogram(1, &token_pan, key_index, &bytes, &mac).await, Ok(true));
    mac[0] ^= 1;
    assert_eq!(client.verify_cryptogram(1, &token_pan, key_index, &bytes, &mac).await, Ok(false));
}

#[tokio::test]
async fn errors_cross_the_wire_unchanged() {
    let (_dir, _c, engine) = fresh_engine();
    let psk = Psk::generate();
    let (addr, _server) = start_default(Arc::new(engine), &psk).await;
    let client = tcp_client(addr, &psk);

    assert!(matches!(
        client.sign("pan-data", b"x").await,
        Err(HsmError::UsageNotPermitted { label, .. }) if label == "pan-data"
    ));
    assert_eq!(client.public_key("nope").await.unwrap_err(), HsmError::KeyNotFound("nope".into()));
    let mut ciphertext = client.generate_pan("600000", 16).await.unwrap().ciphertext;
    *ciphertext.last_mut().unwrap() ^= 1;
    assert_eq!(client.decrypt_pan(&ciphertext).await.unwrap_err(), HsmError::Crypto);
    assert!(matches!(client.generate_pan("6", 16).await, Err(HsmError::InvalidRequest(_))));
    // A refused request leaves the connection usable.
    assert_eq!(client.health().await.unwrap().status, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_share_a_bounded_pool() {
    let (_dir, _c, engine) = fresh_engine();
    let psk = Psk::generate();
    // The server accepts no more connections than the pool may open: a pool that overshot
    // its size would see connections refused and calls fail.
    let limits = ServerLimits { max_connections: 3, ..ServerLimits::default() };
    let (addr, _server) =
        start("127.0.0.1:0".parse().unwrap(), Arc::new(engine), &psk, limits).await;
    let mut config = config(addr, &psk);
    config.pool_size = 3;
    let client = HsmClient::tcp(config).unwrap();

    let tasks: Vec<_> = (0..48)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let issued = client.generate_pan("600000", 16).await.unwrap();
                let pan = client.decrypt_pan(&issued.ciphertext).await.unwrap();
                assert_eq!(client.pan_fingerprint(&pan).await.unwrap(), issued.fingerprint);
                issued.fingerprint
            })
        })
        .collect();
    let mut fingerprints = Vec::new();
    for task in tasks {
        fingerprints.push(task.await.unwrap());
    }
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 48, "every task got its own PAN");
}

#[tokio::test]
async fn wrong_psk_fails_the_handshake_without_hanging() {
    let (_dir, _c, engine) = fresh_engine();
    let psk = Psk::generate();
    let (addr, _server) = start_default(Arc::new(engine), &psk).await;
    let wrong = Psk::generate();
    let client = tcp_client(addr, &wrong);

    let started = Instant::now();
    let msg = assert_unavailable(client.health().await);
    // Well under the 1 s connect timeout would be typical; the bound only proves no hang.
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(msg.contains("pre-shared key"), "{msg}");
    for key in [&psk, &wrong] {
        assert!(!msg.contains(key.to_hex().as_str()), "{msg}");
    }
    // The right key still gets in.
    assert_eq!(tcp_client(addr, &psk).health().await.unwrap().status, "ok");
}

#[tokio::test]
async fn hsm_down_is_unavailable_within_the_connect_timeout() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let client = tcp_client(addr, &Psk::generate());
    let started = Instant::now();
    let msg = assert_unavailable(client.generate_pan("600000", 16).await);
    assert!(started.elapsed() < Duration::from_millis(1_000), "took {:?}", started.elapsed());
    assert!(msg.contains(&addr.to_string()), "{msg}");
}

#[tokio::test]
async fn an_hsm_that_never_answers_times_out() {
    // Connections complete in the kernel's backlog, but nobody ever answers the handshake.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = config(silent.local_addr().unwrap(), &Psk::generate());
    config.connect_timeout_ms = 300;
    let client = HsmClient::tcp(config).unwrap();
    let started = Instant::now();
    let msg = assert_unavailable(client.health().await);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(3_000), "{took:?}");
    assert!(msg.contains("connect timeout"), "{msg}");
}

#[tokio::test]
async fn client_recovers_after_the_server_restarts() {
    let (_dir, _c, engine) = fresh_engine();
    let engine = Arc::new(engine);
    let psk = Psk::generate();
    let (addr, server) = start_default(Arc::clone(&engine), &psk).await;
    let client = tcp_client(addr, &psk);
    client.health().await.unwrap();

    // Restart while the pool holds a connection to the old server: the first call after
    // it must not fail on that dead connection. (The pause is the restart's own downtime.)
    stop(server).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, server) = start(addr, Arc::clone(&engine), &psk, ServerLimits::default()).await;
    assert_eq!(client.health().await.unwrap().status, "ok");

    stop(server).await;
    assert_unavailable(client.health().await);
    let (_, _server) = start(addr, engine, &psk, ServerLimits::default()).await;
    assert_eq!(client.health().await.unwrap().status, "ok");
}

#[tokio::test]
async fn debug_output_never_shows_the_psk() {
    let psk = Psk::generate();
    let config = config("127.0.0.1:7700".parse().unwrap(), &psk);
    let client = HsmClient::tcp(config.clone()).unwrap();
    let hex = psk.to_hex();
    for text in [format!("{config:?}"), format!("{client:?}"), format!("{psk:?}")] {
        assert!(!text.to_lowercase().contains(hex.as_str()), "{text}");
        assert!(!common::has_hex_run(&text, 16), "{text}");
    }
    assert!(format!("{client:?}").contains("tcp, addr=127.0.0.1:7700"));
}

#[test]
fn a_pool_of_nothing_or_zero_timeouts_is_refused() {
    let psk = Psk::generate();
    let mut config = TcpClientConfig::new("127.0.0.1:7700", psk);
    config.pool_size = 0;
    assert!(matches!(HsmClient::tcp(config.clone()), Err(HsmError::InvalidRequest(_))));
    config.pool_size = 1;
    config.request_timeout_ms = 0;
    assert!(matches!(HsmClient::tcp(config), Err(HsmError::InvalidRequest(_))));
}
