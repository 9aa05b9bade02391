//! Replays the committed `hce_apdu` fuzz corpus (`fuzz/corpus/hce_apdu/`) through the fuzz
//! target's own check (`mobile_sdk::fuzzing::check_hce`).
//!
//! `FORECOURT_WRITE_SEEDS=1 cargo test -p mobile-sdk --test fuzz_corpus` rewrites the seeds.

use std::fs;
use std::path::PathBuf;

use emv::apdu::Command;
use emv::cryptogram::TerminalData;
use mobile_sdk::fuzzing::{check_hce, ready_wallet, split_apdus};
use mobile_sdk::wallet::FORECOURT_AID;
use mobile_sdk::HceSession;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/hce_apdu")
}

/// APDUs framed the way the target reads them: a length byte before each.
fn framed(commands: &[Vec<u8>]) -> Vec<u8> {
    commands.iter().flat_map(|c| [&[c.len() as u8][..], c].concat()).collect()
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let bytes = |c: Command| c.to_bytes().expect("short APDU");
    let terminal = TerminalData {
        amount_minor: 5_000,
        currency_numeric: 978,
        country_numeric: 276,
        date: (26, 11, 23),
        unpredictable_number: [1, 2, 3, 4],
    };
    let pdol = emv::gpo::pdol_data(&terminal).expect("PDOL data");
    let ppse = bytes(Command::select_ppse());
    let aid = bytes(Command::select(FORECOURT_AID));
    let gpo = bytes(Command::get_processing_options(&pdol));
    let short_gpo = bytes(Command::get_processing_options(&pdol[..16]));
    vec![
        ("tap.bin", framed(&[ppse.clone(), aid.clone(), gpo.clone()])),
        ("two-taps.bin", framed(&[aid.clone(), gpo.clone(), aid.clone(), gpo.clone()])),
        ("second-gpo.bin", framed(&[aid.clone(), gpo.clone(), gpo.clone()])),
        ("gpo-first.bin", framed(&[gpo])),
        ("short-pdol.bin", framed(&[aid, short_gpo])),
        ("garbage.bin", vec![0x03, 0x00, 0xA4, 0x04, 0x02, 0xFF]),
    ]
}

#[test]
fn seed_corpus_is_committed() {
    let write = std::env::var_os("FORECOURT_WRITE_SEEDS").is_some();
    for (name, bytes) in seeds() {
        let path = corpus_dir().join(name);
        if write {
            fs::create_dir_all(corpus_dir()).expect("create corpus dir");
            fs::write(&path, &bytes).expect("write seed");
        }
        let committed = fs::read(&path).ok();
        assert_eq!(committed.as_deref(), Some(bytes.as_slice()), "seed {} stale", path.display());
    }
}

/// Every corpus file passes the check, and the corpus keeps at least one tap that ends
/// in a cryptogram (so the check's GPO assertions stay exercised).
#[test]
fn hce_apdu_corpus() {
    let mut paid = 0;
    for entry in fs::read_dir(corpus_dir()).expect("corpus dir") {
        let bytes = fs::read(entry.expect("entry").path()).expect("corpus file");
        check_hce(&bytes);
        let mut wallet = ready_wallet().expect("wallet");
        let mut session = HceSession::new(&mut wallet, false);
        let answers: Vec<Vec<u8>> =
            split_apdus(&bytes).iter().map(|a| session.process(a)).collect();
        paid += usize::from(answers.iter().any(|a| a.len() > 2 && a[0] == 0x77));
    }
    assert!(paid > 0, "no corpus input reaches a cryptogram");
}
