//! Crash safety: pre-authorizations and completions from several phones at concurrent
//! terminals while the `forecourt` process is killed with SIGKILL at random moments and
//! restarted on the same database; then the database is checked (support/chaos.rs): every
//! approval a terminal saw is stored with its hold, no authorization is half-written, the
//! ledger balances against its postings, no limit is exceeded, no ATC was accepted twice.
//! The second test kills the out-of-process HSM instead: terminals get 91 quickly while it
//! is down, and approvals resume when it is back.
//!
//! Short form (CI): 3 kill cycles. Long form:
//! `FORECOURT_CRASH_CYCLES=50 cargo test -p tests --test crash -- --nocapture`; a failing
//! run prints `FORECOURT_CRASH_SEED=…`, set it to replay the same kill moments.

mod support;

use rand::Rng;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::chaos::{self, Fleet, Seen};
use tests::{HsmProcess, Server};

/// Phones paying at once (each at one of two terminals).
const PHONES: usize = 4;
/// `forecourt`'s default authorization deadline (`FORECOURT_AUTHORIZATION_DEADLINE_MS`).
const DEFAULT_DEADLINE_MS: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_on_sqlite() {
    let data = temp_dir("crash-sqlite");
    let url = format!("sqlite:{}", data.join("forecourt.db").display());
    sigkill_under_load(&data, &url).await;
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_on_postgres() {
    let Some((name, url)) = support::fresh_pg_database().await else { return };
    let data = temp_dir("crash-pg");
    sigkill_under_load(&data, &url).await;
    support::drop_pg_database(&name).await;
    let _ = std::fs::remove_dir_all(&data);
}

/// Daily limits the load reaches part-way through (a cycle makes about 80 fills), so limit
/// declines are part of it and the limit check is not vacuous, whatever the cycle count.
fn tight_limits(cycles: usize) -> chaos::Limits {
    let cycles = i64::try_from(cycles).unwrap_or(i64::MAX);
    chaos::Limits { amount: 20_000 * cycles, count: Some((30 * cycles).min(1_000)) }
}

fn temp_dir(what: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("forecourt-{what}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

async fn sigkill_under_load(data: &std::path::Path, url: &str) {
    let started = Instant::now();
    let hsm_dir = data.join("hsm").display().to_string();
    let env =
        [("FORECOURT_DATABASE_URL", url), ("FORECOURT_HSM_DIR", &hsm_dir), ("RUST_LOG", "info")];
    let port = tests::free_loopback_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Server::start_at(port, &env).await;
    let cycles = chaos::cycles();
    let fleet = Fleet::setup(&base, 2, tight_limits(cycles)).await;
    let mut rng = chaos::rng();
    let (seen, stan) = (Mutex::new(Seen::default()), AtomicU32::new(1));
    for cycle in 0..cycles {
        let phones = chaos::phones(&fleet, &base, PHONES).await;
        let stop = AtomicBool::new(false);
        // Killed after a random number of this cycle's answers (of PHONES * 31 fills), so
        // the kill lands inside the load however fast it runs.
        let (answers, from) = (rng.gen_range(5..100), seen.lock().unwrap().answered());
        let kill = async {
            chaos::after_answers(&seen, from, answers).await;
            server.kill();
            stop.store(true, Ordering::Relaxed);
        };
        tokio::join!(chaos::load(&fleet, &base, &phones, &stop, &stan, &seen), kill);
        eprintln!("cycle {cycle}: SIGKILL after {answers} answers");
        server = Server::start_at(port, &env).await;
    }
    // The last restart serves: a fill is answered (approved or declined by the limit).
    let phones = chaos::phones(&fleet, &base, 1).await;
    let never = AtomicBool::new(false);
    let before = seen.lock().unwrap().codes.values().sum::<usize>();
    chaos::load(&fleet, &base, &phones, &never, &stan, &seen).await;
    server.kill();
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen.codes.values().sum::<usize>() - before,
        31,
        "every fill after the last restart is answered"
    );
    assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
    assert!(seen.approved.len() >= 10, "the load approved little: {seen:?}");
    let summary = chaos::check_invariants(url, &seen, fleet.limits).await;
    eprintln!(
        "{summary}; seen: {} approved, {} completed, {} reversed, {} lost, codes {:?}; {} s",
        seen.approved.len(),
        seen.completed.len(),
        seen.reversed.len(),
        seen.lost,
        seen.codes,
        started.elapsed().as_secs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsm_killed_under_load() {
    let started = Instant::now();
    let data = temp_dir("crash-hsm");
    let url = format!("sqlite:{}", data.join("forecourt.db").display());
    let mut hsm = HsmProcess::start();
    let env = [
        ("FORECOURT_DATABASE_URL", url.as_str()),
        ("FORECOURT_HSM_ADDR", &hsm.addr),
        ("FORECOURT_HSM_PSK", &hsm.psk_hex),
        ("RUST_LOG", "info"),
    ];
    let server = Server::start_with(&env).await;
    let base = server.base_url.clone();
    let fleet = Fleet::setup(&base, 2, chaos::LOOSE).await;
    let mut rng = chaos::rng();
    let (seen, stan) = (Mutex::new(Seen::default()), AtomicU32::new(1));
    for cycle in 0..chaos::cycles() {
        let phones = chaos::phones(&fleet, &base, PHONES).await;
        let stop = AtomicBool::new(false);
        // Killed after a random number of this cycle's answers (of PHONES * 31 fills).
        let (answers, from) = (rng.gen_range(5..60), seen.lock().unwrap().answered());
        let down = Duration::from_millis(rng.gen_range(300..1_000));
        let outage = async {
            chaos::after_answers(&seen, from, answers).await;
            hsm.kill();
            tokio::time::sleep(down).await;
            hsm.spawn();
        };
        let load = async {
            chaos::load(&fleet, &base, &phones, &stop, &stan, &seen).await;
        };
        tokio::join!(load, outage);
        eprintln!("cycle {cycle}: HSM killed after {answers} answers for {} ms", down.as_millis());
    }
    // Approvals resume: a fresh phone's fills are approved again.
    let phones = chaos::phones(&fleet, &base, 1).await;
    let approved_before = seen.lock().unwrap().approved.len();
    chaos::load(&fleet, &base, &phones, &AtomicBool::new(false), &stan, &seen).await;
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen.approved.len() - approved_before,
        31,
        "every fill approved after the HSM is back: {seen:?}"
    );
    assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
    assert_eq!(seen.lost, 0, "no request went unanswered");
    assert!(seen.count("91") > 0, "the outages were seen as 91: {seen:?}");
    let deadline = Duration::from_millis(DEFAULT_DEADLINE_MS);
    assert!(
        seen.slowest_91 < deadline,
        "91 comes quickly when the HSM is down, not at the deadline: {:?}",
        seen.slowest_91
    );
    drop(server);
    let summary = chaos::check_invariants(&url, &seen, fleet.limits).await;
    eprintln!(
        "{summary}; seen: {} approved, {} completed, {} reversed, codes {:?}, slowest 91 {:?}, slowest {:?}; {} s",
        seen.approved.len(), seen.completed.len(), seen.reversed.len(), seen.codes,
        seen.slowest_91, seen.slowest, started.elapsed().as_secs()
    );
    let _ = std::fs::remove_dir_all(&data);
}
