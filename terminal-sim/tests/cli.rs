//! Runs the real `forecourt-terminal` binary.

use std::process::{Command, Output};

use emv::qr::{self, ChipData, CpmPayload, TokenData};

const TOKEN: &str = "7001234567890128";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forecourt-terminal")).args(args).output().unwrap()
}

fn good_payload() -> String {
    qr::encode(&CpmPayload {
        aid: vec![0xA0, 0x00, 0x00, 0x09, 0x99, 0x10, 0x10],
        label: Some("FORECOURT FLEET".to_owned()),
        token: TokenData::Pan(TOKEN.to_owned()),
        chip: ChipData {
            cryptogram: [0xC0, 0xFF, 0xEE, 0x01, 0x02, 0x03, 0x04, 0x05],
            atc: 7,
            iad: vec![0x01; 18],
            unpredictable_number: [0x01, 0x02, 0x03, 0x04],
        },
        unknown: vec![],
    })
}

#[test]
fn inspect_qr_prints_masked_fields_and_exits_zero() {
    let out = run(&["inspect-qr", &good_payload()]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("…0128 (16 digits, tag 5A)"), "{stdout}");
    assert!(stdout.contains("ATC                   7"), "{stdout}");
    assert!(stdout.contains("IAD length            18 bytes"), "{stdout}");
    assert!(stdout.contains("Cryptogram            C0FF…"), "{stdout}");
    assert!(!stdout.contains(TOKEN) && !stdout.contains("C0FFEE01"), "{stdout}");
}

#[test]
fn inspect_qr_on_a_malformed_payload_exits_two_naming_the_problem() {
    let out = run(&["inspect-qr", "hQVDUFYw"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("forecourt-terminal: malformed QR payload: "), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_payload_is_a_usage_error() {
    let out = run(&["inspect-qr"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A terminal file in its own directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn to_str(&self) -> Option<&str> {
        self.0.to_str()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn temp_file(name: &str, contents: &str, mode: u32) -> TempFile {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("tsim-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("terminal.json");
    std::fs::write(&path, contents).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    TempFile(path)
}

const IDENTITY: &str = r#"{"server": "http://127.0.0.1:9", "terminal_id": "01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0e",
  "secret_hex": "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"}"#;

#[test]
fn qr_refuses_a_terminal_file_others_can_read() {
    let path = temp_file("mode", IDENTITY, 0o644);
    let out = run(&["qr", "--terminal", path.to_str().unwrap(), &good_payload()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("readable by others"), "{stderr}");
    assert!(!stderr.contains("c0c1c2"), "the secret is never printed: {stderr}");
}

#[test]
fn qr_checks_the_payload_before_anything_else() {
    let path = temp_file("payload", IDENTITY, 0o600);
    let out = run(&["qr", "--terminal", path.to_str().unwrap(), "hQVDUFYw"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("malformed QR payload"));
}

#[test]
fn an_unreachable_server_is_an_error_not_a_decline() {
    let path = temp_file("server", IDENTITY, 0o600);
    let out = run(&["qr", "--terminal", path.to_str().unwrap(), &good_payload()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_two() {
    let path = temp_file("usage", IDENTITY, 0o600);
    let file = path.to_str().unwrap();
    for args in [
        &["load", "--terminal", file][..],
        &["load", "--terminal", file, "--seconds", "1", "--fills", "2"],
        &["qr", "--terminal", file, "x", "--amount", "1", "--volume-ml", "2"],
        &["qr", "--terminal", file, "x", "--dispense", "1001"],
    ] {
        assert_eq!(run(args).status.code(), Some(2), "{args:?}");
    }
}
