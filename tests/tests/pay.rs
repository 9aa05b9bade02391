//! Paying at the pump with the real binaries: `forecourt`, the driver's `forecourt-wallet`
//! and the station's `forecourt-terminal` (register, QR, NFC over the wallet's HCE socket,
//! a decline, a cancelled fill), checked through the fleet's API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::{binary, Server};

/// The workspace binary `name`. `cargo test --workspace` builds every binary first; run
/// alone, `tests::binary` builds what is missing.
fn fresh_binary(name: &str) -> std::path::PathBuf {
    binary(name)
}

const PASSWORD: &str = "forecourt-demo";

/// A temporary directory for the wallet and terminal files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("forecourt-pay-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(fresh_binary(bin)).args(args).stdin(Stdio::null()).output().expect("run binary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn login(server: &Server, email: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", server.base_url))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let body: Value = res.json().await.expect("json");
    body["access_token"].as_str().expect("access token").to_owned()
}

async fn api(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base_url))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.expect("json")
}

/// The operator credits the demo fleet's account.
async fn fund(server: &Server, amount: i64) {
    let operator = login(server, "operator@forecourt.example").await;
    let orgs = api(server, &operator, reqwest::Method::GET, "/v1/orgs", None).await;
    let org = orgs[0]["id"].as_str().expect("demo org");
    let path = format!("/v1/orgs/{org}/account/credits");
    api(server, &operator, reqwest::Method::POST, &path, Some(json!({"amount": amount}))).await;
}

/// `forecourt-terminal register` into `dir/terminal.json`.
fn register_terminal(server: &Server, dir: &Path) -> PathBuf {
    let path = dir.join("terminal.json");
    let out = run(
        "forecourt-terminal",
        &[
            "register",
            "--server",
            &server.base_url,
            "--password",
            PASSWORD,
            "--station-name",
            "Autohof Nord",
            "--terminal",
            path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("saved to"), "{}", describe(&out));
    path
}

/// Anna's phone as the wallet CLI: login, sync, enrol, provision her first card.
struct Wallet {
    server: String,
    file: PathBuf,
}

impl Wallet {
    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--server", &self.server, "--wallet", self.file.to_str().unwrap()];
        all.extend_from_slice(args);
        run("forecourt-wallet", &all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "wallet {args:?}: {}", describe(&out));
        stdout(&out)
    }

    async fn anna(server: &Server, dir: &Path) -> Wallet {
        let wallet = Wallet { server: server.base_url.clone(), file: dir.join("anna.json") };
        wallet.ok(&["login", "--email", "anna@demo-taxi.example", "--password", PASSWORD]);
        wallet.ok(&["sync"]);
        wallet.ok(&["enrol", "--label", "Anna's phone"]);
        let anna = login(server, "anna@demo-taxi.example").await;
        let cards = api(server, &anna, reqwest::Method::GET, "/v1/cards", None).await;
        let card = cards[0]["id"].as_str().expect("Anna's card");
        wallet.ok(&["provision", "--card", card]);
        wallet
    }

    fn qr(&self) -> String {
        let payload = self.ok(&["qr", "--once"]).trim().to_owned();
        assert!(payload.starts_with("hQVDUFYw"), "{payload}");
        payload
    }
}

fn terminal(terminal: &Path, args: &[&str]) -> Output {
    let mut all = vec![args[0], "--terminal", terminal.to_str().unwrap()];
    all.extend_from_slice(&args[1..]);
    run("forecourt-terminal", &all)
}

/// The id the terminal printed as `authorization <id>`.
fn authorization_id(out: &Output) -> String {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix("authorization "))
        .unwrap_or_else(|| panic!("no authorization id: {}", describe(out)))
        .trim()
        .to_owned()
}

/// The fleet owner's view of one fill.
async fn fill(server: &Server, id: &str) -> Value {
    let owner = login(server, "owner@demo-taxi.example").await;
    let fills = api(server, &owner, reqwest::Method::GET, "/v1/authorizations", None).await;
    fills
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("authorization {id} not in the fleet's list: {fills}"))
}

#[tokio::test]
async fn qr_from_the_wallet_cli_declines_then_pays_completes_and_cancels() {
    let server = Server::start().await;
    let dir = TempDir::new();
    let terminal_file = register_terminal(&server, &dir.0);
    let wallet = Wallet::anna(&server, &dir.0).await;

    // A fresh demo fleet has no money yet: declined with the reason and the pump's text.
    let out = terminal(&terminal_file, &["qr", &wallet.qr(), "--amount", "8000"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("DECLINED 51 INSUFFICIENT_FUNDS"), "{text}");
    assert!(text.contains("Fleet account balance too low"), "{text}");

    fund(&server, 1_000_000).await;
    let out = terminal(&terminal_file, &["qr", &wallet.qr(), "--amount", "8000"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("pre-authorization: approved 00 amount 8000"), "{text}");
    assert!(text.contains("dispensed: amount 7200 volume 40022 ml diesel"), "{text}");
    assert!(text.contains("completion: completed final amount 7200"), "{text}");
    let done = fill(&server, &authorization_id(&out)).await;
    assert_eq!(
        (done["status"].as_str(), done["approved_amount"].as_i64(), done["final_amount"].as_i64()),
        (Some("completed"), Some(8_000), Some(7_200)),
        "{done}"
    );
    assert_eq!(done["final_volume_ml"].as_i64(), Some(40_022));

    // The driver cancels: a reversal instead of the completion.
    let out = terminal(&terminal_file, &["qr", &wallet.qr(), "--volume-ml", "20000", "--cancel"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("reversal: reversed"), "{}", describe(&out));
    let owner = login(&server, "owner@demo-taxi.example").await;

    // 10,000 a day of which 7,200 are spent: a pump that can stop gets a partial approval
    // and never dispenses beyond it, even when told to dispense all of the preset.
    let reversed = fill(&server, &authorization_id(&out)).await;
    assert_eq!(reversed["status"], "reversed", "{reversed}");
    let card = done["card_id"].as_str().unwrap();
    let controls = json!({"daily": {"amount": 10_000}});
    let path = format!("/v1/cards/{card}/controls");
    api(&server, &owner, reqwest::Method::PUT, &path, Some(controls)).await;
    let args = ["qr", &wallet.qr(), "--amount", "8000", "--partial", "--dispense", "1000"];
    let out = terminal(&terminal_file, &args);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("pre-authorization: approved 10 PARTIAL amount 2800"), "{text}");
    assert!(text.contains("completion: completed final amount 2800"), "{text}");
}

/// `forecourt-wallet hce`, killed on drop.
struct Hce(Child);

impl Drop for Hce {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn nfc_tap_over_the_wallet_hce_socket_pays_a_partial_dispense() {
    let server = Server::start().await;
    let dir = TempDir::new();
    let terminal_file = register_terminal(&server, &dir.0);
    let wallet = Wallet::anna(&server, &dir.0).await;
    fund(&server, 1_000_000).await;
    let socket = dir.0.join("phone.sock");
    let _hce = Hce(Command::new(fresh_binary("forecourt-wallet"))
        .args(["--server", &wallet.server, "--wallet", wallet.file.to_str().unwrap()])
        .args(["hce", "--socket", socket.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the wallet's HCE"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the wallet never opened its socket");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = terminal(
        &terminal_file,
        &["nfc", socket.to_str().unwrap(), "--amount", "6000", "--dispense", "500"],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("tap: AID A0000009990101 token …"), "{text}");
    assert!(text.contains("completion: completed final amount 3000"), "{text}");
    let done = fill(&server, &authorization_id(&out)).await;
    assert_eq!(
        (done["status"].as_str(), done["approved_amount"].as_i64(), done["final_amount"].as_i64()),
        (Some("completed"), Some(6_000), Some(3_000)),
        "{done}"
    );
}
