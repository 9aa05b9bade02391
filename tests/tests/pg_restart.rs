//! PostgreSQL restarted under load: `forecourt` reconnects by itself. A private cluster
//! (never the machine's shared one, which other tests use) is stopped (`-m fast`, then
//! `-m immediate`, alternating) and started again while terminals pay; terminals get an
//! answer throughout (91 while the database is away), approvals resume without a restart
//! of `forecourt`, and the database invariants of support/chaos.rs hold afterwards.
//!
//! Needs PostgreSQL's server binaries (`/usr/lib/postgresql/*/bin/initdb`); without them
//! the test is skipped loudly, except on CI (`CI` set, not `0`/`false`), where it fails.
//! Cycles: `FORECOURT_CRASH_CYCLES` (default 3).

mod support;

use rand::Rng;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::chaos::{self, Fleet, Seen};
use tests::Server;

/// A PostgreSQL cluster of this test's own, in a temporary directory.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Run the server binaries as `postgres` (initdb refuses to run as root).
    as_postgres: bool,
}

impl Cluster {
    /// `initdb` and start; `None` when the binaries are missing (outside CI).
    fn start() -> Option<Cluster> {
        let Some(bin) = server_binaries() else {
            assert!(!support::on_ci(), "PostgreSQL server binaries are required on CI");
            eprintln!("\n*** SKIPPED: no /usr/lib/postgresql/*/bin/initdb on this machine ***\n");
            return None;
        };
        let dir =
            std::env::temp_dir().join(format!("forecourt-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let as_postgres = is_root();
        if as_postgres {
            let owned = Command::new("chown").arg("-R").arg("postgres:postgres").arg(&dir).status();
            assert!(owned.is_ok_and(|s| s.success()), "chown the cluster directory to postgres");
        }
        let cluster = Cluster { bin, dir, port: tests::free_loopback_port(), as_postgres };
        let data = cluster.data().display().to_string();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"]);
        cluster.up();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let (data, log) =
            (self.data().display().to_string(), self.dir.join("pg.log").display().to_string());
        self.run("pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "-w", "start"]);
    }

    fn down(&self, mode: &str) {
        self.run("pg_ctl", &["-D", &self.data().display().to_string(), "-m", mode, "-w", "stop"]);
    }

    /// Runs one of the server binaries, as `postgres` when we are root; panics on failure.
    fn run(&self, name: &str, args: &[&str]) {
        let program = self.bin.join(name);
        let output = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&program).args(args).output()
        } else {
            Command::new(&program).args(args).output()
        }
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
        assert!(
            output.status.success(),
            "{name} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let program = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(&program).args(args).output()
        } else {
            Command::new(&program).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
fn server_binaries() -> Option<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    let started = Instant::now();
    let Some(cluster) = Cluster::start().map(Arc::new) else { return };
    let url = cluster.url();
    let hsm_dir = cluster.dir.join("hsm").display().to_string();
    let env = [
        ("FORECOURT_DATABASE_URL", url.as_str()),
        ("FORECOURT_HSM_DIR", &hsm_dir),
        ("RUST_LOG", "info"),
    ];
    let server = Server::start_with(&env).await;
    let base = server.base_url.clone();
    let fleet = Fleet::setup(&base, 2, chaos::LOOSE).await;
    let mut rng = chaos::rng();
    let (seen, stan) = (Mutex::new(Seen::default()), AtomicU32::new(1));
    for cycle in 0..chaos::cycles() {
        let phones = chaos::phones(&fleet, &base, 4).await;
        // Stopped after a random number of this cycle's answers (of 4 * 31 fills).
        let (answers, down) = (rng.gen_range(5..60), rng.gen_range(200..1_000));
        let from = seen.lock().unwrap().answered();
        let mode = if cycle % 2 == 0 { "fast" } else { "immediate" };
        // pg_ctl blocks: run it off this task, so the terminals keep paying meanwhile.
        let restart = async {
            chaos::after_answers(&seen, from, answers).await;
            let c = Arc::clone(&cluster);
            tokio::task::spawn_blocking(move || c.down(mode)).await.expect("stop");
            tokio::time::sleep(Duration::from_millis(down)).await;
            let c = Arc::clone(&cluster);
            tokio::task::spawn_blocking(move || c.up()).await.expect("start");
        };
        let never = AtomicBool::new(false);
        tokio::join!(chaos::load(&fleet, &base, &phones, &never, &stan, &seen), restart);
        eprintln!(
            "cycle {cycle}: PostgreSQL stopped ({mode}) after {answers} answers for {down} ms"
        );
    }
    // The same forecourt process approves again, through new connections.
    let phones = chaos::phones(&fleet, &base, 1).await;
    let approved_before = seen.lock().unwrap().approved.len();
    let never = AtomicBool::new(false);
    chaos::load(&fleet, &base, &phones, &never, &stan, &seen).await;
    let seen = seen.into_inner().unwrap();
    let resumed = seen.approved.len() - approved_before;
    assert_eq!(resumed, 31, "approvals resume after the restarts: {seen:?}\n{}", server.log());
    assert!(seen.unexpected.is_empty(), "{:?}\n{}", seen.unexpected, server.log());
    assert_eq!(seen.lost, 0, "every request was answered");
    assert!(seen.count("91") > 0, "the outages were seen by the terminals as 91: {seen:?}");
    drop(server);
    let summary = chaos::check_invariants(&url, &seen, fleet.limits).await;
    eprintln!(
        "{summary}; seen: {} approved, {} completed, {} reversed, codes {:?}, slowest {:?}; {} s",
        seen.approved.len(),
        seen.completed.len(),
        seen.reversed.len(),
        seen.codes,
        seen.slowest,
        started.elapsed().as_secs()
    );
}
