//! What several end-to-end tests share: a small JSON client and a phone that enrols,
//! gets a token and makes QR payment data exactly as docs/CRYPTOGRAM.md says (with the
//! shared `emv` formats, never the server's code).
#![allow(dead_code)]

pub mod chaos;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use emv::cryptogram::{CryptogramInput, EntryMode, Iad};
use emv::luk_batch::LukEntry;
use p256::ecdsa::signature::Signer;
use serde_json::{json, Value};

pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

impl Api {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (
            status,
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("json") },
        )
    }

    pub async fn login(&self, email: &str) -> String {
        let body = json!({"email": email, "password": "forecourt-demo"});
        let (status, pair) =
            self.send(reqwest::Method::POST, "/v1/auth/login", None, Some(body)).await;
        assert_eq!(status, 200, "{pair}");
        pair["access_token"].as_str().expect("token").to_owned()
    }
}

/// A phone holding a token for one card.
pub struct Phone {
    pub token_pan: String,
    pub imk_version: u8,
    pub luks: Vec<LukEntry>,
}

impl Phone {
    /// Enrols a new device key for the driver behind `token` and provisions `card` on it.
    pub async fn provisioned(api: &Api, token: &str, card: &str) -> Phone {
        use reqwest::Method as M;
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let public = secret.public_key().to_sec1_bytes().to_vec();
        let (_, challenge) =
            api.send(M::POST, "/v1/devices/challenge", Some(token), Some(json!({}))).await;
        let raw = B64.decode(challenge["challenge"].as_str().unwrap()).unwrap();
        let message = [b"forecourt/enrol/v1".as_slice(), &raw, &public].concat();
        let signature: p256::ecdsa::Signature =
            p256::ecdsa::SigningKey::from(&secret).sign(&message);
        let enrol = json!({"public_key": B64.encode(&public), "challenge": challenge["challenge"],
                           "signature": B64.encode(signature.to_bytes()), "label": "test phone"});
        let (status, device) = api.send(M::POST, "/v1/devices", Some(token), Some(enrol)).await;
        assert_eq!(status, 201, "{device}");
        let body = json!({"device_id": device["id"]});
        let (status, provisioned) =
            api.send(M::POST, &format!("/v1/cards/{card}/tokens"), Some(token), Some(body)).await;
        assert_eq!(status, 201, "{provisioned}");
        let batch = serde_json::from_value(provisioned["batch"].clone()).unwrap();
        let token_id = provisioned["token"]["id"].as_str().unwrap();
        let luks =
            emv::luk_batch::open(&secret, token_id, &batch).expect("the phone opens its batch");
        Phone {
            token_pan: provisioned["token_pan"].as_str().unwrap().to_owned(),
            imk_version: u8::try_from(provisioned["token"]["imk_version"].as_u64().unwrap())
                .unwrap(),
            luks,
        }
    }

    /// A QR payload (EMVCo CPM, base64) made with LUK number `luk` now.
    pub fn qr(&self, luk: usize, atc: u16, generated_at_ms: i64) -> String {
        let entry = &self.luks[luk];
        let card_un = atc.to_be_bytes();
        let card_un = [card_un[0], card_un[1], 7, 7];
        let input = CryptogramInput {
            entry_mode: EntryMode::Qr,
            token_pan: self.token_pan.clone(),
            key_index: entry.key_index,
            atc,
            generated_at_ms,
            sync_age_s: 60,
            cdcvm: true,
            terminal: None,
            card_unpredictable_number: card_un,
        };
        let bytes = input.to_bytes().expect("input");
        let iad = Iad {
            key_index: entry.key_index,
            generated_at_ms,
            sync_age_s: 60,
            cdcvm: true,
            imk_version: self.imk_version,
        };
        emv::qr::encode(&emv::qr::CpmPayload {
            aid: vec![0xA0, 0x00, 0x00, 0x09, 0x99, 0x01, 0x01],
            label: Some("FORECOURT".into()),
            token: emv::qr::TokenData::Pan(self.token_pan.clone()),
            chip: emv::qr::ChipData {
                cryptogram: emv::cryptogram::compute(&entry.luk, &bytes),
                atc,
                iad: iad.to_bytes().to_vec(),
                unpredictable_number: card_un,
            },
            unknown: Vec::new(),
        })
    }
}

pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

/// A registered terminal and its signing secret.
pub struct Terminal {
    pub id: String,
    pub secret: [u8; 32],
}

impl Terminal {
    /// The operator (token `operator`) registers a diesel station and a terminal there.
    pub async fn register(api: &Api, operator: &str) -> Terminal {
        use reqwest::Method as M;
        let station = json!({"name": "Autohof Nord", "merchant_id": "M-1", "lat_e6": 53_551_086,
                             "lon_e6": 9_993_682, "time_zone": "Europe/Berlin", "products": ["diesel"]});
        let (status, station) =
            api.send(M::POST, "/v1/stations", Some(operator), Some(station)).await;
        assert_eq!(status, 201, "{station}");
        let path = format!("/v1/stations/{}/terminals", station["id"].as_str().unwrap());
        let (status, created) =
            api.send(M::POST, &path, Some(operator), Some(json!({"label": "island 1"}))).await;
        assert_eq!(status, 201, "{created}");
        Terminal {
            id: created["terminal"]["id"].as_str().unwrap().to_owned(),
            secret: hex::decode(created["secret"].as_str().unwrap()).unwrap().try_into().unwrap(),
        }
    }

    /// As [`Terminal::post`], `None` when no HTTP answer came (the server died or hung).
    pub async fn try_post(
        &self,
        client: &reqwest::Client,
        base: &str,
        path: &str,
        body: &Value,
    ) -> Option<(u16, Value)> {
        use emv::terminal_auth as ta;
        let body = body.to_string();
        let (nonce, now) = (ta::random_nonce(), now_ms());
        let mac = ta::sign(
            &self.secret,
            &ta::canonical_request("POST", path, &self.id, now, &nonce, body.as_bytes()),
        );
        let res = client
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header(ta::TERMINAL_ID_HEADER, &self.id)
            .header(ta::TIMESTAMP_HEADER, now.to_string())
            .header(ta::NONCE_HEADER, nonce)
            .header(ta::SIGNATURE_HEADER, ta::signature_hex(&mac))
            .body(body)
            .send()
            .await
            .ok()?;
        let status = res.status().as_u16();
        Some((status, res.json().await.unwrap_or(Value::Null)))
    }

    /// A signed POST of `body` to `base` + `path`.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        base: &str,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        use emv::terminal_auth as ta;
        let body = body.to_string();
        let (nonce, now) = (ta::random_nonce(), now_ms());
        let mac = ta::sign(
            &self.secret,
            &ta::canonical_request("POST", path, &self.id, now, &nonce, body.as_bytes()),
        );
        let res = client
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header(ta::TERMINAL_ID_HEADER, &self.id)
            .header(ta::TIMESTAMP_HEADER, now.to_string())
            .header(ta::NONCE_HEADER, nonce)
            .header(ta::SIGNATURE_HEADER, ta::signature_hex(&mac))
            .body(body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

const PG_ADMIN_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Whether missing infrastructure is a failure (on CI) rather than a loud skip.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn pg_admin_url() -> String {
    std::env::var("FORECOURT_TEST_PG_URL").unwrap_or_else(|_| PG_ADMIN_URL_DEFAULT.into())
}

/// A fresh database on the shared PostgreSQL: (name, url); `None` (said loudly) when no
/// server answers outside CI.
pub async fn fresh_pg_database() -> Option<(String, String)> {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let mut conn = match sqlx::postgres::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) if !on_ci() => {
            eprintln!("\n*** SKIPPED: this test needs PostgreSQL at {admin}: {e} ***\n");
            return None;
        }
        Err(e) => panic!("PostgreSQL is required on CI but {admin} is unreachable: {e}"),
    };
    let name = format!("forecourt_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create db");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some((name.clone(), format!("{base}/{name}")))
}

/// Drops a database made by [`fresh_pg_database`].
pub async fn drop_pg_database(name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&pg_admin_url()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}
