//! The wire protocol from the outside: a raw client written here from `docs/HSM.md` (not
//! from the crate's code) talks to a real server, then misbehaves. Each misbehaving
//! connection must be closed without an answer while the server keeps serving others.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::fresh_engine;
use hmac::{Hmac, Mac};
use hsm_sim::tcp::{serve, ServerLimits, MAX_CLOCK_SKEW_MS, MAX_FRAME_BYTES};
use hsm_sim::{HsmClient, Psk, TcpClientConfig};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PSK_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const HEALTH: &[u8] = br#"{"verb":"health"}"#;

fn psk_bytes() -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(PSK_HEX, &mut out).unwrap();
    out
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn with_length(body: &[u8]) -> Vec<u8> {
    [u32::try_from(body.len()).unwrap().to_be_bytes().as_slice(), body].concat()
}

async fn read_body(stream: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; usize::try_from(u32::from_be_bytes(len)).unwrap()];
    stream.read_exact(&mut body).await.unwrap();
    body
}

/// The server closed this connection, sending nothing first.
async fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => {}
        Ok(Ok(n)) => panic!("server answered {n} bytes instead of closing"),
        Err(_) => panic!("server left the connection open"),
    }
}

/// A client built from the documented format.
struct Raw {
    stream: TcpStream,
    key: [u8; 32],
    session_id: [u8; 16],
    sent: u64,
    received: u64,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Self {
        let psk = psk_bytes();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let nc: [u8; 32] = rand::random();
        stream.write_all(&with_length(&[b"FHS1".as_slice(), &nc].concat())).await.unwrap();
        let hello = read_body(&mut stream).await;
        assert_eq!((hello.len(), &hello[..4]), (68, b"FHS1".as_slice()));
        let (ns, proof) = hello[4..].split_at(32);
        assert_eq!(proof, mac(&psk, &[b"forecourt-hsm/1 server", &nc, ns]), "server proof");
        let answer = mac(&psk, &[b"forecourt-hsm/1 client", &nc, ns]);
        stream.write_all(&with_length(&answer)).await.unwrap();
        let key = mac(&psk, &[b"forecourt-hsm/1 session", &nc, ns]);
        let digest = Sha256::digest([b"forecourt-hsm/1 id".as_slice(), &nc, ns].concat());
        let session_id = digest[..16].try_into().unwrap();
        Self { stream, key, session_id, sent: 0, received: 0 }
    }

    /// A request frame (length prefix included) with the next sequence number.
    fn next_frame(&mut self, json: &[u8]) -> Vec<u8> {
        self.sent += 1;
        self.frame(self.sent, now_ms(), json)
    }

    fn frame(&self, seq: u64, at_ms: u64, json: &[u8]) -> Vec<u8> {
        let header =
            [[0x01].as_slice(), &self.session_id, &seq.to_be_bytes(), &at_ms.to_be_bytes()];
        let signed = [header.concat().as_slice(), json].concat();
        with_length(&[signed.as_slice(), &mac(&self.key, &[&signed])].concat())
    }

    async fn send(&mut self, frame: &[u8]) {
        self.stream.write_all(frame).await.unwrap();
    }

    /// Reads a reply and checks it as the documentation says; returns its JSON.
    async fn reply(&mut self) -> serde_json::Value {
        let body = read_body(&mut self.stream).await;
        let (signed, tag) = body.split_at(body.len() - 32);
        assert_eq!(tag, mac(&self.key, &[signed]), "reply MAC");
        assert_eq!(signed[0], 0x02, "direction S→C");
        assert_eq!(signed[1..17], self.session_id);
        self.received += 1;
        assert_eq!(u64::from_be_bytes(signed[17..25].try_into().unwrap()), self.received);
        let at = u64::from_be_bytes(signed[25..33].try_into().unwrap());
        assert!(at.abs_diff(now_ms()) < 5_000);
        serde_json::from_slice(&signed[33..]).unwrap()
    }

    async fn health(&mut self) -> serde_json::Value {
        let frame = self.next_frame(HEALTH);
        self.send(&frame).await;
        self.reply().await
    }
}

/// A server, and a pooled client that must keep working while raw clients misbehave.
async fn setup() -> (SocketAddr, HsmClient, common::TempDir) {
    setup_with(ServerLimits::default()).await
}

async fn setup_with(limits: ServerLimits) -> (SocketAddr, HsmClient, common::TempDir) {
    let (dir, _c, engine) = fresh_engine();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let psk = Psk::parse_hex(PSK_HEX).unwrap();
    tokio::spawn(serve(listener, Arc::new(engine), psk.clone(), limits));
    let client = HsmClient::tcp(TcpClientConfig::new(addr.to_string(), psk)).unwrap();
    assert_eq!(client.health().await.unwrap().status, "ok");
    (addr, client, dir)
}

async fn still_serving(client: &HsmClient) {
    assert_eq!(client.health().await.unwrap().status, "ok");
}

#[tokio::test]
async fn a_client_following_the_documented_format_is_served() {
    let (addr, _client, _dir) = setup().await;
    let mut raw = Raw::connect(addr).await;
    for _ in 0..3 {
        let reply = raw.health().await;
        assert_eq!(reply["ok"]["verb"], "health", "{reply}");
        assert_eq!(reply["ok"]["status"], "ok", "{reply}");
    }
    let frame = raw.next_frame(br#"{"verb":"public_key","label":"nope"}"#);
    raw.send(&frame).await;
    let reply = raw.reply().await;
    assert_eq!(reply["err"], serde_json::json!({"error": "key_not_found", "detail": "nope"}));
    // Unknown verbs are refused but the connection stays up.
    let frame = raw.next_frame(br#"{"verb":"launch_missiles"}"#);
    raw.send(&frame).await;
    assert_eq!(raw.reply().await["err"]["error"], "invalid_request");
    assert_eq!(raw.health().await["ok"]["status"], "ok");
}

#[tokio::test]
async fn garbage_before_the_handshake_closes_only_that_connection() {
    let (addr, client, _dir) = setup().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&with_length(&[0xAB; 36])).await.unwrap();
    assert_closed(&mut stream).await;

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: hsm\r\n\r\n").await.unwrap();
    assert_closed(&mut stream).await;
    still_serving(&client).await;
}

#[tokio::test]
async fn a_client_without_the_psk_is_refused_after_the_server_hello() {
    let (addr, client, _dir) = setup().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&with_length(&[b"FHS1".as_slice(), &[7u8; 32]].concat())).await.unwrap();
    assert_eq!(read_body(&mut stream).await.len(), 68);
    stream.write_all(&with_length(&mac(b"guess", &[b"forecourt-hsm/1 client"]))).await.unwrap();
    assert_closed(&mut stream).await;
    still_serving(&client).await;
}

#[tokio::test]
async fn a_frame_with_a_bad_mac_closes_the_connection() {
    let (addr, client, _dir) = setup().await;
    let mut raw = Raw::connect(addr).await;
    let mut frame = raw.next_frame(HEALTH);
    *frame.last_mut().unwrap() ^= 1;
    raw.send(&frame).await;
    assert_closed(&mut raw.stream).await;
    still_serving(&client).await;
}

#[tokio::test]
async fn a_replayed_frame_closes_the_connection() {
    let (addr, client, _dir) = setup().await;
    let mut raw = Raw::connect(addr).await;
    let frame = raw.next_frame(HEALTH);
    raw.send(&frame).await;
    assert_eq!(raw.reply().await["ok"]["status"], "ok");
    raw.send(&frame).await;
    assert_closed(&mut raw.stream).await;
    still_serving(&client).await;
}

#[tokio::test]
async fn a_reused_or_skipped_sequence_number_closes_the_connection() {
    let (addr, client, _dir) = setup().await;
    for seq in [1, 3] {
        let mut raw = Raw::connect(addr).await;
        raw.health().await;
        // Freshly sealed (valid MAC, current time), but sequence 1 again, or 3 after 1.
        let frame = raw.frame(seq, now_ms(), HEALTH);
        raw.send(&frame).await;
        assert_closed(&mut raw.stream).await;
    }
    still_serving(&client).await;
}

#[tokio::test]
async fn a_frame_from_another_connection_fails_there() {
    let (addr, client, _dir) = setup().await;
    let mut first = Raw::connect(addr).await;
    let captured = first.next_frame(HEALTH);
    let mut second = Raw::connect(addr).await;
    second.send(&captured).await;
    assert_closed(&mut second.stream).await;
    // The frame was never used on its own connection, where it is still good.
    first.send(&captured).await;
    assert_eq!(first.reply().await["ok"]["status"], "ok");
    still_serving(&client).await;
}

#[tokio::test]
async fn a_stale_frame_closes_the_connection() {
    let (addr, client, _dir) = setup().await;
    let mut raw = Raw::connect(addr).await;
    let frame = raw.frame(1, now_ms() - MAX_CLOCK_SKEW_MS - 5_000, HEALTH);
    raw.send(&frame).await;
    assert_closed(&mut raw.stream).await;
    still_serving(&client).await;
}

#[tokio::test]
async fn an_oversize_length_prefix_closes_the_connection() {
    let (addr, client, _dir) = setup().await;
    let too_big = u32::try_from(MAX_FRAME_BYTES + 1).unwrap().to_be_bytes();
    // Before the handshake…
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&too_big).await.unwrap();
    assert_closed(&mut stream).await;
    // …and after it.
    let mut raw = Raw::connect(addr).await;
    raw.send(&too_big).await;
    assert_closed(&mut raw.stream).await;
    // A frame of exactly the limit is served (JSON allows the trailing padding).
    let mut raw = Raw::connect(addr).await;
    let mut json = HEALTH.to_vec();
    json.resize(MAX_FRAME_BYTES - 33 - 32, b' ');
    let frame = raw.next_frame(&json);
    assert_eq!(frame.len(), 4 + MAX_FRAME_BYTES);
    raw.send(&frame).await;
    assert_eq!(raw.reply().await["ok"]["status"], "ok");
    still_serving(&client).await;
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed() {
    let limits =
        ServerLimits { handshake_timeout_ms: 200, idle_timeout_ms: 300, ..ServerLimits::default() };
    let (addr, client, _dir) = setup_with(limits).await;
    // Connected but never says hello: closed after the handshake timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert_closed(&mut silent).await;
    // Authenticated, served, then quiet for longer than the idle timeout.
    let mut raw = Raw::connect(addr).await;
    raw.health().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_closed(&mut raw.stream).await;
    // The pooled client's connection went idle too; it dials again without failing.
    still_serving(&client).await;
}
