//! The test story every API test runs against both databases: start the real application
//! in-process on a fresh database (a temp SQLite file, or a new PostgreSQL database), seed
//! the demo fleet, and talk to it through its router with real HTTP requests.
#![allow(dead_code)]

pub mod phone;
pub mod terminal;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::demo::{DemoFleet, DEMO_PASSWORD};
use server::{AppState, Config, HsmConfig};
use sqlx::Connection;
use std::path::PathBuf;
use tower::ServiceExt;

pub const PG_ADMIN_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn name(backend: Backend)` once per database.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub demo: DemoFleet,
    pub dir: PathBuf,
    pub backend: Backend,
    pg_database: Option<(String, String)>,
    /// The URL the application's store was opened with.
    database_url: String,
}

/// Whether PostgreSQL must be there: on CI a missing database is a failure, not a skip.
fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn pg_admin_url() -> String {
    std::env::var("FORECOURT_TEST_PG_URL").unwrap_or_else(|_| PG_ADMIN_URL_DEFAULT.to_owned())
}

/// Creates a fresh PostgreSQL database and returns its URL, or `None` (loudly) when no
/// server is reachable outside CI.
async fn fresh_pg_database() -> Option<(String, String)> {
    let admin_url = pg_admin_url();
    let mut admin = match sqlx::postgres::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) if !on_ci() => {
            eprintln!("\n*** SKIPPED: PostgreSQL test (no server at {admin_url}: {e}). Set FORECOURT_TEST_PG_URL or start PostgreSQL. ***\n");
            return None;
        }
        Err(e) => panic!("PostgreSQL is required on CI but {admin_url} is unreachable: {e}"),
    };
    let name = format!("forecourt_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
    Some((name.clone(), format!("{base}/{name}")))
}

/// With `FORECOURT_TEST_HSM=tcp` every test talks to its HSM over the TCP transport
/// (`forecourt-hsm serve`'s code, on a loopback port) instead of in-process.
async fn remote_hsm(dir: &std::path::Path) -> Option<server::RemoteHsm> {
    if std::env::var("FORECOURT_TEST_HSM").ok().as_deref() != Some("tcp") {
        return None;
    }
    let hsm_dir = dir.join("remote-hsm");
    std::fs::create_dir_all(&hsm_dir).expect("hsm dir");
    let engine = std::sync::Arc::new(hsm_sim::Engine::open_demo(&hsm_dir).expect("hsm"));
    let psk = hsm_sim::Psk::generate();
    let psk_hex = psk.to_hex().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let limits = hsm_sim::tcp::ServerLimits::default();
    tokio::spawn(hsm_sim::tcp::serve(listener, engine, psk, limits));
    Some(server::RemoteHsm { addr, psk_hex })
}

impl TestApp {
    /// A fresh application with the demo fleet; `None` only when PostgreSQL is not
    /// available outside CI (the skip is printed).
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, |_| {}).await
    }

    /// As [`TestApp::start`], with the configuration adjusted first.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("forecourt-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite:{}", dir.join("forecourt.db").display()), None),
            Backend::Postgres => {
                let (name, url) = fresh_pg_database().await?;
                (url.clone(), Some((name, url)))
            }
        };
        let config = Config {
            database_url: database_url.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            hsm: HsmConfig {
                dir: dir.join("hsm"),
                components: None,
                remote: remote_hsm(&dir).await,
            },
            issuing: issuing::IssuingConfig::default(),
            tokens: tokens::TokensConfig::default(),
            // Bursts of hundreds of requests on a debug build may take longer than the
            // production deadline; these tests check decisions, not latency (the deadline
            // has its own tests: faults.rs, tests/tests/remote_hsm.rs).
            authorizer: authorizer::AuthorizerConfig {
                authorization_deadline_ms: 60_000,
                // Bursts here test decisions under contention, not shedding (faults.rs).
                max_pending_authorizations: 100_000,
                ..authorizer::AuthorizerConfig::default()
            },
            hold_sweep_interval_secs: 30,
            nonce_sweep_interval_secs: 5,
            seed_demo: true,
            timeouts: server::Timeouts {
                db_acquire_timeout_ms: 30_000,
                ..server::Timeouts::default()
            },
        };
        let mut config = config;
        adjust(&mut config);
        let (router, state) = server::build(&config).await.expect("build app");
        let demo =
            server::demo::seed_if_empty(&state.issuing).await.expect("seed").expect("demo fleet");
        Some(Self { router, state, demo, dir, backend, pg_database, database_url })
    }

    /// Sends one request; returns the status and the JSON body (`null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) =
            self.call_with(method, path, token, body.map(|b| b.to_string()), &[]).await;
        (status, body)
    }

    /// The full form: raw body text and extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).expect("request");
        let response = self.router.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("non-JSON body ({status}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, headers, json)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    /// Logs in with a password; returns the whole token pair.
    pub async fn login_pair(&self, email: &str, password: &str) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        body
    }

    /// An access token for a demo account.
    pub async fn token(&self, email: &str) -> String {
        self.login_pair(email, DEMO_PASSWORD).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    pub async fn operator(&self) -> String {
        self.token("operator@forecourt.example").await
    }
    pub async fn analyst(&self) -> String {
        self.token("fraud@forecourt.example").await
    }
    pub async fn owner(&self) -> String {
        self.token("owner@demo-taxi.example").await
    }
    /// Admin of the North depot.
    pub async fn admin_north(&self) -> String {
        self.token("admin.north@demo-taxi.example").await
    }
    /// Driver in the North depot, bound to the first demo card.
    pub async fn anna(&self) -> String {
        self.token("anna@demo-taxi.example").await
    }
    /// Driver in the South depot, bound to the second demo card.
    pub async fn boris(&self) -> String {
        self.token("boris@demo-taxi.example").await
    }

    pub fn north_card(&self) -> String {
        self.demo.card_ids[0].to_string()
    }
    pub fn south_card(&self) -> String {
        self.demo.card_ids[1].to_string()
    }

    /// Creates a user through the API and activates it with `password`; returns its id.
    pub async fn invite_and_activate(&self, token: &str, body: Value, password: &str) -> String {
        let (status, created) = self.post("/v1/users", token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let invite = created["invite_token"].as_str().expect("invite").to_owned();
        let (status, user) = self
            .call(
                Method::POST,
                "/v1/auth/accept-invite",
                None,
                Some(json!({"invite_token": invite, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{user}");
        created["user"]["id"].as_str().expect("id").to_owned()
    }

    /// Group ids of the demo org by name.
    pub async fn group_id(&self, name: &str) -> String {
        let (_, groups) = self.get("/v1/groups", &self.owner().await).await;
        groups
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("no group {name}"))["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }
}

impl TestApp {
    /// The database URL of this app (`sqlite:<file>` or `postgres://.../<fresh db>`), for
    /// tests that look at the database directly.
    /// Where this app's HSM keeps its key store (in-process, or the TCP server's).
    pub fn hsm_dir(&self) -> PathBuf {
        let remote = self.dir.join("remote-hsm");
        if remote.exists() {
            remote
        } else {
            self.dir.join("hsm")
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    /// A request exactly as given: no content type added, the raw response body returned
    /// (for byte comparisons and for answers that might not be JSON).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).expect("request");
        let response = self.router.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes)
    }

    /// The id of the account behind `token`.
    pub async fn user_id(&self, token: &str) -> String {
        let (status, me) = self.get("/v1/me", token).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        me["id"].as_str().expect("id").to_owned()
    }

    /// The id of a user of the demo org by email (as the owner sees it).
    pub async fn user_id_by_email(&self, email: &str) -> String {
        let (status, users) = self.get("/v1/users", &self.owner().await).await;
        assert_eq!(status, StatusCode::OK, "{users}");
        users
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["email"] == email)
            .unwrap_or_else(|| panic!("no user {email}"))["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// How many items a list endpoint returns for `token`.
    pub async fn count(&self, path: &str, token: &str) -> usize {
        let (status, list) = self.get(path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {list}");
        list.as_array().unwrap_or_else(|| panic!("{path} is not a list: {list}")).len()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((name, _)) = self.pg_database.take() {
            // Async drop does not exist; a short-lived runtime on its own thread does it.
            let admin_url = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let rt =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
                rt.block_on(async move {
                    if let Ok(mut admin) = sqlx::postgres::PgConnection::connect(&admin_url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut admin)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}
