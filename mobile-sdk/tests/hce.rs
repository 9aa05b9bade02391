//! The NFC card: a terminal's SELECT PPSE → SELECT AID → GET PROCESSING OPTIONS yields a
//! cryptogram over the NFC input built from the terminal's PDOL data; every malformed or
//! out-of-order command gets its status word.

mod common;

use common::*;
use emv::apdu::{Command, Response, StatusWord};
use emv::cryptogram::{self, CryptogramInput, EntryMode, Iad, TerminalData};
use emv::tlv::{self, Tag, Tlv};
use mobile_sdk::wallet::FORECOURT_AID;
use mobile_sdk::{ClockError, HceSession, MemoryStore, Wallet, WalletError};

fn tag(raw: u32) -> Tag {
    Tag::new(raw).unwrap()
}

/// Sends `command` and parses the answer.
fn send<S: mobile_sdk::SecureStore>(
    session: &mut HceSession<'_, S, mobile_sdk::ManualClock>,
    command: &Command,
) -> Response {
    Response::parse(&session.process(&command.to_bytes().unwrap())).unwrap()
}

/// The object at `path` (each step a child of the previous) in `bytes`.
fn dig(bytes: &[u8], path: &[u32]) -> Tlv {
    let top = tlv::decode_all(bytes).unwrap();
    let mut current = tlv::find(&top, tag(path[0])).unwrap().clone();
    for raw in &path[1..] {
        current = current.find(tag(*raw)).unwrap_or_else(|| panic!("no {raw:X}")).clone();
    }
    current
}

fn primitive(bytes: &[u8], path: &[u32]) -> Vec<u8> {
    dig(bytes, path).as_primitive().unwrap().to_vec()
}

const TERMINAL: TerminalData = TerminalData {
    amount_minor: 12_345,
    currency_numeric: 978,
    country_numeric: 276,
    date: (26, 11, 23),
    unpredictable_number: [0x1A, 0x2B, 0x3C, 0x4D],
};

/// The PDOL values a terminal sends, in the PDOL's order, read from the PDOL itself.
fn pdol_data(pdol: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = pdol;
    while !rest.is_empty() {
        let tag_len = if rest[0] & 0x1F == 0x1F { 2 } else { 1 };
        let (tag, len) = (&rest[..tag_len], usize::from(rest[tag_len]));
        let value: Vec<u8> = match tag {
            [0x9F, 0x02] => vec![0x00, 0x00, 0x00, 0x01, 0x23, 0x45],
            [0x5F, 0x2A] => vec![0x09, 0x78],
            [0x9F, 0x1A] => vec![0x02, 0x76],
            [0x9A] => vec![0x26, 0x11, 0x23],
            [0x9F, 0x37] => TERMINAL.unpredictable_number.to_vec(),
            other => panic!("unexpected PDOL tag {other:02X?}"),
        };
        assert_eq!(value.len(), len);
        out.extend(value);
        rest = &rest[tag_len + 1..];
    }
    out
}

#[test]
fn a_full_tap_gives_a_cryptogram_over_the_terminals_data() {
    let issuer = Issuer::new();
    let mut wallet = ready_in_memory(&issuer);
    wallet.clock().advance(30_000);
    let now = true_now(wallet.clock());
    let mut session = HceSession::new(&mut wallet, true);

    let ppse = send(&mut session, &Command::select_ppse());
    assert_eq!(ppse.sw, StatusWord::OK);
    assert_eq!(primitive(&ppse.data, &[0x6F, 0x84]), b"2PAY.SYS.DDF01");
    let aid = primitive(&ppse.data, &[0x6F, 0xA5, 0xBF0C, 0x61, 0x4F]);
    assert_eq!(aid, FORECOURT_AID);

    let fci = send(&mut session, &Command::select(&aid));
    assert_eq!(fci.sw, StatusWord::OK);
    assert_eq!(primitive(&fci.data, &[0x6F, 0x84]), FORECOURT_AID);
    let pdol = primitive(&fci.data, &[0x6F, 0xA5, 0x9F38]);

    let gpo = send(&mut session, &Command::get_processing_options(&pdol_data(&pdol)));
    assert_eq!(gpo.sw, StatusWord::OK, "{:?}", session.last_error());
    assert_eq!(session.last_window().unwrap().validity_ms, 60_000);
    let field = |t: u32| primitive(&gpo.data, &[0x77, t]);
    assert_eq!(field(0x5A), [0x70, 0x01, 0x99, 0x00, 0x00, 0x00, 0x12, 0x34]);
    let iad = Iad::parse(&field(0x9F10)).unwrap();
    assert_eq!((iad.generated_at_ms, iad.cdcvm), (now, true));
    let atc = u16::from_be_bytes(field(0x9F36).try_into().unwrap());
    assert_eq!(atc, 1);

    let input = CryptogramInput {
        entry_mode: EntryMode::Nfc,
        token_pan: TOKEN_PAN.into(),
        key_index: iad.key_index,
        atc,
        generated_at_ms: iad.generated_at_ms,
        sync_age_s: iad.sync_age_s,
        cdcvm: iad.cdcvm,
        terminal: Some(TERMINAL),
        card_unpredictable_number: field(0x9F37).try_into().unwrap(),
    }
    .to_bytes()
    .unwrap();
    let mac: [u8; 8] = field(0x9F26).try_into().unwrap();
    assert!(cryptogram::verify(&luk_for(iad.key_index), &input, &mac));
    // The terminal's amount is covered: another amount does not verify.
    let mut other = input;
    other[cryptogram::offsets::AMOUNT.end - 1] ^= 0x01;
    assert!(!cryptogram::verify(&luk_for(iad.key_index), &other, &mac));

    // One cryptogram per selection.
    let again = send(&mut session, &Command::get_processing_options(&pdol_data(&pdol)));
    assert_eq!(again.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
}

fn status_after(setup: &[Command], raw: &[u8]) -> StatusWord {
    let issuer = Issuer::new();
    let mut wallet = ready_in_memory(&issuer);
    let mut session = HceSession::new(&mut wallet, false);
    for command in setup {
        assert_eq!(send(&mut session, command).sw, StatusWord::OK);
    }
    Response::parse(&session.process(raw)).unwrap().sw
}

fn bytes(command: &Command) -> Vec<u8> {
    command.to_bytes().unwrap()
}

#[test]
fn each_wrong_apdu_gets_its_status_word() {
    let select_aid = Command::select(FORECOURT_AID);
    let good_data = pdol_data(&[
        0x9F, 0x02, 0x06, 0x5F, 0x2A, 0x02, 0x9F, 0x1A, 0x02, 0x9A, 0x03, 0x9F, 0x37, 0x04,
    ]);
    let mut bad_p1p2_select = Command::select_ppse();
    bad_p1p2_select.p2 = 0x02;
    let mut bad_p1p2_gpo = Command::get_processing_options(&good_data);
    bad_p1p2_gpo.p1 = 0x01;
    let mut gpo_iso_class = Command::get_processing_options(&good_data);
    gpo_iso_class.cla = 0x00;
    let read_record =
        Command { cla: 0x00, ins: 0xB2, p1: 1, p2: 0x0C, data: vec![], le: Some(256) };
    let mut select_class_84 = Command::select_ppse();
    select_class_84.cla = 0x84;
    let not_83 = Command { data: vec![0x84, 0x01, 0x00], ..Command::get_processing_options(&[]) };
    let mut bad_bcd = good_data.clone();
    bad_bcd[0] = 0x0A;

    let gpo = |data: &[u8]| bytes(&Command::get_processing_options(data));
    let too_long = [good_data.as_slice(), &[0]].concat();
    let (none, aid, ppse) = (vec![], vec![select_aid], vec![Command::select_ppse()]);
    let cases: Vec<(&str, &Vec<Command>, Vec<u8>, u16)> = vec![
        ("unknown INS", &none, bytes(&read_record), 0x6D00),
        ("unknown CLA", &none, bytes(&select_class_84), 0x6E00),
        ("GPO with the ISO class", &aid, bytes(&gpo_iso_class), 0x6E00),
        ("unknown AID", &none, bytes(&Command::select(&[0xA0, 0, 0, 0, 4, 0x10, 0x10])), 0x6A82),
        ("GPO before any SELECT", &none, gpo(&good_data), 0x6985),
        ("GPO after SELECT PPSE only", &ppse, gpo(&good_data), 0x6985),
        ("PDOL data too short", &aid, gpo(&good_data[..16]), 0x6700),
        ("PDOL data too long", &aid, gpo(&too_long), 0x6700),
        ("GPO data not in 83", &aid, bytes(&not_83), 0x6A80),
        ("PDOL value not BCD", &aid, gpo(&bad_bcd), 0x6A80),
        ("SELECT with P2 = next", &none, bytes(&bad_p1p2_select), 0x6A86),
        ("GPO with P1 != 0", &aid, bytes(&bad_p1p2_gpo), 0x6A86),
        ("not an APDU", &none, vec![0x00, 0xA4], 0x6700),
        ("Lc beyond the data", &none, vec![0x00, 0xA4, 0x04, 0x00, 0x0E, 0x32], 0x6700),
    ];
    for (name, setup, raw, sw) in cases {
        assert_eq!(status_after(setup, &raw), StatusWord(sw), "{name}");
    }
}

#[test]
fn a_failed_select_forgets_the_application() {
    let setup = [Command::select(FORECOURT_AID)];
    let issuer = Issuer::new();
    let mut wallet = ready_in_memory(&issuer);
    let mut session = HceSession::new(&mut wallet, false);
    assert_eq!(send(&mut session, &setup[0]).sw, StatusWord::OK);
    assert_eq!(
        send(&mut session, &Command::select(&[0xA0, 0, 0, 0, 1])).sw,
        StatusWord::FILE_NOT_FOUND
    );
    let gpo = Command::get_processing_options(&[0u8; 17]);
    assert_eq!(send(&mut session, &gpo).sw, StatusWord::CONDITIONS_NOT_SATISFIED);
}

#[test]
fn an_unsynced_phone_refuses_the_gpo_and_says_why() {
    let mut wallet = Wallet::new(MemoryStore::new(), phone_clock());
    let public = wallet.public_key_sec1().unwrap();
    wallet.accept_provisioning(&provisioning_answer(&public, &luks(1, 1, 4, EXPIRES_S))).unwrap();
    let mut session = HceSession::new(&mut wallet, true);
    assert_eq!(send(&mut session, &Command::select(FORECOURT_AID)).sw, StatusWord::OK);
    let data = pdol_data(mobile_sdk::hce::PDOL);
    let gpo = send(&mut session, &Command::get_processing_options(&data));
    assert_eq!(gpo.sw, StatusWord::CONDITIONS_NOT_SATISFIED);
    assert_eq!(session.last_error(), Some(&WalletError::Clock(ClockError::NotSynced)));
    drop(session);
    assert_eq!(wallet.tokens().unwrap()[0].atc, 0, "no ATC spent");
}
