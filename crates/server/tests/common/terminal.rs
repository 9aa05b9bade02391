//! A fuel terminal for tests: registered by the operator, signing every request as
//! docs/TERMINAL-API.md says, with the shared `emv::terminal_auth` format.

use super::TestApp;
use axum::http::{Method, StatusCode};
use emv::terminal_auth as ta;
use serde_json::{json, Value};

pub struct Terminal {
    pub id: String,
    pub station_id: String,
    pub secret: [u8; 32],
}

/// A fresh STAN per request, so tests never collide by accident.
pub fn stan() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:06}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub fn transmitted_at() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

impl Terminal {
    /// The operator registers a station selling diesel and AdBlue, and one terminal there.
    pub async fn register(app: &TestApp) -> Terminal {
        let operator = app.operator().await;
        let station = json!({"name": "Autohof Nord", "merchant_id": "M-1001", "lat_e6": 53_551_086,
                             "lon_e6": 9_993_682, "time_zone": "Europe/Berlin", "products": ["diesel", "adblue"]});
        let (status, station) = app.post("/v1/stations", &operator, station).await;
        assert_eq!(status, StatusCode::CREATED, "{station}");
        let station_id = station["id"].as_str().unwrap().to_owned();
        let (status, created) = app
            .post(
                &format!("/v1/stations/{station_id}/terminals"),
                &operator,
                json!({"label": "Pump island 1"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = hex::decode(created["secret"].as_str().unwrap()).unwrap().try_into().unwrap();
        Terminal { id: created["terminal"]["id"].as_str().unwrap().to_owned(), station_id, secret }
    }

    /// Sends a signed request.
    pub async fn send(&self, app: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
        let body = body.to_string();
        let headers = self.headers("POST", path, &body, ta::random_nonce(), now_ms());
        self.send_with(app, path, body, &headers).await
    }

    /// The four signing headers for `body` at `timestamp_ms` with `nonce`.
    pub fn headers(
        &self,
        method: &str,
        path: &str,
        body: &str,
        nonce: String,
        timestamp_ms: i64,
    ) -> Vec<(String, String)> {
        let canonical =
            ta::canonical_request(method, path, &self.id, timestamp_ms, &nonce, body.as_bytes());
        let mac = ta::sign(&self.secret, &canonical);
        vec![
            (ta::TERMINAL_ID_HEADER.to_owned(), self.id.clone()),
            (ta::TIMESTAMP_HEADER.to_owned(), timestamp_ms.to_string()),
            (ta::NONCE_HEADER.to_owned(), nonce),
            (ta::SIGNATURE_HEADER.to_owned(), ta::signature_hex(&mac)),
        ]
    }

    pub async fn send_with(
        &self,
        app: &TestApp,
        path: &str,
        body: String,
        headers: &[(String, String)],
    ) -> (StatusCode, Value) {
        let headers: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, _, body) = app.call_with(Method::POST, path, None, Some(body), &headers).await;
        (status, body)
    }

    /// A QR pre-authorization for `amount` of diesel.
    pub async fn authorize(&self, app: &TestApp, qr: &str, amount: i64, partial: bool) -> Value {
        let (status, answer) =
            self.send(app, "/v1/terminal/authorizations", &qr_request(qr, amount, partial)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }
}

/// The body of a QR pre-authorization at 1.799 EUR/l.
pub fn qr_request(qr: &str, amount: i64, partial: bool) -> Value {
    json!({"stan": stan(), "transmitted_at": transmitted_at(), "entry_mode": "qr", "qr": qr, "pump": 3,
           "products": ["diesel"], "amount": amount, "unit_price": 179_900, "partial_supported": partial})
}

pub fn now_ms() -> i64 {
    super::phone::now_ms()
}
