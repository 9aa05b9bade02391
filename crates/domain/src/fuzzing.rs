//! The check the `terminal_request` fuzz target runs on every input, here so the normal
//! test suite replays the committed corpus with the same logic
//! (`crates/domain/tests/fuzz_corpus.rs`).

use emv::gpo::{self, ProcessingOptions};
use emv::payment::PaymentData;

use crate::terminal_request::{AuthorizeRequest, EntryModeName};

/// A terminal's authorization body, as the authorizer reads it: never a panic, and NFC
/// payment data that reads back the same after the phone's encoders wrote it again.
pub fn check_terminal_request(data: &[u8]) {
    let Ok(request) = serde_json::from_slice::<AuthorizeRequest>(data) else { return };
    let valid = request.validate().is_ok();
    let Some(payment) = request.payment_data() else { return };
    if valid {
        let mode = match request.entry_mode {
            EntryModeName::Qr => emv::cryptogram::EntryMode::Qr,
            EntryModeName::Nfc => emv::cryptogram::EntryMode::Nfc,
        };
        assert_eq!(payment.entry_mode, mode, "payment data of another entry mode");
    }
    if let Some(terminal) = payment.terminal {
        let answer = ProcessingOptions {
            token_pan: payment.token_pan.clone(),
            atc: payment.atc,
            cryptogram: payment.cryptogram,
            iad: payment.iad.clone(),
            card_unpredictable_number: payment.card_unpredictable_number,
        };
        let gpo = answer.encode().expect("parsed GPO answers encode");
        let pdol = gpo::pdol_data(&terminal).expect("parsed PDOL data encodes");
        assert_eq!(PaymentData::from_nfc(&gpo, &pdol), Some(payment), "NFC round trip");
    }
}
