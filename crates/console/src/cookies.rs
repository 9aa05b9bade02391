//! Reading the request's cookies and writing `Set-Cookie` headers. Every console cookie is
//! HttpOnly (no script needs them), `SameSite=Strict` (no cross-site request carries them)
//! and scoped to the console's path; `Secure` when the server is reached over TLS.

use axum::http::{header, HeaderMap, HeaderValue};

/// The access token (JWT).
pub const SESSION: &str = "fc_session";
/// The refresh token, exchanged for a new pair when the access token has expired.
pub const REFRESH: &str = "fc_refresh";
/// The CSRF token every state-changing form echoes.
pub const CSRF: &str = "fc_csrf";
/// The page language.
pub const LANG: &str = "fc_lang";

/// A year: the language choice is a preference, not a credential.
const LANG_MAX_AGE_SECS: u32 = 365 * 24 * 3600;

/// The value of cookie `name`, if the request carries it once or more (the first wins).
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// What to set on a response. Values are ours (tokens in base64url/hex), never user text.
pub struct SetCookies {
    secure: bool,
    lines: Vec<String>,
}

impl SetCookies {
    pub fn new(secure: bool) -> Self {
        Self { secure, lines: Vec::new() }
    }

    /// A cookie that lives as long as the browser session.
    pub fn session(mut self, name: &str, value: &str) -> Self {
        self.lines.push(self.line(name, value, None));
        self
    }

    pub fn persistent_lang(mut self, value: &str) -> Self {
        self.lines.push(self.line(LANG, value, Some(LANG_MAX_AGE_SECS)));
        self
    }

    pub fn clear(mut self, name: &str) -> Self {
        self.lines.push(self.line(name, "", Some(0)));
        self
    }

    fn line(&self, name: &str, value: &str, max_age: Option<u32>) -> String {
        let mut line = format!("{name}={value}; Path={}; HttpOnly; SameSite=Strict", crate::MOUNT);
        if let Some(age) = max_age {
            line.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            line.push_str("; Secure");
        }
        line
    }

    pub fn apply(self, headers: &mut HeaderMap) {
        for line in self.lines {
            // Only our own ASCII goes into these lines; a value that is not a valid header
            // is dropped rather than breaking the response.
            if let Ok(value) = HeaderValue::from_str(&line) {
                headers.append(header::SET_COOKIE, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; fc_csrf=abc ; b="));
        assert_eq!(get(&headers, CSRF).as_deref(), Some("abc"));
        assert_eq!(get(&headers, "b"), None);
        assert_eq!(get(&headers, "c"), None);
    }

    #[test]
    fn cookie_attributes() {
        let mut headers = HeaderMap::new();
        SetCookies::new(true).session(SESSION, "t").clear(REFRESH).apply(&mut headers);
        let lines: Vec<_> =
            headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(lines[0], "fc_session=t; Path=/console; HttpOnly; SameSite=Strict; Secure");
        assert!(lines[1].contains("Max-Age=0"));
    }
}
