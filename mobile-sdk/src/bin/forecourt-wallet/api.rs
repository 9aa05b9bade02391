//! The Forecourt API over plain HTTP (the CLI talks to a server on loopback).
//!
//! Answer bodies are copied into buffers that are wiped when dropped (a provisioning
//! answer carries the token PAN); the HTTP client's own buffers are beyond our reach.

use std::fmt;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use zeroize::Zeroizing;

/// A refusal from the server: status, code and message of its JSON error body (the
/// server never puts a secret in those).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server answered {}: {} {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

pub type Body = Zeroizing<Vec<u8>>;

pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api { base: base.trim_end_matches('/').to_owned(), http: reqwest::Client::new() }
    }

    /// Sends a request; `Ok` with the body for 2xx, `Err(ApiError)` otherwise.
    pub async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&B>,
    ) -> Result<Body, Box<dyn std::error::Error>> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| transport(&self.base, &e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| transport(&self.base, &e))?;
        let body = Zeroizing::new(bytes.to_vec());
        if status.is_success() {
            Ok(body)
        } else {
            Err(Box::new(api_error(status, &body)))
        }
    }
}

/// Names the server and the kind of failure; reqwest's message could include the URL
/// and nothing secret, but kinds are enough to act on.
fn transport(base: &str, e: &reqwest::Error) -> Box<dyn std::error::Error> {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    format!("{kind}: {base} (is the server running?)").into()
}

fn api_error(status: StatusCode, body: &[u8]) -> ApiError {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed.as_ref().and_then(|v| v["error"][name].as_str()).unwrap_or_default().to_owned()
    };
    ApiError { status, code: field("code"), message: field("message") }
}
