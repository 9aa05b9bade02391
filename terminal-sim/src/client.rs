//! HTTP clients: the terminal's signed requests (`emv::terminal_auth`, docs/TERMINAL-API.md)
//! and, for `register` and `load`, a plain user session with a bearer token.

use emv::terminal_auth::{self as ta, SECRET_LEN};
use serde_json::Value;

use crate::identity::Identity;
use crate::Result;

/// Unix milliseconds of the local clock (the server allows ±5 min of skew).
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    i64::try_from(since).unwrap_or(i64::MAX)
}

/// A server answer: HTTP status and JSON body (`Null` when empty).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    async fn read(res: reqwest::Response) -> Result<Answer> {
        let status = res.status().as_u16();
        let text = res.text().await?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer { status, body })
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body when the status is 2xx; otherwise an error naming status and error code.
    pub fn ok(self, what: &str) -> Result<Value> {
        if self.is_success() {
            return Ok(self.body);
        }
        let error = &self.body["error"];
        let detail = match (error["code"].as_str(), error["message"].as_str()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => self.body.to_string(),
        };
        Err(format!("{what} failed: HTTP {} {detail}", self.status).into())
    }
}

fn base_url(server: &str) -> String {
    server.trim_end_matches('/').to_owned()
}

/// A registered terminal that signs every request.
#[derive(Clone)]
pub struct TerminalClient {
    http: reqwest::Client,
    base: String,
    terminal_id: String,
    secret: [u8; SECRET_LEN],
}

impl TerminalClient {
    pub fn new(identity: &Identity) -> Result<TerminalClient> {
        Ok(TerminalClient {
            http: reqwest::Client::new(),
            base: base_url(&identity.server),
            terminal_id: identity.terminal_id.clone(),
            secret: identity.secret()?,
        })
    }

    /// The four signing headers for a request sent now.
    pub fn headers(&self, method: &str, path: &str, body: &[u8]) -> [(&'static str, String); 4] {
        self.headers_at(method, path, body, now_ms(), ta::random_nonce())
    }

    fn headers_at(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        timestamp_ms: i64,
        nonce: String,
    ) -> [(&'static str, String); 4] {
        let canonical =
            ta::canonical_request(method, path, &self.terminal_id, timestamp_ms, &nonce, body);
        let mac = ta::sign(&self.secret, &canonical);
        [
            (ta::TERMINAL_ID_HEADER, self.terminal_id.clone()),
            (ta::TIMESTAMP_HEADER, timestamp_ms.to_string()),
            (ta::NONCE_HEADER, nonce),
            (ta::SIGNATURE_HEADER, ta::signature_hex(&mac)),
        ]
    }

    /// A signed `POST` of `body` to `path` (e.g. `/v1/terminal/authorizations`). A retry is
    /// a new call: new timestamp, nonce and signature.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer> {
        let bytes = serde_json::to_vec(body)?;
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in self.headers("POST", path, &bytes) {
            req = req.header(name, value);
        }
        Answer::read(req.body(bytes).send().await?).await
    }
}

/// A user of the management API (operator, owner, driver) with a bearer token.
#[derive(Clone)]
pub struct UserClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl UserClient {
    /// `POST /v1/auth/login`.
    pub async fn login(server: &str, email: &str, password: &str) -> Result<UserClient> {
        UserClient::login_with(reqwest::Client::new(), server, email, password).await
    }

    /// As [`UserClient::login`], sharing `http` (its connection pool) with other sessions:
    /// the load benchmark holds thousands of them.
    pub async fn login_with(
        http: reqwest::Client,
        server: &str,
        email: &str,
        password: &str,
    ) -> Result<UserClient> {
        let base = base_url(server);
        let res = http
            .post(format!("{base}/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await?;
        let body = Answer::read(res).await?.ok(&format!("login as {email}"))?;
        let token = body["access_token"].as_str().ok_or("login answer without access_token")?;
        Ok(UserClient { http, base, token: token.to_owned() })
    }

    pub async fn get(&self, path: &str) -> Result<Answer> {
        let res =
            self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        Answer::read(res).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Answer> {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        Answer::read(res).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Answer> {
        let res = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        Answer::read(res).await
    }

    /// An unauthenticated `POST` (accepting an invite).
    pub async fn post_public(&self, path: &str, body: &Value) -> Result<Answer> {
        Answer::read(self.http.post(format!("{}{path}", self.base)).json(body).send().await?).await
    }

    /// An unauthenticated `GET` (the signed time).
    pub async fn get_public(&self, path: &str) -> Result<Answer> {
        Answer::read(self.http.get(format!("{}{path}", self.base)).send().await?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_the_published_vector() {
        // docs/TERMINAL-API.md, "POST with a body and a query string".
        let identity = Identity {
            server: "http://127.0.0.1:1/".into(),
            terminal_id: "01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0e".into(),
            secret_hex: hex::encode((0xC0u8..0xE0).collect::<Vec<_>>()),
        };
        let client = TerminalClient::new(&identity).unwrap();
        assert_eq!(client.base, "http://127.0.0.1:1");
        let headers = client.headers_at(
            "POST",
            "/v1/terminal/authorizations?mode=online",
            br#"{"amount_minor":12345,"currency":978,"stan":"000123"}"#,
            1_795_392_123_456,
            "q7YbW2mX-9kRz_4HtP1sLc".into(),
        );
        assert_eq!(headers[0], (ta::TERMINAL_ID_HEADER, identity.terminal_id.clone()));
        assert_eq!(headers[1].1, "1795392123456");
        assert_eq!(
            headers[3].1,
            "4688a12aa9765e090a8ff9d5571e6615c89b3ec8fb37e3e1ca4a105d10ae69a7"
        );
    }

    #[test]
    fn an_error_answer_names_status_and_code() {
        let answer = Answer {
            status: 401,
            body: serde_json::json!({"error": {"code": "UNAUTHENTICATED", "message": "wrong login"}}),
        };
        let err = answer.ok("login").unwrap_err().to_string();
        assert_eq!(err, "login failed: HTTP 401 UNAUTHENTICATED: wrong login");
    }
}
