//! A small W3C WebDriver client over `reqwest`, enough to drive headless Chromium through
//! Debian's `chromedriver`: start the driver, open a session, navigate, find elements by
//! CSS, type, click, read text, run a script and take screenshots. No browser download:
//! the binaries are `/usr/bin/chromium` and `/usr/bin/chromedriver`.

use base64::Engine as _;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The key W3C WebDriver puts element references under.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long `wait_for` polls before failing.
pub const WAIT_SECS: u64 = 15;

/// Whether the browser tests can run here.
pub fn available() -> bool {
    Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists()
}

/// A running `chromedriver` on a free loopback port; killed on drop.
pub struct Driver {
    base: String,
    child: Child,
    client: reqwest::Client,
}

impl Driver {
    pub async fn start() -> Driver {
        let port = crate::free_loopback_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            base: format!("http://127.0.0.1:{port}"),
            child,
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
        loop {
            let ready = driver.client.get(format!("{}/status", driver.base)).send().await;
            if let Ok(r) = ready {
                let status: Value = r.json().await.unwrap_or(Value::Null);
                if status["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium with a fresh profile (so no cookies carry over).
    pub async fn session(&self) -> Session {
        let profile = std::env::temp_dir()
            .join(format!("forecourt-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let answer = self
            .client
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await
            .expect("new session");
        let body: Value = answer.json().await.expect("session json");
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {body}"))
            .to_owned();
        Session { url: format!("{}/session/{id}", self.base), client: self.client.clone(), profile }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window.
pub struct Session {
    url: String,
    client: reqwest::Client,
    profile: PathBuf,
}

/// An element reference of a session.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer = req.send().await.expect("webdriver request");
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "webdriver {path}: {status} {body}");
        body["value"].clone()
    }

    async fn try_find(&self, css: &str) -> Option<Element> {
        let answer = self
            .client
            .post(format!("{}/element", self.url))
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .ok()?;
        if !answer.status().is_success() {
            return None;
        }
        let body: Value = answer.json().await.ok()?;
        body["value"][ELEMENT_KEY].as_str().map(|id| Element(id.to_owned()))
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element matching `css`, waiting for it (pages load after a click).
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} at {}:\n{}",
                self.current_url().await,
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element's text, `None` when it went stale (the page navigated meanwhile).
    async fn try_text(&self, e: &Element) -> Option<String> {
        let answer =
            self.client.get(format!("{}/element/{}/text", self.url, e.0)).send().await.ok()?;
        if !answer.status().is_success() {
            return None;
        }
        let body: Value = answer.json().await.ok()?;
        body["value"].as_str().map(str::to_owned)
    }

    /// Waits until the text of `css` contains `expected`; returns the text. The element is
    /// looked up again on every try: after a form posts, the old page is still there for a
    /// moment, and its elements go stale when the new one arrives.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
        loop {
            if let Some(e) = self.try_find(css).await {
                let text = self.try_text(&e).await.unwrap_or_default();
                if text.contains(expected) {
                    return text;
                }
                assert!(Instant::now() < deadline, "{css} says {text:?}, not {expected:?}");
            } else {
                assert!(Instant::now() < deadline, "no element {css}:\n{}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, e: &Element) -> String {
        let path = format!("/element/{}/text", e.0);
        self.call(reqwest::Method::GET, &path, None).await.as_str().unwrap_or_default().to_owned()
    }

    /// Clicks the element matching `css`, finding it again if it went stale in between.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
        loop {
            let e = self.wait_for(css).await;
            let answer = self
                .client
                .post(format!("{}/element/{}/click", self.url, e.0))
                .json(&json!({}))
                .send()
                .await
                .expect("webdriver click");
            if answer.status().is_success() {
                return;
            }
            let body: Value = answer.json().await.unwrap_or(Value::Null);
            let stale = body["value"]["error"] == "stale element reference";
            assert!(stale && Instant::now() < deadline, "click {css}: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clears a field and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{}/clear", e.0), Some(json!({}))).await;
        let path = format!("/element/{}/value", e.0);
        self.call(reqwest::Method::POST, &path, Some(json!({"text": text}))).await;
    }

    /// Resizes the window (CSS pixels), e.g. to a phone's 390 × 844.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        let rect = json!({"width": width, "height": height});
        self.call(reqwest::Method::POST, "/window/rect", Some(rect)).await;
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Saves a PNG of the viewport, scrolled to the top of the page, to `path`.
    pub async fn screenshot(&self, path: &Path) {
        self.script("window.scrollTo(0, 0); return true;").await;
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 screenshot"))
            .expect("screenshot decodes");
        std::fs::write(path, png).expect("write screenshot");
    }

    pub async fn close(self) {
        let _ = self.client.delete(&self.url).send().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
