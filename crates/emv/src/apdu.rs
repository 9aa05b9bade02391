//! ISO 7816-4 short APDUs, as a terminal and a phone (HCE) exchange them over NFC.
//!
//! Only the short form: a contactless payment never needs more than 255 bytes of command
//! data, and refusing extended lengths keeps the parser small. Parsing is canonical, so
//! `Command::parse(b)?.to_bytes()? == b`.

use std::fmt;

use crate::tags;
use crate::tlv::{self, Tlv, Value};

/// DF name of the Proximity Payment System Environment, the first SELECT of a tap.
pub const PPSE_NAME: &[u8] = b"2PAY.SYS.DDF01";
/// INS of SELECT.
pub const INS_SELECT: u8 = 0xA4;
/// INS of GET PROCESSING OPTIONS.
pub const INS_GET_PROCESSING_OPTIONS: u8 = 0xA8;
/// Most data a short command carries (Lc is one byte).
pub const MAX_COMMAND_DATA: usize = 255;
/// Most data a short response carries (Le = 00 asks for 256).
pub const MAX_RESPONSE_DATA: usize = 256;

/// Why bytes are not a short APDU, or a [`Command`] cannot be written as one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("command of {len} bytes is shorter than its 4-byte header")]
    TooShort { len: usize },
    #[error("Lc = 00 followed by data (extended-length APDUs are not supported)")]
    ZeroLc,
    #[error("Lc = {lc} but {body_len} bytes follow it")]
    LengthMismatch { lc: u8, body_len: usize },
    #[error("command data of {len} bytes does not fit a short APDU")]
    DataTooLong { len: usize },
    #[error("Le = {le} cannot be written in a short APDU (1..=256)")]
    InvalidLe { le: u16 },
    #[error("response of {len} bytes has no status word")]
    ResponseTooShort { len: usize },
    #[error("response data of {len} bytes exceeds {MAX_RESPONSE_DATA}")]
    ResponseTooLong { len: usize },
}

/// A command APDU. `le` is the expected response length, 1..=256, `None` when absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Option<u16>,
}

impl Command {
    /// SELECT by DF name: `00 A4 04 00 Lc aid 00`.
    pub fn select(aid: &[u8]) -> Command {
        Command {
            cla: 0x00,
            ins: INS_SELECT,
            p1: 0x04,
            p2: 0x00,
            data: aid.to_vec(),
            le: Some(256),
        }
    }

    /// SELECT of the PPSE.
    pub fn select_ppse() -> Command {
        Command::select(PPSE_NAME)
    }

    /// GET PROCESSING OPTIONS: `80 A8 00 00 Lc 83 len pdol_data 00`.
    pub fn get_processing_options(pdol_data: &[u8]) -> Command {
        let template =
            Tlv { tag: tags::COMMAND_TEMPLATE, value: Value::Primitive(pdol_data.to_vec()) };
        Command {
            cla: 0x80,
            ins: INS_GET_PROCESSING_OPTIONS,
            p1: 0x00,
            p2: 0x00,
            data: tlv::encode(&template),
            le: Some(256),
        }
    }

    /// Parses a short command of case 1 (header), 2 (+Le), 3 (+Lc data) or 4 (+Lc data Le).
    pub fn parse(bytes: &[u8]) -> Result<Command, ApduError> {
        let Some((&[cla, ins, p1, p2], body)) = bytes.split_first_chunk::<4>() else {
            return Err(ApduError::TooShort { len: bytes.len() });
        };
        let (data, le) = parse_body(body)?;
        Ok(Command { cla, ins, p1, p2, data, le })
    }

    /// Writes the short form; fails when the data or `le` do not fit it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApduError> {
        let mut out = vec![self.cla, self.ins, self.p1, self.p2];
        if !self.data.is_empty() {
            let lc = u8::try_from(self.data.len())
                .map_err(|_| ApduError::DataTooLong { len: self.data.len() })?;
            out.push(lc);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le_byte(le)?);
        }
        Ok(out)
    }
}

/// Splits what follows the header into data and Le.
fn parse_body(body: &[u8]) -> Result<(Vec<u8>, Option<u16>), ApduError> {
    let Some((&first, rest)) = body.split_first() else {
        return Ok((Vec::new(), None));
    };
    if rest.is_empty() {
        return Ok((Vec::new(), Some(le_value(first))));
    }
    if first == 0 {
        return Err(ApduError::ZeroLc);
    }
    let mismatch = ApduError::LengthMismatch { lc: first, body_len: rest.len() };
    let (data, tail) = rest.split_at_checked(usize::from(first)).ok_or(mismatch.clone())?;
    match tail {
        [] => Ok((data.to_vec(), None)),
        [le] => Ok((data.to_vec(), Some(le_value(*le)))),
        _ => Err(mismatch),
    }
}

/// Short Le: byte 00 stands for 256.
fn le_value(byte: u8) -> u16 {
    if byte == 0 {
        256
    } else {
        u16::from(byte)
    }
}

fn le_byte(le: u16) -> Result<u8, ApduError> {
    match le {
        256 => Ok(0),
        1..=255 => u8::try_from(le).map_err(|_| ApduError::InvalidLe { le }),
        _ => Err(ApduError::InvalidLe { le }),
    }
}

/// SW1-SW2 of a response.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const OK: StatusWord = StatusWord(0x9000);
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    pub const WRONG_DATA: StatusWord = StatusWord(0x6A80);
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A82);
    pub const INCORRECT_P1P2: StatusWord = StatusWord(0x6A86);
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);

    pub const fn sw1(self) -> u8 {
        let [sw1, _] = self.0.to_be_bytes();
        sw1
    }

    pub const fn sw2(self) -> u8 {
        let [_, sw2] = self.0.to_be_bytes();
        sw2
    }

    pub const fn is_ok(self) -> bool {
        self.0 == Self::OK.0
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusWord({self})")
    }
}

/// A response APDU: data then SW1 SW2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl Response {
    /// A response with data and 9000.
    pub fn ok(data: Vec<u8>) -> Response {
        Response { data, sw: StatusWord::OK }
    }

    /// A bare status word, as errors are answered.
    pub fn status(sw: StatusWord) -> Response {
        Response { data: Vec::new(), sw }
    }

    pub fn parse(bytes: &[u8]) -> Result<Response, ApduError> {
        let Some((data, &[sw1, sw2])) = bytes.split_last_chunk::<2>() else {
            return Err(ApduError::ResponseTooShort { len: bytes.len() });
        };
        if data.len() > MAX_RESPONSE_DATA {
            return Err(ApduError::ResponseTooLong { len: data.len() });
        }
        Ok(Response { data: data.to_vec(), sw: StatusWord(u16::from_be_bytes([sw1, sw2])) })
    }

    /// Writes data then the status word. Data beyond [`MAX_RESPONSE_DATA`] is written too
    /// (and then refused by [`Response::parse`]): a responder must not truncate silently.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 2);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(&self.sw.0.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(data: &[u8], le: Option<u16>) -> Command {
        Command { cla: 0x00, ins: 0xB2, p1: 0x01, p2: 0x0C, data: data.to_vec(), le }
    }

    #[test]
    fn every_case_parses_and_round_trips() {
        let cases: [(&[u8], Command); 6] = [
            (&[0x00, 0xB2, 0x01, 0x0C], cmd(&[], None)),
            (&[0x00, 0xB2, 0x01, 0x0C, 0x10], cmd(&[], Some(16))),
            (&[0x00, 0xB2, 0x01, 0x0C, 0x00], cmd(&[], Some(256))),
            (&[0x00, 0xB2, 0x01, 0x0C, 0x02, 0xAA, 0xBB], cmd(&[0xAA, 0xBB], None)),
            (&[0x00, 0xB2, 0x01, 0x0C, 0x01, 0xAA, 0x00], cmd(&[0xAA], Some(256))),
            (&[0x00, 0xB2, 0x01, 0x0C, 0x01, 0xAA, 0x05], cmd(&[0xAA], Some(5))),
        ];
        for (bytes, want) in cases {
            assert_eq!(Command::parse(bytes), Ok(want.clone()), "{bytes:02X?}");
            assert_eq!(want.to_bytes().as_deref(), Ok(bytes));
        }
    }

    #[test]
    fn maximum_short_data() {
        let command = cmd(&[0x5A; 255], Some(256));
        let bytes = command.to_bytes().unwrap();
        assert_eq!(bytes.len(), 4 + 1 + 255 + 1);
        assert_eq!(Command::parse(&bytes), Ok(command));
    }

    #[test]
    fn parse_errors() {
        use ApduError::*;
        let cases: [(&[u8], ApduError); 6] = [
            (&[], TooShort { len: 0 }),
            (&[0x00, 0xA4, 0x04], TooShort { len: 3 }),
            (&[0x00, 0xA4, 0x04, 0x00, 0x00, 0x01], ZeroLc),
            (&[0x00, 0xA4, 0x04, 0x00, 0x03, 0x01], LengthMismatch { lc: 3, body_len: 1 }),
            (
                &[0x00, 0xA4, 0x04, 0x00, 0x01, 0x01, 0x00, 0x00],
                LengthMismatch { lc: 1, body_len: 3 },
            ),
            (&[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x01], ZeroLc),
        ];
        for (bytes, want) in cases {
            assert_eq!(Command::parse(bytes), Err(want), "{bytes:02X?}");
        }
    }

    #[test]
    fn unwritable_commands() {
        assert_eq!(cmd(&[0; 256], None).to_bytes(), Err(ApduError::DataTooLong { len: 256 }));
        assert_eq!(cmd(&[], Some(0)).to_bytes(), Err(ApduError::InvalidLe { le: 0 }));
        assert_eq!(cmd(&[], Some(257)).to_bytes(), Err(ApduError::InvalidLe { le: 257 }));
    }

    #[test]
    fn select_ppse_bytes() {
        let mut want = vec![0x00, 0xA4, 0x04, 0x00, 0x0E];
        want.extend_from_slice(b"2PAY.SYS.DDF01");
        want.push(0x00);
        assert_eq!(Command::select_ppse().to_bytes(), Ok(want));
    }

    #[test]
    fn get_processing_options_bytes() {
        let command = Command::get_processing_options(&[0x11, 0x22, 0x33]);
        let want = [0x80, 0xA8, 0x00, 0x00, 0x05, 0x83, 0x03, 0x11, 0x22, 0x33, 0x00];
        assert_eq!(command.to_bytes().as_deref(), Ok(&want[..]));
        // An empty PDOL still sends the 83 template.
        let empty = Command::get_processing_options(&[]);
        assert_eq!(empty.to_bytes(), Ok(vec![0x80, 0xA8, 0x00, 0x00, 0x02, 0x83, 0x00, 0x00]));
    }

    #[test]
    fn responses() {
        let bytes = [0x6F, 0x00, 0x90, 0x00];
        let response = Response::parse(&bytes).unwrap();
        assert_eq!(response, Response::ok(vec![0x6F, 0x00]));
        assert!(response.sw.is_ok());
        assert_eq!(response.to_bytes(), bytes);
        let bare = Response::parse(&[0x6A, 0x82]).unwrap();
        assert_eq!(bare, Response::status(StatusWord::FILE_NOT_FOUND));
        assert_eq!((bare.sw.sw1(), bare.sw.sw2()), (0x6A, 0x82));
        assert_eq!(bare.sw.to_string(), "6A82");
        assert_eq!(Response::parse(&[0x90]), Err(ApduError::ResponseTooShort { len: 1 }));
        let long = vec![0; MAX_RESPONSE_DATA + 3];
        assert_eq!(Response::parse(&long), Err(ApduError::ResponseTooLong { len: 257 }));
    }

    #[test]
    fn status_word_constants() {
        let all = [
            (StatusWord::OK, 0x9000),
            (StatusWord::WRONG_LENGTH, 0x6700),
            (StatusWord::CONDITIONS_NOT_SATISFIED, 0x6985),
            (StatusWord::WRONG_DATA, 0x6A80),
            (StatusWord::FILE_NOT_FOUND, 0x6A82),
            (StatusWord::INCORRECT_P1P2, 0x6A86),
            (StatusWord::INS_NOT_SUPPORTED, 0x6D00),
            (StatusWord::CLA_NOT_SUPPORTED, 0x6E00),
        ];
        for (sw, raw) in all {
            assert_eq!(sw.0, raw);
        }
    }
}
