//! The load benchmark (`forecourt-terminal load`) against the real server: phones made in
//! process, pumps in parallel, and a summary in which every fill was approved.

use std::process::{Command, Stdio};

use tests::{binary, Server};

/// The workspace binary `name`. `cargo test --workspace` builds every binary first; run
/// alone, `tests::binary` builds what is missing.
fn fresh_binary(name: &str) -> std::path::PathBuf {
    binary(name)
}

/// Registers a terminal with the CLI; returns the terminal file.
fn register(server: &Server) -> String {
    let dir = server.dir.join("terminal-files");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("terminal.json");
    let file = file.to_str().unwrap();
    let register = Command::new(fresh_binary("forecourt-terminal"))
        .args(["register", "--server", &server.base_url, "--password", "forecourt-demo"])
        .args(["--station-name", "Load test", "--terminal", file])
        .stdin(Stdio::null())
        .output()
        .expect("register");
    assert!(register.status.success(), "{}", String::from_utf8_lossy(&register.stderr));
    file.to_owned()
}

#[tokio::test]
async fn a_short_load_run_approves_every_fill_and_prints_the_summary() {
    let server = Server::start().await;
    let file = register(&server);
    let file = file.as_str();
    let out = Command::new(fresh_binary("forecourt-terminal"))
        .args(["load", "--terminal", file, "--wallets", "2", "--pumps", "2", "--fills", "20"])
        .args(["--fund", "1000000"])
        .stdin(Stdio::null())
        .output()
        .expect("load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("load: 20 fills in "), "{stdout}");
    assert!(stdout.contains("with 2 pumps and 2 wallets"), "{stdout}");
    assert!(stdout.contains("approved 20, declined 0, errors 0, completed 20"), "{stdout}");
    assert!(stdout.contains("response codes: 00=20\n"), "{stdout}");
    for name in ["pre-authorization", "completion"] {
        let line = stdout.lines().find(|l| l.starts_with(name)).expect(name);
        assert!(
            line.contains("n=20") && line.contains(" p50 ") && line.contains(" p99 "),
            "{line}"
        );
        assert!(line.contains(" p90 ") && line.contains(" max "), "{line}");
    }
    assert!(stderr.contains("20/20 fills  approved 20  errors 0"), "progress line: {stderr}");
}

#[tokio::test]
async fn load_with_drivers_created_by_the_owner() {
    let server = Server::start().await;
    let file = register(&server);
    let out = Command::new(fresh_binary("forecourt-terminal"))
        .args(["load", "--terminal", &file, "--wallets", "3", "--pumps", "2", "--fills", "6"])
        .args(["--owner-email", "owner@demo-taxi.example", "--fund", "1000000"])
        // Half the fills offer a product the created cards do not allow (restricted per
        // card: the demo fleet's other cards keep their controls).
        .args(["--decline-percent", "50", "--reversal-percent", "0"])
        .stdin(Stdio::null())
        .output()
        .expect("load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("created 3 drivers with a card each"), "{stderr}");
    assert!(stdout.contains("approved 3, declined 3, errors 0, completed 3"), "{stdout}");
    assert!(stdout.contains("response codes: 00=3 57=3\n"), "{stdout}");
    assert_eq!(result(&stdout)["unexpected"], 0, "{stdout}");
}

/// Runs `forecourt-terminal load` with `args`; returns stdout and stderr, asserting success.
fn load(file: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(fresh_binary("forecourt-terminal"))
        .args(["load", "--terminal", file])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("load");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    (stdout, stderr)
}

/// The `RESULT {json}` line of a load run.
fn result(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")).expect("RESULT line");
    serde_json::from_str(line).expect("RESULT is JSON")
}

/// A phase's `n` and whether its percentiles are there.
fn phase(result: &serde_json::Value, name: &str) -> u64 {
    let p = &result[name];
    for key in ["p50_us", "p90_us", "p99_us", "max_us"] {
        assert!(p[key].as_u64().is_some(), "{name} {key}: {p}");
    }
    assert!(p["p50_us"].as_u64() <= p["p99_us"].as_u64(), "{p}");
    p["n"].as_u64().expect("n")
}

#[tokio::test]
async fn a_mixed_load_over_fleets_answers_every_phase_as_the_mix_says() {
    let server = Server::start().await;
    let file = register(&server);
    let secret =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&file).unwrap())
            .unwrap()["secret_hex"]
            .as_str()
            .unwrap()
            .to_owned();
    // 2 fleets × 3 phones; of 40 fills 8 are declined (a product the fleet does not
    // allow), 8 reversed, 24 completed; 20 pay by NFC.
    let (stdout, stderr) = load(
        &file,
        &[
            "--fleets",
            "2",
            "--wallets",
            "3",
            "--pumps",
            "3",
            "--fills",
            "40",
            "--fund",
            "1000000",
            "--nfc-percent",
            "50",
            "--reversal-percent",
            "20",
            "--decline-percent",
            "20",
        ],
    );
    assert!(stderr.contains("created 2 fleets"), "{stderr}");
    assert!(stderr.contains("created 6 drivers with a card each"), "{stderr}");
    assert!(stderr.contains("credited 1000000 to 2 fleet account(s)"), "{stderr}");
    let r = result(&stdout);
    assert_eq!(
        (r["mode"].as_str(), r["fleets"].as_u64(), r["wallets"].as_u64()),
        (Some("closed"), Some(2), Some(6)),
        "{r}"
    );
    assert_eq!(r["fills"], 40, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["unexpected"], 0, "no approval declined, no decline approved: {r}");
    assert_eq!(r["codes"], serde_json::json!({"00": 32, "57": 8}), "only the expected codes: {r}");
    assert_eq!((r["approved"].as_u64(), r["declined"].as_u64()), (Some(32), Some(8)), "{r}");
    assert_eq!((r["decline_fills"].as_u64(), r["nfc"].as_u64()), (Some(8), Some(20)), "{r}");
    assert_eq!((r["completed"].as_u64(), r["reversed"].as_u64()), (Some(24), Some(8)), "{r}");
    assert_eq!(phase(&r, "preauth"), 40, "{r}");
    assert_eq!(phase(&r, "completion"), 24, "{r}");
    assert_eq!(phase(&r, "reversal"), 8, "every reversal acknowledged: {r}");
    assert!(r["setup_ms"].as_u64().is_some() && r["elapsed_ms"].as_u64() > Some(0), "{r}");
    assert!(stdout.contains("response codes: 00=32 57=8\n"), "{stdout}");
    assert!(stdout.contains("approved 32, declined 8, errors 0, completed 24, reversed 8"));
    for name in ["pre-authorization", "completion", "reversal"] {
        let line = stdout.lines().find(|l| l.starts_with(name)).expect(name);
        assert!(line.contains("/s ") && line.contains(" p99 ") && line.contains(" max "), "{line}");
    }

    // Open loop: 40 fills scheduled at 80/s on one phone, which spends its 32 key uses
    // (8 keys × 4) and replenishes between fills.
    let (stdout, _) = load(
        &file,
        &["--fleets", "1", "--wallets", "1", "--rate", "80", "--fills", "40", "--fund", "1000000"],
    );
    let open = result(&stdout);
    assert_eq!((open["mode"].as_str(), open["rate"].as_u64()), (Some("open"), Some(80)), "{open}");
    assert_eq!((open["fills"].as_u64(), open["errors"].as_u64()), (Some(40), Some(0)), "{open}");
    assert_eq!(open["codes"], serde_json::json!({"00": 40}), "{open}");
    assert_eq!((open["unexpected"].as_u64(), open["replenished"].as_u64()), (Some(0), Some(1)));
    assert_eq!(phase(&open, "preauth"), 40, "{open}");
    // 40 starts 12.5 ms apart take at least 487 ms.
    assert!(open["elapsed_ms"].as_u64() >= Some(487), "{open}");
    assert!(stdout.contains("at 80/s scheduled (open loop)"), "{stdout}");

    for text in [&stdout, &server.log()] {
        assert!(!text.contains(&secret), "the terminal secret never prints");
    }
}
