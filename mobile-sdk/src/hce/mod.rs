//! Host card emulation: the phone answering a terminal's APDUs over NFC.
//!
//! One tap is three exchanges, no READ RECORD (DESIGN §3):
//!
//! ```text
//! 00 A4 04 00 0E "2PAY.SYS.DDF01" 00   → 6F FCI listing our AID          9000
//! 00 A4 04 00 07 A0000009990101 00     → 6F FCI with the PDOL            9000
//! 80 A8 00 00 13 83 11 <17 bytes> 00   → 77 {5A 9F36 9F26 9F10 9F37}     9000
//! ```
//!
//! The PDOL asks for amount `9F02` (n12), currency `5F2A` (n3), country `9F1A` (n3), date
//! `9A` (YYMMDD) and the terminal's unpredictable number `9F37`, in that order; they go
//! into the NFC cryptogram input. Everything else gets the status word ISO 7816-4 names:
//!
//! | case | SW |
//! |---|---|
//! | class other than `00` (SELECT) / `80` (GPO) | `6E00` |
//! | instruction other than SELECT / GPO | `6D00` |
//! | SELECT with P1P2 other than `0400`, GPO with P1P2 other than `0000` | `6A86` |
//! | SELECT of an unknown name | `6A82` |
//! | GPO before our application is selected, or a second GPO | `6985` |
//! | GPO whose data is not one `83` object | `6A80` |
//! | GPO whose `83` is not exactly 17 bytes | `6700` |
//! | PDOL values out of range (not BCD, bad date) | `6A80` |
//! | the wallet refuses (clock, no key left) | `6985`, reason in [`HceSession::last_error`] |
//! | bytes that are not an APDU | `6700` |

mod fci;

pub use emv::gpo::{PDOL, PDOL_DATA_LEN};

use emv::apdu::PPSE_NAME;
use emv::apdu::{Command, Response, StatusWord, INS_GET_PROCESSING_OPTIONS, INS_SELECT};
use emv::cryptogram::TerminalData;
use emv::gpo::{self, GpoError};
use emv::tags;
use emv::tlv;

use crate::clock::DeviceClock;
use crate::countdown::PaymentWindow;
use crate::store::SecureStore;
use crate::wallet::{Wallet, WalletError, FORECOURT_AID};

const CLA_ISO: u8 = 0x00;
const CLA_PROPRIETARY: u8 = 0x80;

/// Where the tap is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    PpseSelected,
    ApplicationSelected,
    /// One cryptogram per selection: a terminal wanting another selects again.
    Done,
}

/// One NFC tap, from the first SELECT to the end of the field. Borrows the wallet, which
/// makes the cryptogram (and spends its ATC) at GET PROCESSING OPTIONS.
#[derive(Debug)]
pub struct HceSession<'w, S: SecureStore, C: DeviceClock> {
    wallet: &'w mut Wallet<S, C>,
    cdcvm: bool,
    state: State,
    last_error: Option<WalletError>,
    last_window: Option<PaymentWindow>,
}

impl<'w, S: SecureStore, C: DeviceClock> HceSession<'w, S, C> {
    /// `cdcvm`: the app verified the driver (biometrics or passcode) for this tap.
    pub fn new(wallet: &'w mut Wallet<S, C>, cdcvm: bool) -> Self {
        HceSession { wallet, cdcvm, state: State::Idle, last_error: None, last_window: None }
    }

    /// Answers one command APDU (raw bytes) with a response APDU (data ‖ SW1 SW2).
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let response = match Command::parse(apdu) {
            Ok(command) => self.respond(&command),
            Err(_) => Response::status(StatusWord::WRONG_LENGTH),
        };
        response.to_bytes()
    }

    /// Answers one parsed command.
    pub fn respond(&mut self, command: &Command) -> Response {
        match (command.cla, command.ins) {
            (CLA_ISO, INS_SELECT) => self.select(command),
            (CLA_PROPRIETARY, INS_GET_PROCESSING_OPTIONS) => self.get_processing_options(command),
            (CLA_ISO | CLA_PROPRIETARY, INS_SELECT | INS_GET_PROCESSING_OPTIONS) => {
                Response::status(StatusWord::CLA_NOT_SUPPORTED)
            }
            (CLA_ISO | CLA_PROPRIETARY, _) => Response::status(StatusWord::INS_NOT_SUPPORTED),
            _ => Response::status(StatusWord::CLA_NOT_SUPPORTED),
        }
    }

    /// Why the wallet refused the last GET PROCESSING OPTIONS, for the app to show.
    pub fn last_error(&self) -> Option<&WalletError> {
        self.last_error.as_ref()
    }

    /// Validity of the payment data given at GET PROCESSING OPTIONS (60 s).
    pub fn last_window(&self) -> Option<PaymentWindow> {
        self.last_window
    }

    fn select(&mut self, command: &Command) -> Response {
        if (command.p1, command.p2) != (0x04, 0x00) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        // A failed SELECT deselects: a GPO after it must not reach the previous selection.
        self.state = State::Idle;
        if command.data == PPSE_NAME {
            self.state = State::PpseSelected;
            Response::ok(fci::ppse())
        } else if command.data == FORECOURT_AID {
            self.state = State::ApplicationSelected;
            Response::ok(fci::application())
        } else {
            Response::status(StatusWord::FILE_NOT_FOUND)
        }
    }

    fn get_processing_options(&mut self, command: &Command) -> Response {
        if (command.p1, command.p2) != (0x00, 0x00) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        if self.state != State::ApplicationSelected {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        let terminal = match pdol_data(&command.data).and_then(terminal_data) {
            Ok(terminal) => terminal,
            Err(sw) => return Response::status(sw),
        };
        self.state = State::Done;
        match self.wallet.generate(Some(terminal), self.cdcvm) {
            Ok(payment) => {
                self.last_error = None;
                self.last_window = Some(payment.window);
                // The wallet only stores tokens the format carries; a failure here would
                // be a corrupt store, which the terminal sees as a refusal.
                match fci::processing_options(&payment) {
                    Some(answer) => Response::ok(answer),
                    None => Response::status(StatusWord::CONDITIONS_NOT_SATISFIED),
                }
            }
            Err(e) => {
                self.last_error = Some(e);
                Response::status(StatusWord::CONDITIONS_NOT_SATISFIED)
            }
        }
    }
}

/// The value of the one `83` object that must make up the GPO data, 17 bytes long.
fn pdol_data(data: &[u8]) -> Result<[u8; PDOL_DATA_LEN], StatusWord> {
    let objects = tlv::decode_all(data).map_err(|_| StatusWord::WRONG_DATA)?;
    let [object] = objects.as_slice() else { return Err(StatusWord::WRONG_DATA) };
    let value = match (object.tag, object.as_primitive()) {
        (tag, Some(value)) if tag == tags::COMMAND_TEMPLATE => value,
        _ => return Err(StatusWord::WRONG_DATA),
    };
    value.try_into().map_err(|_| StatusWord::WRONG_LENGTH)
}

/// Reads the PDOL values (BCD digits only, a real date, codes of at most three digits).
fn terminal_data(data: [u8; PDOL_DATA_LEN]) -> Result<TerminalData, StatusWord> {
    gpo::parse_pdol_data(&data).map_err(|e| match e {
        GpoError::PdolLength => StatusWord::WRONG_LENGTH,
        _ => StatusWord::WRONG_DATA,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_data_from_the_pdol_order() {
        let data = [
            0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x09, 0x78, 0x02, 0x76, 0x26, 0x11, 0x23, 0x1A,
            0x2B, 0x3C, 0x4D,
        ];
        let t = terminal_data(data).unwrap();
        assert_eq!((t.amount_minor, t.currency_numeric, t.country_numeric), (12_345, 978, 276));
        assert_eq!((t.date, t.unpredictable_number), ((26, 11, 23), [0x1A, 0x2B, 0x3C, 0x4D]));
        let mut bad_date = data;
        bad_date[11] = 0x13;
        assert_eq!(terminal_data(bad_date).unwrap_err(), StatusWord::WRONG_DATA);
        let mut big_currency = data;
        big_currency[6] = 0x10;
        assert_eq!(terminal_data(big_currency).unwrap_err(), StatusWord::WRONG_DATA);
    }
}
