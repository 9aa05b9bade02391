//! Support for end-to-end tests: build and start the real `forecourt` binary in an empty
//! directory, wait until it answers, stop it gracefully, and keep its logs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a freshly started server may take to answer its health check.
pub const STARTUP_TIMEOUT_SECS: u64 = 60;

/// The workspace's target directory, found from the running test executable
/// (`target/<profile>/deps/<test>`).
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

/// Path to a workspace binary, building it first if this test run did not.
pub fn binary(name: &str) -> PathBuf {
    let path = target_profile_dir().join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--workspace", "--bin", name])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building {name} failed");
    }
    path
}

/// A `forecourt` process running in its own empty directory.
pub struct Server {
    pub dir: PathBuf,
    pub base_url: String,
    child: Option<Child>,
}

impl Server {
    /// Starts `forecourt` exactly as the README says (no arguments but the port), with
    /// verbose logs so that tests can search them.
    pub async fn start() -> Server {
        Self::start_with(&[]).await
    }

    /// Starts `forecourt` with extra environment variables.
    pub async fn start_with(env: &[(&str, &str)]) -> Server {
        Self::start_at(free_port(), env).await
    }

    /// As [`Server::start_with`], listening on `port` (a restarted server keeps its address).
    pub async fn start_at(port: u16, env: &[(&str, &str)]) -> Server {
        let dir =
            std::env::temp_dir().join(format!("forecourt-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let child = Command::new(binary("forecourt"))
            .current_dir(&dir)
            .env("FORECOURT_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start forecourt");
        let server =
            Server { dir, base_url: format!("http://127.0.0.1:{port}"), child: Some(child) };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(STARTUP_TIMEOUT_SECS);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/v1/health", self.base_url)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("forecourt did not become healthy; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM (graceful shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A free loopback port (racy in theory; the OS does not hand it out again at once).
pub fn free_loopback_port() -> u16 {
    free_port()
}

/// A running `forecourt-hsm serve` on a fresh key store, as an operator would set it up.
pub struct HsmProcess {
    pub dir: PathBuf,
    pub addr: String,
    pub psk_hex: String,
    components: String,
    child: Option<Child>,
}

impl HsmProcess {
    /// `forecourt-hsm init`, `gen-psk`, then `serve` on a free port.
    pub fn start() -> HsmProcess {
        let dir =
            std::env::temp_dir().join(format!("forecourt-hsm-{}", uuid::Uuid::new_v4().simple()));
        let bin = binary("forecourt-hsm");
        let init = Command::new(&bin)
            .args(["init", "--components", "2", "--dir"])
            .arg(&dir)
            .output()
            .expect("init");
        assert!(init.status.success(), "init: {}", String::from_utf8_lossy(&init.stderr));
        let components: Vec<String> = String::from_utf8_lossy(&init.stdout)
            .lines()
            .filter(|l| l.starts_with("component "))
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
            .collect();
        assert_eq!(components.len(), 2, "init prints two components");
        let psk = Command::new(&bin).arg("gen-psk").output().expect("gen-psk");
        let psk_hex = String::from_utf8_lossy(&psk.stdout).trim().to_owned();
        let mut hsm = HsmProcess {
            dir,
            addr: format!("127.0.0.1:{}", free_port()),
            psk_hex,
            components: components.join(","),
            child: None,
        };
        hsm.spawn();
        hsm
    }

    /// Starts (or restarts) `serve` and waits until it accepts connections.
    pub fn spawn(&mut self) {
        let child = Command::new(binary("forecourt-hsm"))
            .args(["serve", "--listen", &self.addr, "--dir"])
            .arg(&self.dir)
            .env("FORECOURT_HSM_COMPONENTS", &self.components)
            .env("FORECOURT_HSM_PSK", &self.psk_hex)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(STARTUP_TIMEOUT_SECS);
        while std::net::TcpStream::connect(&self.addr).is_err() {
            assert!(Instant::now() < deadline, "forecourt-hsm did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for HsmProcess {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The W3C WebDriver client the browser tests drive headless Chromium with.
#[path = "src/webdriver.rs"]
pub mod webdriver;
