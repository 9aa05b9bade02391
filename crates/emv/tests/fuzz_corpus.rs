//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same checks the
//! fuzz targets run, so every seed and every crash input added there is a regression test
//! on stable Rust.
//!
//! `FORECOURT_WRITE_SEEDS=1 cargo test -p emv --test fuzz_corpus` rewrites the seeds from
//! the examples below; without it, the test checks the committed seeds match them.

use std::fs;
use std::path::PathBuf;

use emv::apdu::{Command, Response, StatusWord};
use emv::fuzzing::{
    check_apdu, check_gpo, check_iad, check_luk_batch, check_qr, check_terminal_headers, check_tlv,
};
use emv::qr::{self, ChipData, CpmPayload, TokenData};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

/// Every file of the target's corpus; fails when there is none, so a moved or emptied
/// corpus cannot turn this test into a silent pass.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files
}

/// Runs `check` on every input and requires the corpus to hold both accepted and refused
/// inputs, so it keeps exercising the round trip and the error paths.
fn replay(target: &str, check: fn(&[u8]), accepts: fn(&[u8]) -> bool) {
    let files = corpus(target);
    for (name, bytes) in &files {
        let outcome = std::panic::catch_unwind(|| check(bytes));
        assert!(outcome.is_ok(), "{target}: check failed on {name}");
    }
    let accepted = files.iter().filter(|(_, bytes)| accepts(bytes)).count();
    assert!(accepted > 0, "{target}: no seed is accepted by the parser");
    assert!(accepted < files.len(), "{target}: no seed is refused by the parser");
}

#[test]
fn tlv_decode_corpus() {
    replay("tlv_decode", check_tlv, |b| emv::tlv::decode_all(b).is_ok());
}

#[test]
fn qr_decode_corpus() {
    replay("qr_decode", check_qr, |b| std::str::from_utf8(b).is_ok_and(|s| qr::decode(s).is_ok()));
}

#[test]
fn apdu_parse_corpus() {
    replay("apdu_parse", check_apdu, |b| Command::parse(b).is_ok() || Response::parse(b).is_ok());
}

#[test]
fn gpo_parse_corpus() {
    replay("gpo_parse", check_gpo, |b| {
        emv::gpo::parse_pdol_data(b).is_ok() || emv::gpo::ProcessingOptions::parse(b).is_ok()
    });
}

fn gpo_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let terminal = emv::cryptogram::TerminalData {
        amount_minor: 12_345,
        currency_numeric: 978,
        country_numeric: 276,
        date: (26, 11, 23),
        unpredictable_number: [0x1A, 0x2B, 0x3C, 0x4D],
    };
    let pdol = emv::gpo::pdol_data(&terminal).expect("sample PDOL data").to_vec();
    let answer = emv::gpo::ProcessingOptions {
        token_pan: "7001990000001234".to_owned(),
        atc: 7,
        cryptogram: [0x0C, 0x1A, 0x5E, 0x77, 0x90, 0x02, 0xB4, 0x3D],
        iad: vec![0x06, 0x01, 0x0A, 0x03, 0x00, 0x00, 0x00],
        card_unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    };
    let answer = answer.encode().expect("sample answer");
    let mut bad_date = pdol.clone();
    bad_date[11] = 0x13;
    vec![
        ("valid-pdol-data.bin", pdol),
        ("valid-gpo-answer.bin", answer.clone()),
        ("invalid-pdol-date.bin", bad_date),
        ("invalid-gpo-truncated.bin", answer[..answer.len() - 3].to_vec()),
        ("invalid-gpo-template.bin", [&[0x70], &answer[1..]].concat()),
    ]
}

fn sample_payload(token: TokenData) -> CpmPayload {
    CpmPayload {
        aid: vec![0xA0, 0x00, 0x00, 0x09, 0x99, 0x10, 0x10],
        label: Some("FORECOURT".to_owned()),
        token,
        chip: ChipData {
            cryptogram: [0x0C, 0x1A, 0x5E, 0x77, 0x90, 0x02, 0xB4, 0x3D],
            atc: 7,
            iad: vec![0x06, 0x01, 0x0A, 0x03, 0x00, 0x00, 0x00],
            unpredictable_number: [0x12, 0x34, 0x56, 0x78],
        },
        unknown: vec![],
    }
}

fn qr_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let pan = qr::encode(&sample_payload(TokenData::Pan("7001234567890128".to_owned())));
    let track2 = vec![0x70, 0x01, 0x23, 0x45, 0x67, 0x89, 0x01, 0x28, 0xD2, 0x91, 0x22, 0x01];
    let track2 = qr::encode(&sample_payload(TokenData::Track2(track2)));
    vec![
        ("valid-pan.txt", pan.clone().into_bytes()),
        ("valid-track2.txt", track2.into_bytes()),
        ("invalid-truncated.txt", pan.get(..pan.len() / 2).unwrap_or_default().as_bytes().to_vec()),
        ("invalid-not-base64.txt", b"hQVDUFYw!!".to_vec()),
        ("invalid-no-application.txt", b"hQVDUFYwMQ==".to_vec()),
        ("invalid-version.txt", b"hQVDUFYwMg==".to_vec()),
    ]
}

fn apdu_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let bytes = |c: Command| c.to_bytes().expect("seed commands fit the short form");
    vec![
        ("valid-select-ppse.bin", bytes(Command::select_ppse())),
        (
            "valid-select-aid.bin",
            bytes(Command::select(&[0xA0, 0x00, 0x00, 0x09, 0x99, 0x10, 0x10])),
        ),
        ("valid-gpo.bin", bytes(Command::get_processing_options(&[0x00, 0x00, 0x00, 0x01, 0x00]))),
        ("valid-case1.bin", vec![0x00, 0x70, 0x00, 0x00]),
        ("valid-response.bin", Response::ok(vec![0x6F, 0x00]).to_bytes()),
        ("valid-status.bin", Response::status(StatusWord::FILE_NOT_FOUND).to_bytes()),
        ("invalid-short.bin", vec![0x00]),
        ("invalid-lc-mismatch.bin", vec![0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00]),
        ("invalid-zero-lc.bin", vec![0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x07]),
    ]
}

fn tlv_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("valid-9f26.bin", vec![0x9F, 0x26, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]),
        ("valid-nested.bin", vec![0x61, 0x09, 0x4F, 0x05, 0xA0, 0, 0, 0, 3, 0x64, 0x00]),
        ("valid-long-form.bin", [&[0x5A, 0x81, 0x80][..], &[0x11; 0x80]].concat()),
        ("valid-3-byte-tag.bin", vec![0xDF, 0x81, 0x01, 0x01, 0x00]),
        ("invalid-indefinite.bin", vec![0x61, 0x80, 0x5A, 0x00, 0x00, 0x00]),
        ("invalid-non-minimal.bin", vec![0x5A, 0x81, 0x01, 0x00]),
        ("invalid-padding.bin", vec![0x5A, 0x00, 0x00]),
        ("invalid-duplicate.bin", vec![0x61, 0x04, 0x5A, 0x00, 0x5A, 0x00]),
        ("invalid-tag-too-long.bin", vec![0xDF, 0x81, 0x81, 0x01, 0x00]),
    ]
}

#[test]
fn iad_parse_corpus() {
    replay("iad_parse", check_iad, |b| emv::cryptogram::Iad::parse(b).is_ok());
}

#[test]
fn luk_batch_open_corpus() {
    let files = corpus("luk_batch_open");
    for (name, bytes) in &files {
        assert!(
            std::panic::catch_unwind(|| check_luk_batch(bytes)).is_ok(),
            "luk_batch_open: {name}"
        );
    }
}

#[test]
fn terminal_headers_corpus() {
    replay("terminal_headers", check_terminal_headers, |b| {
        std::str::from_utf8(b).is_ok_and(|s| {
            emv::terminal_auth::parse_signature(s).is_some()
                || emv::terminal_auth::parse_timestamp(s).is_some()
        })
    });
}

fn iad_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let iad = emv::cryptogram::Iad {
        key_index: emv::cryptogram::KeyIndex::new(1_795_392_000, 1),
        generated_at_ms: 1_795_392_000_123,
        sync_age_s: 60,
        cdcvm: true,
        imk_version: 1,
    };
    let good = iad.to_bytes().to_vec();
    let mut bad_version = good.clone();
    bad_version[0] = 2;
    vec![
        ("valid.bin", good.clone()),
        ("invalid-version.bin", bad_version),
        ("invalid-short.bin", good[..20].to_vec()),
    ]
}

fn luk_batch_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut forged = vec![0x04];
    forged.extend([1u8; 64]);
    forged.extend([0u8; 12]);
    forged.extend([9u8; 64]);
    vec![("forged.bin", forged), ("short.bin", vec![0x04; 10])]
}

fn terminal_header_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("signature.txt", "ab".repeat(32).into_bytes()),
        ("timestamp.txt", b"1795392123456".to_vec()),
        ("nonce.txt", b"AbCdEfGhIjKlMnOp".to_vec()),
        ("invalid-timestamp.txt", b"+123".to_vec()),
        ("invalid-signature.txt", "zz".repeat(32).into_bytes()),
    ]
}

#[test]
fn seed_corpus_is_committed() {
    let write = std::env::var_os("FORECOURT_WRITE_SEEDS").is_some();
    let targets = [
        ("tlv_decode", tlv_seeds()),
        ("qr_decode", qr_seeds()),
        ("apdu_parse", apdu_seeds()),
        ("iad_parse", iad_seeds()),
        ("luk_batch_open", luk_batch_seeds()),
        ("terminal_headers", terminal_header_seeds()),
        ("gpo_parse", gpo_seeds()),
    ];
    for (target, seeds) in targets {
        let dir = corpus_dir(target);
        for (name, bytes) in seeds {
            let path = dir.join(name);
            if write {
                fs::create_dir_all(&dir).expect("create corpus dir");
                fs::write(&path, bytes).expect("write seed");
            } else {
                let committed = fs::read(&path).ok();
                assert_eq!(
                    committed.as_deref(),
                    Some(bytes.as_slice()),
                    "seed {} is missing or stale; rerun with FORECOURT_WRITE_SEEDS=1",
                    path.display()
                );
            }
        }
    }
}
