//! A phone for tests: a device key, enrolment, provisioning, and payment data made exactly
//! as docs/CRYPTOGRAM.md says — using the shared `emv` formats, not the server's code.

use super::TestApp;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use emv::cryptogram::{self, CryptogramInput, EntryMode, Iad};
use emv::luk_batch::{self, EncryptedBatch, LukEntry};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use tokens::PaymentData;

pub struct Phone {
    pub secret: p256::SecretKey,
    pub public_sec1: Vec<u8>,
    pub device_id: String,
    pub token_id: String,
    pub token_pan: String,
    pub imk_version: u8,
    pub luks: Vec<LukEntry>,
}

impl Phone {
    pub fn new() -> Self {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let public_sec1 = secret.public_key().to_sec1_bytes().to_vec();
        Self {
            secret,
            public_sec1,
            device_id: String::new(),
            token_id: String::new(),
            token_pan: String::new(),
            imk_version: 0,
            luks: Vec::new(),
        }
    }

    pub fn sign(&self, message: &[u8]) -> String {
        let signature: Signature = SigningKey::from(&self.secret).sign(message);
        B64.encode(signature.to_bytes())
    }

    /// Enrols with a fresh challenge; returns the device id.
    pub async fn enrol(&mut self, app: &TestApp, token: &str) -> String {
        let (status, challenge) = app.post("/v1/devices/challenge", token, json!({})).await;
        assert_eq!(status, axum::http::StatusCode::CREATED, "{challenge}");
        let raw = B64.decode(challenge["challenge"].as_str().unwrap()).unwrap();
        let message = [b"forecourt/enrol/v1".as_slice(), &raw, &self.public_sec1].concat();
        let body = json!({
            "public_key": B64.encode(&self.public_sec1),
            "challenge": challenge["challenge"],
            "signature": self.sign(&message),
            "label": "test phone",
        });
        let (status, device) = app.post("/v1/devices", token, body).await;
        assert_eq!(status, axum::http::StatusCode::CREATED, "{device}");
        self.device_id = device["id"].as_str().unwrap().to_owned();
        self.device_id.clone()
    }

    /// Provisions a token for `card`; keeps the token PAN and the opened LUK batch.
    pub async fn provision(&mut self, app: &TestApp, token: &str, card: &str) -> Value {
        let (status, body) = app
            .post(&format!("/v1/cards/{card}/tokens"), token, json!({"device_id": self.device_id}))
            .await;
        assert_eq!(status, axum::http::StatusCode::CREATED, "{body}");
        self.accept_batch(&body);
        body
    }

    /// Opens a provisioning or replenishment answer's batch with the device key.
    pub fn accept_batch(&mut self, body: &Value) {
        self.token_id = body["token"]["id"].as_str().unwrap().to_owned();
        self.token_pan = body["token_pan"].as_str().unwrap().to_owned();
        self.imk_version = u8::try_from(body["token"]["imk_version"].as_u64().unwrap()).unwrap();
        let batch: EncryptedBatch = serde_json::from_value(body["batch"].clone()).unwrap();
        self.luks = luk_batch::open(&self.secret, &self.token_id, &batch)
            .expect("batch opens with the device key");
    }

    /// QR payment data made with LUK number `luk` at `generated_at_ms`.
    pub fn qr_payment(
        &self,
        luk: usize,
        atc: u16,
        generated_at_ms: i64,
        sync_age_s: u32,
    ) -> PaymentData {
        self.payment(EntryMode::Qr, luk, atc, generated_at_ms, sync_age_s)
    }

    pub fn payment(
        &self,
        mode: EntryMode,
        luk: usize,
        atc: u16,
        generated_at_ms: i64,
        sync_age_s: u32,
    ) -> PaymentData {
        let entry = &self.luks[luk];
        let card_un = [atc as u8, 1, 2, 3];
        let input = CryptogramInput {
            entry_mode: mode,
            token_pan: self.token_pan.clone(),
            key_index: entry.key_index,
            atc,
            generated_at_ms,
            sync_age_s,
            cdcvm: true,
            terminal: None,
            card_unpredictable_number: card_un,
        };
        let bytes = input.to_bytes().expect("input");
        let iad = Iad {
            key_index: entry.key_index,
            generated_at_ms,
            sync_age_s,
            cdcvm: true,
            imk_version: self.imk_version,
        };
        PaymentData {
            entry_mode: mode,
            token_pan: self.token_pan.clone(),
            atc,
            iad: iad.to_bytes().to_vec(),
            cryptogram: cryptogram::compute(&entry.luk, &bytes),
            card_unpredictable_number: card_un,
            terminal: None,
        }
    }
}

pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

impl Phone {
    /// A QR code's payload (EMVCo CPM, base64) for LUK number `luk`.
    pub fn qr(&self, luk: usize, atc: u16, generated_at_ms: i64) -> String {
        let data = self.qr_payment(luk, atc, generated_at_ms, 60);
        let payload = emv::qr::CpmPayload {
            aid: vec![0xA0, 0x00, 0x00, 0x09, 0x99, 0x01, 0x01],
            label: Some("FORECOURT".into()),
            token: emv::qr::TokenData::Pan(data.token_pan.clone()),
            chip: emv::qr::ChipData {
                cryptogram: data.cryptogram,
                atc: data.atc,
                iad: data.iad.clone(),
                unpredictable_number: data.card_unpredictable_number,
            },
            unknown: Vec::new(),
        };
        emv::qr::encode(&payload)
    }
}
