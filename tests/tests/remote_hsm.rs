//! The real `forecourt` using the real `forecourt-hsm` over TCP: keys live in the other
//! process; when it dies the API says "unavailable" at once, and recovers when it is back.

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
