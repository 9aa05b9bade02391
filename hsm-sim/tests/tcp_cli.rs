//! `forecourt-hsm serve` as its own process, reached through `HsmClient::tcp`.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::TempDir;
use hsm_sim::{HsmClient, HsmError, Psk, TcpClientConfig};

const BIN: &str = env!("CARGO_BIN_EXE_forecourt-hsm");

/// A `forecourt-hsm` command with no HSM secrets inherited from the environment.
fn hsm() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("FORECOURT_HSM_COMPONENTS")
        .env_remove("FORECOURT_HSM_PSK")
        .env("RUST_LOG", "info");
    cmd
}

/// A new store in `dir`: (components joined by commas, LMK KCV).
fn init_store(dir: &TempDir) -> (String, String) {
    let out = hsm().args(["init", "--dir", dir.path().to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let components: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("component "))
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    let kcv = text.lines().find_map(|l| l.strip_prefix("LMK KCV: ")).unwrap();
    (components.join(","), kcv.to_owned())
}

/// A running `serve`, killed on drop if the test did not stop it.
struct Server {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
}

impl Server {
    /// Starts `serve` on a free loopback port and waits for its "listening" line.
    fn start(mut cmd: Command) -> (Self, SocketAddr) {
        cmd.args(["--listen", "127.0.0.1:0"]).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self { child, lines, log: Vec::new() };
        let line = server.wait_for("listening");
        let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).unwrap();
        (server, addr.parse().unwrap())
    }

    /// The first log line containing `needle`, within 20 s (a cold start may compile
    /// nothing, but it may open a store on a slow disk).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no log line with {needle:?}; log so far:\n{}", self.log.join("\n"));
    }

    /// SIGTERM, then the exit status and the whole log.
    fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        self.log.extend(self.lines.try_iter());
        (status, self.log.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(addr: SocketAddr, psk: &Psk) -> HsmClient {
    HsmClient::tcp(TcpClientConfig::new(addr.to_string(), psk.clone())).unwrap()
}

fn assert_no_secrets(log: &str, secrets: &[&str]) {
    for secret in secrets {
        for part in secret.split(',') {
            assert!(!log.to_lowercase().contains(&part.to_lowercase()), "secret in log:\n{log}");
        }
    }
}

#[tokio::test]
async fn serve_answers_a_tcp_client_and_stops_on_sigterm() {
    let dir = TempDir::new();
    let (components, kcv) = init_store(&dir);
    let psk = Psk::generate();
    let psk_file = dir.path().join("hsm.psk");
    std::fs::write(&psk_file, format!("{}\n", psk.to_hex().as_str())).unwrap();
    let mut cmd = hsm();
    cmd.args(["serve", "--dir", dir.path().to_str().unwrap()])
        .arg("--psk-file")
        .arg(&psk_file)
        .env("FORECOURT_HSM_COMPONENTS", &components);
    let (server, addr) = Server::start(cmd);
    assert!(server.log.last().unwrap().contains(&format!("lmk_kcv={kcv}")), "{:?}", server.log);

    let client = client(addr, &psk);
    let health = client.health().await.unwrap();
    assert_eq!((health.status.as_str(), health.lmk_kcv.as_str()), ("ok", kcv.as_str()));
    let issued = client.generate_pan("600000", 16).await.unwrap();
    assert_eq!(client.decrypt_pan(&issued.ciphertext).await.unwrap().last4(), issued.last4);

    let (status, log) = server.terminate();
    assert!(status.success(), "exit {status:?}\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert_no_secrets(&log, &[&components, psk.to_hex().as_str()]);
    assert!(matches!(client.health().await, Err(HsmError::Unavailable(_))));
}

#[tokio::test]
async fn serve_refuses_a_client_with_another_psk_and_logs_it_without_secrets() {
    let dir = TempDir::new();
    let (components, _kcv) = init_store(&dir);
    let psk = Psk::generate();
    let mut cmd = hsm();
    cmd.args(["serve", "--dir", dir.path().to_str().unwrap()])
        .env("FORECOURT_HSM_COMPONENTS", &components)
        .env("FORECOURT_HSM_PSK", psk.to_hex().as_str());
    let (mut server, addr) = Server::start(cmd);

    let wrong = Psk::generate();
    assert!(matches!(client(addr, &wrong).health().await, Err(HsmError::Unavailable(_))));
    server.wait_for("refused HSM connection");
    assert_eq!(client(addr, &psk).health().await.unwrap().status, "ok");
    let (_, log) = server.terminate();
    assert_no_secrets(&log, &[&components, psk.to_hex().as_str(), wrong.to_hex().as_str()]);
}

fn run_failing(cmd: &mut Command) -> String {
    let out: Output = cmd.output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn serve_refuses_to_start_without_exactly_one_psk_or_off_loopback() {
    let dir = TempDir::new();
    let (components, _) = init_store(&dir);
    let d = dir.path().to_str().unwrap();
    let psk_file = dir.path().join("hsm.psk");
    std::fs::write(&psk_file, Psk::generate().to_hex().as_str()).unwrap();
    let serve = || {
        let mut cmd = hsm();
        cmd.args(["serve", "--dir", d]).env("FORECOURT_HSM_COMPONENTS", &components);
        cmd
    };

    let err = run_failing(&mut serve());
    assert!(err.contains("no transport PSK"), "{err}");
    let err = run_failing(serve().arg("--psk-file").arg(&psk_file).env("FORECOURT_HSM_PSK", "00"));
    assert!(err.contains("not both"), "{err}");
    let err = run_failing(serve().env("FORECOURT_HSM_PSK", "not-hex"));
    assert!(err.contains("64 hex digits") && !err.contains("not-hex"), "{err}");
    let err = run_failing(serve().arg("--psk-file").arg(&psk_file).args(["--listen", "0.0.0.0:0"]));
    assert!(err.contains("refusing to listen on 0.0.0.0:0"), "{err}");
}

#[test]
fn gen_psk_prints_a_fresh_key_each_time() {
    let run = || {
        let out = hsm().arg("gen-psk").output().unwrap();
        assert!(out.status.success());
        let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let check = String::from_utf8(out.stderr).unwrap();
        (key, check)
    };
    let (a, check) = run();
    let (b, _) = run();
    assert_eq!(a.len(), 64);
    assert_ne!(a, b);
    let psk = Psk::parse_hex(&a).unwrap();
    assert!(check.contains(&psk.check_value()), "{check}");
}
