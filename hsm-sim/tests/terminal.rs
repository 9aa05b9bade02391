//! Terminal secrets (`docs/TERMINAL-API.md`, `docs/HSM.md` "Terminal secrets"): the HSM makes
//! a terminal's signing secret, hands it out once with a wrapped copy bound to the terminal,
//! and verifies request MACs by unwrapping that copy inside; what never gets printed; the
//! key-wrap key's usage, versions and back-fill into older stores; both transports.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::{block_index, fresh_engine, has_hex_run, keystore_json, write_keystore_json, TempDir};
use emv::terminal_auth::{self, canonical_request};
use hsm_sim::keyblock::{KeyAlgorithm, KeyBlock, KeyHeader};
use hsm_sim::labels::TERMINAL_KEY_WRAP;
use hsm_sim::lmk::Lmk;
use hsm_sim::tcp::{serve, ServerLimits};
use hsm_sim::{
    Component, Engine, HsmClient, HsmError, KeyUsage, Psk, Request, Response, TcpClientConfig,
    TerminalSecret,
};
use tokio::net::TcpListener;

const TERMINAL: &str = "01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0e";
const OTHER_TERMINAL: &str = "01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0f";
const NOW_MS: i64 = 1_795_392_123_456;
const WRAPPED_LEN: usize = 65;

fn generate(engine: &Engine, terminal_ref: &str) -> Result<(TerminalSecret, Vec<u8>), HsmError> {
    match engine.execute(Request::GenerateTerminalSecret { terminal_ref: terminal_ref.into() })? {
        Response::TerminalSecret { secret, wrapped } => Ok((secret, wrapped)),
        other => panic!("unexpected {other:?}"),
    }
}

fn verify(
    engine: &Engine,
    terminal_ref: &str,
    wrapped: &[u8],
    message: &[u8],
    mac: [u8; 32],
) -> Result<bool, HsmError> {
    let request = Request::VerifyTerminalMac {
        terminal_ref: terminal_ref.into(),
        wrapped: wrapped.to_vec(),
        message: message.to_vec(),
        mac,
    };
    match engine.execute(request)? {
        Response::TerminalMacVerified { valid } => Ok(valid),
        other => panic!("unexpected {other:?}"),
    }
}

/// A terminal's signed authorization request: canonical bytes and MAC.
fn signed_request(secret: &[u8; 32], terminal_ref: &str, nonce: &str) -> (Vec<u8>, [u8; 32]) {
    let canonical = canonical_request(
        "POST",
        "/v1/terminal/authorizations",
        terminal_ref,
        NOW_MS,
        nonce,
        br#"{"amount_minor":5000,"currency":978}"#,
    );
    let mac = terminal_auth::sign(secret, &canonical);
    (canonical, mac)
}

#[test]
fn a_generated_secret_signs_requests_the_hsm_verifies() {
    let (_dir, _c, engine) = fresh_engine();
    let (secret, wrapped) = generate(&engine, TERMINAL).unwrap();
    assert_eq!(wrapped.len(), WRAPPED_LEN);
    assert_eq!(wrapped[..5], [1, 0, 0, 0, 1], "format 1, key version 1");
    assert!(!wrapped.windows(8).any(|w| secret.expose().windows(8).any(|s| s == w)));

    let nonce = terminal_auth::random_nonce();
    let (canonical, mac) = signed_request(secret.expose(), TERMINAL, &nonce);
    // As the server would see it: headers parsed back, canonical request rebuilt.
    let header_mac = terminal_auth::parse_signature(&terminal_auth::signature_hex(&mac)).unwrap();
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, header_mac), Ok(true));
    assert!(terminal_auth::verify(secret.expose(), &canonical, &mac));

    // Every call makes a new secret and a new wrapping, even for the same terminal.
    let (again, rewrapped) = generate(&engine, TERMINAL).unwrap();
    assert_ne!(again, secret);
    assert_ne!(rewrapped, wrapped);
    assert_eq!(verify(&engine, TERMINAL, &rewrapped, &canonical, mac), Ok(false));
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, mac), Ok(true));
}

#[test]
fn another_terminal_or_any_tampering_is_invalid_not_an_error() {
    let (_dir, _c, engine) = fresh_engine();
    let (secret, wrapped) = generate(&engine, TERMINAL).unwrap();
    let (other_secret, other_wrapped) = generate(&engine, OTHER_TERMINAL).unwrap();
    let (canonical, mac) = signed_request(secret.expose(), TERMINAL, "0123456789abcdef");
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, mac), Ok(true));

    // A wrapped secret is bound to its terminal: not usable under another reference, and
    // another terminal's wrapped secret does not stand in for this one's.
    assert_eq!(verify(&engine, OTHER_TERMINAL, &wrapped, &canonical, mac), Ok(false));
    assert_eq!(verify(&engine, TERMINAL, &other_wrapped, &canonical, mac), Ok(false));
    assert_eq!(verify(&engine, &TERMINAL.to_uppercase(), &wrapped, &canonical, mac), Ok(false));
    // Another terminal's valid signature over the same request is no good either.
    let (_, other_mac) = signed_request(other_secret.expose(), TERMINAL, "0123456789abcdef");
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, other_mac), Ok(false));

    // Any flipped bit of the MAC, of the message, of the wrapped secret.
    for i in 0..mac.len() {
        let mut bad = mac;
        bad[i] ^= 0x01;
        assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, bad), Ok(false), "mac {i}");
    }
    for i in 0..canonical.len() {
        let mut bad = canonical.clone();
        bad[i] ^= 0x20;
        assert_eq!(verify(&engine, TERMINAL, &wrapped, &bad, mac), Ok(false), "message {i}");
    }
    for i in 0..wrapped.len() {
        for bit in [0x01, 0x80] {
            let mut bad = wrapped.clone();
            bad[i] ^= bit;
            assert_eq!(verify(&engine, TERMINAL, &bad, &canonical, mac), Ok(false), "wrapped {i}");
        }
    }
    // Truncated, extended, empty, or another format: still just "no".
    for bad in [
        wrapped[..WRAPPED_LEN - 1].to_vec(),
        [wrapped.as_slice(), &[0]].concat(),
        Vec::new(),
        vec![0u8; WRAPPED_LEN],
    ] {
        assert_eq!(verify(&engine, TERMINAL, &bad, &canonical, mac), Ok(false));
    }
    assert_eq!(
        verify(&engine, TERMINAL, &wrapped, &canonical[..canonical.len() - 1], mac),
        Ok(false)
    );
    assert_eq!(verify(&engine, TERMINAL, &wrapped, b"", mac), Ok(false));
    // References that could never have a secret bound to them.
    for bad_ref in ["", " ", "a b", "terminal\n", &"t".repeat(129)] {
        assert_eq!(verify(&engine, bad_ref, &wrapped, &canonical, mac), Ok(false), "{bad_ref:?}");
    }
    // And none of this disturbed the right answer.
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, mac), Ok(true));
}

#[test]
fn generate_refuses_malformed_terminal_refs_without_echo() {
    let (_dir, _c, engine) = fresh_engine();
    for bad in ["", " ", "has space", "tab\there", "new\nline", "é", &"t".repeat(129)] {
        let err = generate(&engine, bad).unwrap_err();
        let HsmError::InvalidRequest(msg) = &err else { panic!("{bad:?}: {err:?}") };
        assert!(msg.contains("terminal_ref"), "{msg}");
        if bad.len() > 2 {
            assert!(!msg.contains(bad), "{msg}");
        }
    }
    assert!(generate(&engine, &"~".repeat(128)).is_ok());
    assert!(generate(&engine, "x").is_ok());
}

#[test]
fn the_wrap_key_is_for_terminal_secrets_only() {
    let (_dir, _c, engine) = fresh_engine();
    let refused = HsmError::UsageNotPermitted {
        label: TERMINAL_KEY_WRAP.into(),
        usage: KeyUsage::TerminalKeyWrap,
    };
    let sign = Request::Sign { label: TERMINAL_KEY_WRAP.into(), message: b"x".to_vec() };
    assert_eq!(engine.execute(sign).unwrap_err(), refused);
    let public = Request::PublicKey { label: TERMINAL_KEY_WRAP.into() };
    assert_eq!(engine.execute(public).unwrap_err(), refused);
    // A PAN ciphertext is not a wrapped terminal secret, nor the other way round.
    let Response::GeneratePan(issued) =
        engine.execute(Request::GeneratePan { bin: "600000".into(), length: 16 }).unwrap()
    else {
        panic!()
    };
    let (secret, wrapped) = generate(&engine, TERMINAL).unwrap();
    let (canonical, mac) = signed_request(secret.expose(), TERMINAL, "0123456789abcdef");
    assert_eq!(verify(&engine, TERMINAL, &issued.ciphertext, &canonical, mac), Ok(false));
    let decrypt = Request::DecryptPan { ciphertext: wrapped };
    assert!(engine.execute(decrypt).is_err());
}

#[test]
fn debug_output_never_shows_the_secret_or_the_mac() {
    let (_dir, _c, engine) = fresh_engine();
    let generate_request = Request::GenerateTerminalSecret { terminal_ref: TERMINAL.into() };
    let response = engine.execute(generate_request.clone()).unwrap();
    let Response::TerminalSecret { secret, wrapped } = &response else { panic!() };
    let secret_bytes = *secret.expose();
    let (canonical, mac) = signed_request(&secret_bytes, TERMINAL, "0123456789abcdef");
    let verify_request = Request::VerifyTerminalMac {
        terminal_ref: TERMINAL.into(),
        wrapped: wrapped.clone(),
        message: canonical.clone(),
        mac,
    };
    let verified = engine.execute(verify_request.clone()).unwrap();
    assert_eq!(verified, Response::TerminalMacVerified { valid: true });

    let texts = [
        format!("{generate_request:?} {generate_request:#?}"),
        format!("{response:?} {response:#?}"),
        format!("{secret:?} {secret:#?}"),
        format!("{verify_request:?} {verify_request:#?}"),
        format!("{verified:?}"),
        format!("{engine:?}"),
    ];
    let secrets = [
        hex::encode(secret_bytes),
        hex::encode_upper(secret_bytes),
        format!("{secret_bytes:?}").trim_end_matches(']').to_owned(),
        format!("{:?}", &secret_bytes[..4]).trim_end_matches(']').to_owned(),
        hex::encode(mac),
        format!("{mac:?}").trim_end_matches(']').to_owned(),
        format!("{:?}", &mac[..4]).trim_end_matches(']').to_owned(),
    ];
    for text in &texts {
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{s} leaked in {text}");
        }
        assert!(!has_hex_run(text, 40), "hex run in {text}");
    }
    assert!(texts[1].contains("TerminalSecret(<redacted>)"), "{}", texts[1]);
    assert!(texts[3].contains(TERMINAL) && texts[3].contains("<redacted>"), "{}", texts[3]);
    assert!(texts[3].contains(&format!("<{} bytes>", canonical.len())), "{}", texts[3]);
    assert_eq!(generate_request.verb(), "generate_terminal_secret");
    assert_eq!(
        (response.verb(), verified.verb()),
        ("generate_terminal_secret", "verify_terminal_mac")
    );
}

#[test]
fn terminal_verbs_cross_the_wire_as_json() {
    let (_dir, _c, engine) = fresh_engine();
    let request = Request::GenerateTerminalSecret { terminal_ref: TERMINAL.into() };
    let json = serde_json::to_value(&request).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"verb": "generate_terminal_secret", "terminal_ref": TERMINAL})
    );
    assert_eq!(serde_json::from_value::<Request>(json).unwrap(), request);

    let response = engine.execute(request).unwrap();
    let json = serde_json::to_value(&response).unwrap();
    let Response::TerminalSecret { secret, wrapped } = &response else { panic!() };
    assert_eq!(json["verb"], "terminal_secret");
    assert_eq!(json["secret"].as_str(), Some(hex::encode(secret.expose()).as_str()), "hex");
    assert_eq!(json["wrapped"].as_str(), Some(hex::encode(wrapped).as_str()));
    assert_eq!(serde_json::from_value::<Response>(json).unwrap(), response);
    let short = serde_json::json!({"verb": "terminal_secret", "secret": "abcd", "wrapped": ""});
    assert!(serde_json::from_value::<Response>(short).is_err());

    let verify = Request::VerifyTerminalMac {
        terminal_ref: TERMINAL.into(),
        wrapped: wrapped.clone(),
        message: b"forecourt-terminal/v1\n".to_vec(),
        mac: [0xAB; 32],
    };
    let json = serde_json::to_value(&verify).unwrap();
    assert_eq!(json["verb"], "verify_terminal_mac");
    assert_eq!(json["mac"].as_str(), Some("ab".repeat(32).as_str()));
    assert_eq!(json["message"], hex::encode(b"forecourt-terminal/v1\n"));
    assert_eq!(serde_json::from_value::<Request>(json).unwrap(), verify);
    let answer = Response::TerminalMacVerified { valid: false };
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(json, serde_json::json!({"verb": "terminal_mac_verified", "valid": false}));
    assert_eq!(serde_json::from_value::<Response>(json).unwrap(), answer);
}

#[test]
fn wrapped_secrets_survive_reopen() {
    let (dir, components, engine) = fresh_engine();
    let (secret, wrapped) = generate(&engine, TERMINAL).unwrap();
    let (canonical, mac) = signed_request(secret.expose(), TERMINAL, "0123456789abcdef");
    drop(engine);
    let engine = Engine::open(dir.path(), &components).unwrap();
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, mac), Ok(true));
}

#[test]
fn a_store_without_the_wrap_key_gains_it_on_open() {
    let (dir, components, engine) = fresh_engine();
    drop(engine);
    // A store made before terminal secrets existed: the five older base keys only.
    let mut store = keystore_json(dir.path());
    let i = block_index(&store, TERMINAL_KEY_WRAP);
    store["keys"].as_array_mut().unwrap().remove(i);
    write_keystore_json(dir.path(), &store);
    let older = keystore_json(dir.path());
    assert_eq!(older["keys"].as_array().unwrap().len(), 5);

    let engine = Engine::open(dir.path(), &components).unwrap();
    let Response::Health(health) = engine.execute(Request::Health).unwrap() else { panic!() };
    assert_eq!(health.key_count, 6);
    let now = keystore_json(dir.path());
    let keys = now["keys"].as_array().unwrap();
    assert_eq!(keys[..5], older["keys"].as_array().unwrap()[..], "older keys untouched");
    assert_eq!(keys[5]["header"]["label"], TERMINAL_KEY_WRAP);
    assert_eq!(keys[5]["header"]["usage"], "terminal_key_wrap");
    assert_eq!(keys[5]["header"]["algorithm"], "aes256_gcm");
    assert_eq!(keys[5]["header"]["version"], 1);

    let (secret, wrapped) = generate(&engine, TERMINAL).unwrap();
    let (canonical, mac) = signed_request(secret.expose(), TERMINAL, "0123456789abcdef");
    drop(engine);
    let engine = Engine::open(dir.path(), &components).unwrap();
    assert_eq!(keystore_json(dir.path()), now, "the next open adds nothing");
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, mac), Ok(true));
}

fn push_block(dir: &TempDir, components: &[Component], header: KeyHeader, key: &[u8; 32]) {
    let lmk = Lmk::combine(components).unwrap();
    let block = KeyBlock::wrap(&lmk, header, key).unwrap();
    let mut store = keystore_json(dir.path());
    store["keys"].as_array_mut().unwrap().push(serde_json::to_value(&block).unwrap());
    write_keystore_json(dir.path(), &store);
}

fn wrap_header(usage: KeyUsage, version: u32) -> KeyHeader {
    KeyHeader {
        label: TERMINAL_KEY_WRAP.into(),
        usage,
        algorithm: KeyAlgorithm::Aes256Gcm,
        version,
        created_at: 1_795_392_000,
    }
}

#[test]
fn wrapped_secrets_name_their_wrap_key_version() {
    let (dir, components, engine) = fresh_engine();
    let (old_secret, old_wrapped) = generate(&engine, TERMINAL).unwrap();
    drop(engine);
    // An operator added version 2 of the wrap key: new secrets use it, old ones still verify.
    push_block(&dir, &components, wrap_header(KeyUsage::TerminalKeyWrap, 2), &[7u8; 32]);
    let engine = Engine::open(dir.path(), &components).unwrap();

    let (secret, wrapped) = generate(&engine, TERMINAL).unwrap();
    assert_eq!(wrapped[..5], [1, 0, 0, 0, 2]);
    let (canonical, mac) = signed_request(secret.expose(), TERMINAL, "0123456789abcdef");
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, mac), Ok(true));
    let (old_canonical, old_mac) =
        signed_request(old_secret.expose(), TERMINAL, "fedcba9876543210");
    assert_eq!(verify(&engine, TERMINAL, &old_wrapped, &old_canonical, old_mac), Ok(true));

    // Relabelled with the other version, or with one this HSM does not hold: no.
    let mut relabelled = old_wrapped.clone();
    relabelled[4] = 2;
    assert_eq!(verify(&engine, TERMINAL, &relabelled, &old_canonical, old_mac), Ok(false));
    relabelled[4] = 3;
    assert_eq!(verify(&engine, TERMINAL, &relabelled, &old_canonical, old_mac), Ok(false));
}

#[test]
fn a_wrap_key_label_with_another_usage_is_refused_loudly() {
    let (dir, components, engine) = fresh_engine();
    let (secret, wrapped) = generate(&engine, TERMINAL).unwrap();
    let (canonical, mac) = signed_request(secret.expose(), TERMINAL, "0123456789abcdef");
    drop(engine);
    // Someone holding the LMK replaced the wrap key with a PAN encryption key of that label.
    let mut store = keystore_json(dir.path());
    let i = block_index(&store, TERMINAL_KEY_WRAP);
    store["keys"].as_array_mut().unwrap().remove(i);
    write_keystore_json(dir.path(), &store);
    push_block(&dir, &components, wrap_header(KeyUsage::PanEncryption, 1), &[7u8; 32]);
    let engine = Engine::open(dir.path(), &components).unwrap();

    let refused = HsmError::UsageNotPermitted {
        label: TERMINAL_KEY_WRAP.into(),
        usage: KeyUsage::PanEncryption,
    };
    assert_eq!(generate(&engine, TERMINAL).unwrap_err(), refused);
    assert_eq!(verify(&engine, TERMINAL, &wrapped, &canonical, mac).unwrap_err(), refused);
}

#[tokio::test]
async fn client_helpers_cover_the_terminal_verbs() {
    let (_dir, _c, engine) = fresh_engine();
    let client = HsmClient::in_process(engine);
    let (secret, wrapped) = client.generate_terminal_secret(TERMINAL).await.unwrap();
    assert_eq!(wrapped.len(), WRAPPED_LEN);
    let (canonical, mac) = signed_request(&secret, TERMINAL, "0123456789abcdef");
    assert_eq!(client.verify_terminal_mac(TERMINAL, &wrapped, &canonical, &mac).await, Ok(true));
    assert_eq!(
        client.verify_terminal_mac(OTHER_TERMINAL, &wrapped, &canonical, &mac).await,
        Ok(false)
    );
    assert!(matches!(
        client.generate_terminal_secret("no spaces please").await,
        Err(HsmError::InvalidRequest(_))
    ));
}

async fn start_tcp(engine: Arc<Engine>, psk: &Psk) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, engine, psk.clone(), ServerLimits::default()));
    addr
}

#[tokio::test]
async fn terminal_verbs_work_over_tcp() {
    let (_dir, _c, engine) = fresh_engine();
    let engine = Arc::new(engine);
    let psk = Psk::generate();
    let addr = start_tcp(Arc::clone(&engine), &psk).await;
    let mut config = TcpClientConfig::new(addr.to_string(), psk);
    config.connect_timeout_ms = 1_000;
    config.request_timeout_ms = 3_000;
    let remote = HsmClient::tcp(config).unwrap();
    let local = HsmClient::in_process(Arc::clone(&engine));

    // Made over TCP, verified over TCP and in process; and the other way round.
    let (secret, wrapped) = remote.generate_terminal_secret(TERMINAL).await.unwrap();
    let (canonical, mac) = signed_request(&secret, TERMINAL, &terminal_auth::random_nonce());
    assert_eq!(remote.verify_terminal_mac(TERMINAL, &wrapped, &canonical, &mac).await, Ok(true));
    assert_eq!(local.verify_terminal_mac(TERMINAL, &wrapped, &canonical, &mac).await, Ok(true));
    let (local_secret, local_wrapped) =
        local.generate_terminal_secret(OTHER_TERMINAL).await.unwrap();
    let (other_canonical, other_mac) =
        signed_request(&local_secret, OTHER_TERMINAL, "0123456789abcdef");
    assert_eq!(
        remote
            .verify_terminal_mac(OTHER_TERMINAL, &local_wrapped, &other_canonical, &other_mac)
            .await,
        Ok(true)
    );

    // Refusals are answers, not broken connections; errors cross unchanged.
    let mut bad = mac;
    bad[31] ^= 1;
    assert_eq!(remote.verify_terminal_mac(TERMINAL, &wrapped, &canonical, &bad).await, Ok(false));
    assert_eq!(
        remote.verify_terminal_mac(OTHER_TERMINAL, &wrapped, &canonical, &mac).await,
        Ok(false)
    );
    assert!(matches!(remote.generate_terminal_secret("").await, Err(HsmError::InvalidRequest(_))));
    assert!(matches!(
        remote.sign(TERMINAL_KEY_WRAP, b"x").await,
        Err(HsmError::UsageNotPermitted { usage: KeyUsage::TerminalKeyWrap, .. })
    ));
    assert_eq!(remote.verify_terminal_mac(TERMINAL, &wrapped, &canonical, &mac).await, Ok(true));
}
