//! The real `forecourt` using the real `forecourt-hsm` over TCP: keys live in the other
//! process; when it dies the API says "unavailable" at once (a terminal: a 91 decline),
//! and recovers when it is back.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tests::{HsmProcess, Server};

async fn send(client: &reqwest::Client, req: reqwest::RequestBuilder) -> (u16, Value) {
    let _ = client;
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn forecourt_runs_on_an_out_of_process_hsm() {
    let mut hsm = HsmProcess::start();
    let server = Server::start_with(&[
        ("FORECOURT_HSM_ADDR", &hsm.addr),
        ("FORECOURT_HSM_PSK", &hsm.psk_hex),
    ])
    .await;
    assert!(server.log().contains("Demo fleet created"), "seeded through the remote HSM");
    let client = reqwest::Client::new();
    let base = &server.base_url;
    let login = json!({"email": "owner@demo-taxi.example", "password": "forecourt-demo"});
    let (status, pair) =
        send(&client, client.post(format!("{base}/v1/auth/login")).json(&login)).await;
    assert_eq!(status, 200, "{pair}");
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let issue = || client.post(format!("{base}/v1/cards")).bearer_auth(&token).json(&json!({}));
    let (status, card) = send(&client, issue()).await;
    assert_eq!(status, 201, "a card made by the remote HSM: {card}");

    // The HSM dies: an answer within the client's timeouts, saying what is wrong.
    hsm.kill();
    let started = Instant::now();
    let (status, body) = send(&client, issue()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("DEPENDENCY_UNAVAILABLE")),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "no hang while the HSM is down");

    // It comes back; so does the service, without a restart.
    hsm.spawn();
    let (status, body) = send(&client, issue()).await;
    assert_eq!(status, 201, "{body}");
    assert!(!server.log().contains(&hsm.psk_hex), "the PSK is never logged");
}

/// A terminal always gets an authorization answer: an HSM that accepts connections but
/// never answers costs the terminal the authorization deadline and no more (91); a dead
/// HSM answers 91 at once; when the HSM is back, approvals resume without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_gets_91_from_a_silent_or_dead_hsm() {
    use std::sync::atomic::AtomicU32;
    use support::chaos::{self, Fleet};
    const DEADLINE_MS: u64 = 800;
    let mut hsm = HsmProcess::start();
    let deadline = DEADLINE_MS.to_string();
    // HSM timeouts far beyond the deadline: only the deadline can answer in time.
    let server = Server::start_with(&[
        ("FORECOURT_HSM_ADDR", &hsm.addr),
        ("FORECOURT_HSM_PSK", &hsm.psk_hex),
        ("FORECOURT_AUTHORIZATION_DEADLINE_MS", &deadline),
        ("FORECOURT_HSM_TIMEOUT_MS", "30000"),
        ("FORECOURT_HSM_CONNECT_TIMEOUT_MS", "30000"),
    ])
    .await;
    let base = server.base_url.clone();
    let fleet = Fleet::setup(&base, 1, chaos::LOOSE).await;
    let phone = fleet.phone(&base).await;
    let (stan, terminal) = (AtomicU32::new(1), &fleet.terminals[0]);
    let pay = |atc: u16| {
        let body = serde_json::json!({"stan": format!("{:06}", stan.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
            "transmitted_at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap(),
            "entry_mode": "qr", "qr": phone.qr(usize::from(atc / 4), atc, support::now_ms()), "pump": 1,
            "products": ["diesel"], "amount": 1_000, "unit_price": 179_900, "partial_supported": false});
        let (client, terminal) = (fleet.client.clone(), terminal);
        let base = base.clone();
        async move {
            let started = Instant::now();
            let answer =
                terminal.try_post(&client, &base, "/v1/terminal/authorizations", &body).await;
            (answer, started.elapsed())
        }
    };
    let (answer, _) = pay(1).await;
    assert_eq!(
        answer.as_ref().map(|(s, a)| (*s, a["response_code"].clone())),
        Some((200, json!("00"))),
        "{answer:?}"
    );

    // The HSM hangs: a listener on its address that accepts and never says a word.
    hsm.kill();
    let silent = tokio::net::TcpListener::bind(&hsm.addr).await.expect("bind the HSM's address");
    let hang = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    for atc in 2..=3 {
        let (answer, took) = pay(atc).await;
        let (status, body) = answer.expect("an answer, not a hang");
        assert_eq!(
            (status, body["response_code"].as_str(), body["approved"].as_bool()),
            (200, Some("91"), Some(false)),
            "{body}"
        );
        assert!(
            took >= Duration::from_millis(DEADLINE_MS - 50),
            "answered by the deadline, not earlier: {took:?}"
        );
        assert!(
            took < Duration::from_millis(DEADLINE_MS + 700),
            "within the deadline and a small margin: {took:?}"
        );
    }

    // The HSM is gone (nothing listens): 91 at once.
    hang.abort();
    let _ = hang.await;
    let (answer, took) = pay(4).await;
    let (status, body) = answer.expect("an answer");
    assert_eq!((status, body["response_code"].as_str()), (200, Some("91")), "{body}");
    assert!(took < Duration::from_millis(DEADLINE_MS / 2), "a dead HSM is known at once: {took:?}");

    // Back: approvals resume, no restart of forecourt.
    hsm.spawn();
    let (answer, _) = pay(5).await;
    let (status, body) = answer.expect("an answer");
    assert_eq!((status, body["response_code"].as_str()), (200, Some("00")), "{body}");
}
