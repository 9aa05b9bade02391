//! What a terminal read from the phone, in one shape for both entry modes: the token,
//! its ATC and cryptogram, and (NFC only) the terminal data the phone signed.

use std::fmt;

use crate::cryptogram::{EntryMode, TerminalData, CRYPTOGRAM_LEN};
use crate::gpo::{self, ProcessingOptions};
use crate::qr;

#[derive(Clone, PartialEq, Eq)]
pub struct PaymentData {
    pub entry_mode: EntryMode,
    pub token_pan: String,
    pub atc: u16,
    pub iad: Vec<u8>,
    pub cryptogram: [u8; CRYPTOGRAM_LEN],
    pub card_unpredictable_number: [u8; 4],
    /// The terminal's data the phone signed (NFC); `None` for QR.
    pub terminal: Option<TerminalData>,
}

/// Only what is safe in a log: no token number, no cryptogram.
impl fmt::Debug for PaymentData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentData")
            .field("entry_mode", &self.entry_mode)
            .field("atc", &self.atc)
            .finish_non_exhaustive()
    }
}

impl PaymentData {
    /// From a scanned QR payload; `None` when it does not decode.
    pub fn from_qr(payload: &str) -> Option<PaymentData> {
        let qr = qr::decode(payload).ok()?;
        Some(PaymentData {
            entry_mode: EntryMode::Qr,
            token_pan: qr.token.pan(),
            atc: qr.chip.atc,
            iad: qr.chip.iad.clone(),
            cryptogram: qr.chip.cryptogram,
            card_unpredictable_number: qr.chip.unpredictable_number,
            terminal: None,
        })
    }

    /// From the phone's GPO answer and the PDOL data the terminal sent it.
    pub fn from_nfc(gpo_response: &[u8], pdol_data: &[u8]) -> Option<PaymentData> {
        let mut answer = ProcessingOptions::parse(gpo_response).ok()?;
        let terminal = gpo::parse_pdol_data(pdol_data).ok()?;
        Some(PaymentData {
            entry_mode: EntryMode::Nfc,
            token_pan: std::mem::take(&mut answer.token_pan),
            atc: answer.atc,
            iad: std::mem::take(&mut answer.iad),
            cryptogram: answer.cryptogram,
            card_unpredictable_number: answer.card_unpredictable_number,
            terminal: Some(terminal),
        })
    }
}
