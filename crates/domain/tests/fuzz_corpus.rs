//! Replays the committed `terminal_request` fuzz corpus (`fuzz/corpus/terminal_request/`)
//! through the fuzz target's own check, so a crash found once stays fixed.
//!
//! `FORECOURT_WRITE_SEEDS=1 cargo test -p domain --test fuzz_corpus` rewrites the seeds.

use std::fs;
use std::path::PathBuf;

use domain::fuzzing::check_terminal_request;
use domain::terminal_request::AuthorizeRequest;
use serde_json::json;

const TARGET: &str = "terminal_request";

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(TARGET)
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let chip = emv::qr::ChipData {
        cryptogram: [0x0C, 0x1A, 0x5E, 0x77, 0x90, 0x02, 0xB4, 0x3D],
        atc: 7,
        iad: vec![0x06, 0x01, 0x0A, 0x03, 0x00, 0x00, 0x00],
        unpredictable_number: [0x12, 0x34, 0x56, 0x78],
    };
    let qr = emv::qr::encode(&emv::qr::CpmPayload {
        aid: vec![0xA0, 0x00, 0x00, 0x09, 0x99, 0x10, 0x10],
        label: Some("FORECOURT".to_owned()),
        token: emv::qr::TokenData::Pan("7001990000001234".to_owned()),
        chip: chip.clone(),
        unknown: vec![],
    });
    let gpo = emv::gpo::ProcessingOptions {
        token_pan: "7001990000001234".to_owned(),
        atc: chip.atc,
        cryptogram: chip.cryptogram,
        iad: chip.iad.clone(),
        card_unpredictable_number: chip.unpredictable_number,
    };
    let gpo = hex::encode(gpo.encode().expect("sample GPO answer"));
    let base = |mode: &str| {
        json!({"stan": "000123", "transmitted_at": "2026-11-23T10:00:00Z", "entry_mode": mode,
            "pump": 3, "products": ["diesel"], "amount": 5000, "unit_price": 1_899_000,
            "partial_supported": true})
    };
    let mut by_qr = base("qr");
    by_qr["qr"] = json!(qr);
    let mut by_nfc = base("nfc");
    by_nfc["nfc"] = json!({"gpo_response": gpo, "pdol_data": "000000012345097802762611231a2b3c4d"});
    let mut both_amounts = by_qr.clone();
    both_amounts["volume_ml"] = json!(40_000);
    let bytes = |v: &serde_json::Value| serde_json::to_vec(v).expect("seed json");
    vec![
        ("valid-qr.json", bytes(&by_qr)),
        ("valid-nfc.json", bytes(&by_nfc)),
        ("invalid-both-amounts.json", bytes(&both_amounts)),
        ("invalid-unknown-field.json", br#"{"stan":"1","extra":true}"#.to_vec()),
        ("invalid-not-json.json", b"{\"stan\":".to_vec()),
    ]
}

#[test]
fn seed_corpus_is_committed() {
    let write = std::env::var_os("FORECOURT_WRITE_SEEDS").is_some();
    let dir = corpus_dir();
    for (name, bytes) in seeds() {
        let path = dir.join(name);
        if write {
            fs::create_dir_all(&dir).expect("create corpus dir");
            fs::write(&path, &bytes).expect("write seed");
        }
        let committed = fs::read(&path).ok();
        assert_eq!(committed.as_deref(), Some(bytes.as_slice()), "seed {} stale", path.display());
    }
}

/// Every corpus file passes the check, and the corpus keeps requests that parse with
/// payment data of each entry mode as well as bodies that do not parse.
#[test]
fn terminal_request_corpus() {
    let mut files: Vec<_> = fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| fs::read(e.expect("entry").path()).expect("corpus file"))
        .collect();
    files.sort();
    let (mut qr, mut nfc, mut refused) = (0, 0, 0);
    for bytes in &files {
        check_terminal_request(bytes);
        match serde_json::from_slice::<AuthorizeRequest>(bytes).ok().and_then(|r| r.payment_data())
        {
            Some(p) if p.terminal.is_some() => nfc += 1,
            Some(_) => qr += 1,
            None => refused += 1,
        }
    }
    assert!(qr > 0 && nfc > 0 && refused > 0, "qr {qr}, nfc {nfc}, refused {refused}");
}
