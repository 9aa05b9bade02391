//! The README walk-through against the real `forecourt` binary started in an empty
//! directory, then a search of everything it wrote for clear card numbers.

use serde_json::json;
use sqlx::{Connection, Row};
use tests::Server;

mod support;
use support::{Api, Phone};

#[tokio::test]
async fn readme_walkthrough_and_no_clear_pan_anywhere() {
    let mut server = Server::start().await;
    assert!(server.log().contains("Demo fleet created"), "the banner tells how to log in");
    let api = Api { client: reqwest::Client::new(), base: server.base_url.clone() };
    use reqwest::Method as M;

    let owner = api.login("owner@demo-taxi.example").await;
    let (_, groups) = api.send(M::GET, "/v1/groups", Some(&owner), None).await;
    let north = groups.as_array().unwrap().iter().find(|g| g["name"] == "North depot").unwrap()
        ["id"]
        .clone();
    let (_, drivers) = api.send(M::GET, "/v1/users?role=driver", Some(&owner), None).await;
    let anna = drivers
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "anna@demo-taxi.example")
        .unwrap()["id"]
        .clone();
    let boris = drivers
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "boris@demo-taxi.example")
        .unwrap()["id"]
        .clone();

    // Issue a card to Anna, instantly active.
    let (status, card) = api
        .send(
            M::POST,
            "/v1/cards",
            Some(&owner),
            Some(json!({"group_id": north, "driver_id": anna})),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    assert_eq!(card["status"], "active");
    let card_id = card["id"].as_str().unwrap().to_owned();

    // Limits: 150 EUR per fill, 60 litres a day, diesel only.
    let controls = json!({"per_authorization": {"amount": 15000}, "daily": {"volume_ml": 60000}, "allowed_products": ["diesel"]});
    let (status, _) = api
        .send(M::PUT, &format!("/v1/cards/{card_id}/controls"), Some(&owner), Some(controls))
        .await;
    assert_eq!(status, 200);
    let (status, eff) = api
        .send(M::GET, &format!("/v1/cards/{card_id}/controls/effective"), Some(&owner), None)
        .await;
    assert_eq!(status, 200, "{eff}");
    assert_eq!(eff["effective"]["per_authorization"]["amount"]["value"], 15000);

    // Re-bind to Boris; the driver app of each shows the right cards.
    let (status, _) = api
        .send(
            M::PUT,
            &format!("/v1/cards/{card_id}/binding"),
            Some(&owner),
            Some(json!({"driver_id": boris})),
        )
        .await;
    assert_eq!(status, 200);
    let anna_token = api.login("anna@demo-taxi.example").await;
    let (_, anna_cards) = api.send(M::GET, "/v1/cards", Some(&anna_token), None).await;
    assert!(anna_cards.as_array().unwrap().iter().all(|c| c["id"] != card_id.as_str()));

    // Suspend, then read the card's audit trail.
    let body = json!({"status": "suspended", "reason": "driver on leave"});
    let (status, _) =
        api.send(M::POST, &format!("/v1/cards/{card_id}/status"), Some(&owner), Some(body)).await;
    assert_eq!(status, 200);
    let (_, events) =
        api.send(M::GET, &format!("/v1/cards/{card_id}/events"), Some(&owner), None).await;
    let actions: Vec<&str> =
        events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["card.issued", "card.bound", "controls.card.set", "card.rebound", "card.suspended"]
    );

    let (status, _) = api.send(M::POST, "/v1/auth/logout", Some(&owner), None).await;
    assert_eq!(status, 204);

    // Anna's phone: sync the clock, enrol, get a token for her demo card.
    let secrets =
        phone_gets_a_token(&api, &anna_token, anna_cards[0]["id"].as_str().unwrap()).await;
    server.stop();
    assert_no_clear_pan(&server, &secrets).await;
}

/// Enrols a phone and provisions a token through the HTTP API; returns what must never
/// appear in a log or file: the token PAN and every LUK (hex and raw).
async fn phone_gets_a_token(api: &Api, token: &str, card: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    let nonce = B64.encode([9u8; 16]);
    let (status, time) =
        api.send(reqwest::Method::GET, &format!("/v1/time?nonce={nonce}"), None, None).await;
    assert_eq!(status, 200, "{time}");
    let phone = Phone::provisioned(api, token, card).await;
    let mut secrets = vec![phone.token_pan.as_bytes().to_vec()];
    for luk in &phone.luks {
        secrets.push(luk.luk.to_vec());
        secrets.push(hex::encode(*luk.luk).into_bytes());
    }
    secrets
}

/// Decrypts every card's PAN with the HSM the server used, then searches the database
/// files, the key store and the server log for those digits.
async fn assert_no_clear_pan(server: &Server, more_secrets: &[Vec<u8>]) {
    let data = server.dir.join("forecourt-data");
    let hsm = hsm_sim::Engine::open_demo(&data.join("hsm")).expect("open the demo HSM");
    let client = hsm_sim::HsmClient::in_process(hsm);
    let url = format!("sqlite:{}", data.join("forecourt.db").display());
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.expect("open db");
    let rows =
        sqlx::query("SELECT pan_ciphertext FROM cards").fetch_all(&mut db).await.expect("cards");
    db.close().await.expect("close");
    assert!(rows.len() >= 3, "demo cards plus the one issued");
    let mut pans = Vec::new();
    for row in rows {
        let ciphertext: Vec<u8> = row.try_get("pan_ciphertext").expect("ciphertext");
        let pan = client.decrypt_pan(&ciphertext).await.expect("decrypt");
        pans.push(pan.expose_digits().to_owned());
    }
    let mut files = vec![server.dir.join("server.log")];
    for entry in walk(&data) {
        files.push(entry);
    }
    let contents: Vec<_> =
        files.iter().map(|f| (f, std::fs::read(f).unwrap_or_default())).collect();
    // The search must see the card data at all: the last four digits are stored in clear.
    for pan in &pans {
        let last4 = &pan.as_bytes()[pan.len() - 4..];
        assert!(
            contents.iter().any(|(_, bytes)| contains(bytes, last4)),
            "card data not found in any file"
        );
    }
    for (file, bytes) in &contents {
        for pan in &pans {
            assert!(
                !contains(bytes, pan.as_bytes()),
                "clear PAN found in {} (card ending {})",
                file.display(),
                &pan[pan.len() - 4..]
            );
        }
        for (i, secret) in more_secrets.iter().enumerate() {
            assert!(
                !contains(bytes, secret),
                "token secret #{i} (token PAN or LUK) found in {}",
                file.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
