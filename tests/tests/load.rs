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
        .stdin(Stdio::null())
        .output()
        .expect("load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("created 3 drivers with a card each"), "{stderr}");
    assert!(stdout.contains("approved 6, declined 0, errors 0, completed 6"), "{stdout}");
}
