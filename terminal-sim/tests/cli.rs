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
