//! The application cryptogram (tag `9F26`) and the issuer application data (tag `9F10`),
//! exactly as `docs/CRYPTOGRAM.md` specifies them. Shared by the phone, which computes the
//! cryptogram with a limited-use key (LUK), and the HSM, which derives the LUK again and
//! verifies it. Pure functions: no key is stored here.
//!
//! ```text
//! input (54 bytes) = version ‖ entry mode ‖ token PAN (BCD) ‖ key index ‖ ATC ‖
//!                    generation time (ms) ‖ sync age (s) ‖ CDCVM ‖ terminal data (17) ‖
//!                    card unpredictable number
//! cryptogram       = HMAC-SHA256(LUK, input)[..8]
//! ```
//!
//! Errors name the field, never its value: a token PAN must not reach a log.

use std::fmt;
use std::ops::{Range, RangeInclusive};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Length of the cryptogram input.
pub const INPUT_LEN: usize = 54;
/// First byte of the cryptogram input (layout version).
pub const INPUT_VERSION: u8 = 0x01;
/// Length of the cryptogram (tag `9F26`).
pub const CRYPTOGRAM_LEN: usize = 8;
/// Length of a limited-use key.
pub const LUK_LEN: usize = 32;
/// Length of the issuer application data (tag `9F10`).
pub const IAD_LEN: usize = 21;
/// First byte of the issuer application data (format version).
pub const IAD_VERSION: u8 = 0x01;
/// Digits in a token PAN.
pub const TOKEN_PAN_DIGITS: RangeInclusive<usize> = 12..=19;
/// Largest amount an n12 field holds.
pub const MAX_AMOUNT_MINOR: u64 = 999_999_999_999;
/// Largest ISO 4217 / ISO 3166 numeric code (n3).
pub const MAX_NUMERIC_CODE: u16 = 999;

/// Where each field of the 54-byte input lives (the table in `docs/CRYPTOGRAM.md`).
pub mod offsets {
    use std::ops::Range;

    pub const VERSION: usize = 0;
    pub const ENTRY_MODE: usize = 1;
    pub const TOKEN_PAN: Range<usize> = 2..12;
    pub const KEY_INDEX: Range<usize> = 12..18;
    pub const ATC: Range<usize> = 18..20;
    pub const GENERATED_AT: Range<usize> = 20..28;
    pub const SYNC_AGE: Range<usize> = 28..32;
    pub const CDCVM: usize = 32;
    pub const AMOUNT: Range<usize> = 33..39;
    pub const CURRENCY: Range<usize> = 39..41;
    pub const COUNTRY: Range<usize> = 41..43;
    pub const DATE: Range<usize> = 43..46;
    pub const TERMINAL_UN: Range<usize> = 46..50;
    pub const CARD_UN: Range<usize> = 50..54;
}

/// Why an input or an IAD cannot be encoded or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptogramError {
    #[error("token PAN must be 12 to 19 ASCII digits")]
    TokenPan,
    #[error("amount must be at most 999999999999 minor units")]
    Amount,
    #[error("currency must be a numeric code of at most 999")]
    Currency,
    #[error("country must be a numeric code of at most 999")]
    Country,
    #[error("transaction date is not a valid YYMMDD date")]
    Date,
    #[error("terminal data is required for NFC and must be absent for QR")]
    TerminalData,
    #[error("issuer application data must be exactly 21 bytes")]
    IadLength,
    #[error("issuer application data has an unknown format version")]
    IadVersion,
    #[error("issuer application data has a CDCVM flag other than 0x00 or 0x01")]
    IadCdcvm,
}

/// How the payment data reached the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryMode {
    Qr = 1,
    Nfc = 2,
}

impl EntryMode {
    /// The byte written at offset 1 of the input.
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for EntryMode {
    type Error = u8;

    fn try_from(byte: u8) -> Result<Self, u8> {
        match byte {
            1 => Ok(Self::Qr),
            2 => Ok(Self::Nfc),
            other => Err(other),
        }
    }
}

/// Key index of a LUK: issue time of its batch (unix seconds, `u32`) ‖ sequence number of
/// the LUK for its token (`u16`), big-endian. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyIndex(pub [u8; 6]);

impl KeyIndex {
    pub fn new(issued_at_s: u32, seq: u16) -> Self {
        let mut bytes = [0u8; 6];
        bytes[..4].copy_from_slice(&issued_at_s.to_be_bytes());
        bytes[4..].copy_from_slice(&seq.to_be_bytes());
        Self(bytes)
    }

    pub fn issued_at_s(&self) -> u32 {
        let [a, b, c, d, _, _] = self.0;
        u32::from_be_bytes([a, b, c, d])
    }

    pub fn seq(&self) -> u16 {
        u16::from_be_bytes([self.0[4], self.0[5]])
    }

    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }
}

impl From<[u8; 6]> for KeyIndex {
    fn from(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for KeyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyIndex({}/{})", self.issued_at_s(), self.seq())
    }
}

/// What an NFC terminal contributes (from its PDOL data). Absent for QR, whose bytes are
/// zeros in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalData {
    /// `9F02`, at most [`MAX_AMOUNT_MINOR`].
    pub amount_minor: u64,
    /// `5F2A`, ISO 4217 numeric, at most 999.
    pub currency_numeric: u16,
    /// `9F1A`, ISO 3166-1 numeric, at most 999.
    pub country_numeric: u16,
    /// `9A`: (two-digit year, month, day), written YYMMDD.
    pub date: (u8, u8, u8),
    /// `9F37` from the terminal.
    pub unpredictable_number: [u8; 4],
}

/// Everything the cryptogram covers. `Debug` shows only the last four digits of the token.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptogramInput {
    pub entry_mode: EntryMode,
    /// 12 to 19 ASCII digits.
    pub token_pan: String,
    pub key_index: KeyIndex,
    pub atc: u16,
    /// Unix milliseconds from the server-synchronised clock.
    pub generated_at_ms: i64,
    /// Seconds since the phone last synced its clock.
    pub sync_age_s: u32,
    /// The app verified the driver (biometrics / passcode).
    pub cdcvm: bool,
    /// `Some` for NFC, `None` for QR.
    pub terminal: Option<TerminalData>,
    /// Chosen at random by the phone for each cryptogram.
    pub card_unpredictable_number: [u8; 4],
}

impl CryptogramInput {
    /// The 54-byte input. Refuses a token PAN that is not 12 to 19 digits, out-of-range
    /// terminal fields, and terminal data on QR (or none on NFC).
    pub fn to_bytes(&self) -> Result<[u8; INPUT_LEN], CryptogramError> {
        let mut out = [0u8; INPUT_LEN];
        out[offsets::VERSION] = INPUT_VERSION;
        out[offsets::ENTRY_MODE] = self.entry_mode.as_u8();
        out[offsets::TOKEN_PAN].copy_from_slice(&token_pan_bcd(&self.token_pan)?);
        out[offsets::KEY_INDEX].copy_from_slice(&self.key_index.0);
        out[offsets::ATC].copy_from_slice(&self.atc.to_be_bytes());
        out[offsets::GENERATED_AT].copy_from_slice(&self.generated_at_ms.to_be_bytes());
        out[offsets::SYNC_AGE].copy_from_slice(&self.sync_age_s.to_be_bytes());
        out[offsets::CDCVM] = u8::from(self.cdcvm);
        match (self.entry_mode, &self.terminal) {
            (EntryMode::Qr, None) => {}
            (EntryMode::Nfc, Some(t)) => write_terminal(&mut out, t)?,
            _ => return Err(CryptogramError::TerminalData),
        }
        out[offsets::CARD_UN].copy_from_slice(&self.card_unpredictable_number);
        Ok(out)
    }

    /// The IAD that lets the authorizer rebuild this input.
    pub fn iad(&self, imk_version: u8) -> Iad {
        Iad {
            key_index: self.key_index,
            generated_at_ms: self.generated_at_ms,
            sync_age_s: self.sync_age_s,
            cdcvm: self.cdcvm,
            imk_version,
        }
    }
}

impl fmt::Debug for CryptogramInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pan = &self.token_pan;
        let last4 = pan.get(pan.len().saturating_sub(4)..).unwrap_or("");
        f.debug_struct("CryptogramInput")
            .field("entry_mode", &self.entry_mode)
            .field("token_pan", &format_args!("…{last4}"))
            .field("key_index", &self.key_index)
            .field("atc", &self.atc)
            .field("generated_at_ms", &self.generated_at_ms)
            .field("sync_age_s", &self.sync_age_s)
            .field("cdcvm", &self.cdcvm)
            .field("terminal", &self.terminal)
            .field("card_unpredictable_number", &self.card_unpredictable_number)
            .finish()
    }
}

fn write_terminal(out: &mut [u8; INPUT_LEN], t: &TerminalData) -> Result<(), CryptogramError> {
    if t.amount_minor > MAX_AMOUNT_MINOR {
        return Err(CryptogramError::Amount);
    }
    if t.currency_numeric > MAX_NUMERIC_CODE {
        return Err(CryptogramError::Currency);
    }
    if t.country_numeric > MAX_NUMERIC_CODE {
        return Err(CryptogramError::Country);
    }
    let (year, month, day) = t.date;
    if !is_valid_date(year, month, day) {
        return Err(CryptogramError::Date);
    }
    out[offsets::AMOUNT].copy_from_slice(&bcd::<6>(t.amount_minor));
    out[offsets::CURRENCY].copy_from_slice(&bcd::<2>(u64::from(t.currency_numeric)));
    out[offsets::COUNTRY].copy_from_slice(&bcd::<2>(u64::from(t.country_numeric)));
    out[offsets::DATE].copy_from_slice(&[
        bcd::<1>(year.into())[0],
        bcd::<1>(month.into())[0],
        bcd::<1>(day.into())[0],
    ]);
    out[offsets::TERMINAL_UN].copy_from_slice(&t.unpredictable_number);
    Ok(())
}

/// `value` as `2 × N` BCD digits, left-padded with zeros. The caller keeps `value` below
/// `10^(2N)`; higher digits are dropped.
fn bcd<const N: usize>(mut value: u64) -> [u8; N] {
    let mut out = [0u8; N];
    for byte in out.iter_mut().rev() {
        let low = (value % 10) as u8;
        value /= 10;
        let high = (value % 10) as u8;
        value /= 10;
        *byte = high << 4 | low;
    }
    out
}

/// Year 20YY (a two-digit year is within this century for payment dates), real calendar.
pub(crate) fn is_valid_date(year: u8, month: u8, day: u8) -> bool {
    if year > 99 || !(1..=12).contains(&month) {
        return false;
    }
    let leap = year % 4 == 0; // 2000 is a leap year, so the century rule never applies.
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=days).contains(&day)
}

/// The token PAN as 10 bytes of packed BCD, right-padded with `F` nibbles (offset 2 of the
/// input). Refuses anything but 12 to 19 ASCII digits.
pub fn token_pan_bcd(token_pan: &str) -> Result<[u8; 10], CryptogramError> {
    let digits = token_pan.as_bytes();
    if !TOKEN_PAN_DIGITS.contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CryptogramError::TokenPan);
    }
    let mut out = [0xFFu8; 10];
    for (i, d) in digits.iter().enumerate() {
        let nibble = d - b'0';
        let byte = &mut out[i / 2];
        *byte = if i % 2 == 0 { nibble << 4 | 0x0F } else { (*byte & 0xF0) | nibble };
    }
    Ok(out)
}

/// The cryptogram: the first 8 bytes of HMAC-SHA256(`luk`, `input`).
pub fn compute(luk: &[u8; LUK_LEN], input: &[u8; INPUT_LEN]) -> [u8; CRYPTOGRAM_LEN] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(luk).expect("HMAC accepts keys of any length");
    mac.update(input);
    let tag = mac.finalize().into_bytes();
    let mut out = [0u8; CRYPTOGRAM_LEN];
    out.copy_from_slice(&tag[..CRYPTOGRAM_LEN]);
    out
}

/// Whether `cryptogram` is the one `luk` makes over `input`, compared in constant time.
pub fn verify(
    luk: &[u8; LUK_LEN],
    input: &[u8; INPUT_LEN],
    cryptogram: &[u8; CRYPTOGRAM_LEN],
) -> bool {
    compute(luk, input).ct_eq(cryptogram).into()
}

/// Issuer application data (tag `9F10`): what the authorizer needs, besides the payload's
/// token, ATC and unpredictable number, to rebuild the input and pick the key. Not secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iad {
    pub key_index: KeyIndex,
    pub generated_at_ms: i64,
    pub sync_age_s: u32,
    pub cdcvm: bool,
    pub imk_version: u8,
}

/// Where each field of the 21-byte IAD lives.
pub mod iad_offsets {
    use std::ops::Range;

    pub const VERSION: usize = 0;
    pub const KEY_INDEX: Range<usize> = 1..7;
    pub const GENERATED_AT: Range<usize> = 7..15;
    pub const SYNC_AGE: Range<usize> = 15..19;
    pub const CDCVM: usize = 19;
    pub const IMK_VERSION: usize = 20;
}

impl Iad {
    pub fn to_bytes(&self) -> [u8; IAD_LEN] {
        let mut out = [0u8; IAD_LEN];
        out[iad_offsets::VERSION] = IAD_VERSION;
        out[iad_offsets::KEY_INDEX].copy_from_slice(&self.key_index.0);
        out[iad_offsets::GENERATED_AT].copy_from_slice(&self.generated_at_ms.to_be_bytes());
        out[iad_offsets::SYNC_AGE].copy_from_slice(&self.sync_age_s.to_be_bytes());
        out[iad_offsets::CDCVM] = u8::from(self.cdcvm);
        out[iad_offsets::IMK_VERSION] = self.imk_version;
        out
    }

    /// Reads an IAD from untrusted bytes: exactly 21 bytes, version `0x01`, CDCVM `0x00` or
    /// `0x01`. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptogramError> {
        let bytes: &[u8; IAD_LEN] = bytes.try_into().map_err(|_| CryptogramError::IadLength)?;
        if bytes[iad_offsets::VERSION] != IAD_VERSION {
            return Err(CryptogramError::IadVersion);
        }
        let cdcvm = match bytes[iad_offsets::CDCVM] {
            0 => false,
            1 => true,
            _ => return Err(CryptogramError::IadCdcvm),
        };
        Ok(Self {
            key_index: KeyIndex(field(bytes, iad_offsets::KEY_INDEX)),
            generated_at_ms: i64::from_be_bytes(field(bytes, iad_offsets::GENERATED_AT)),
            sync_age_s: u32::from_be_bytes(field(bytes, iad_offsets::SYNC_AGE)),
            cdcvm,
            imk_version: bytes[iad_offsets::IMK_VERSION],
        })
    }
}

/// The fixed-size field at `range` (ranges are constants that fit the array).
fn field<const N: usize>(bytes: &[u8], range: Range<usize>) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(range) {
        if src.len() == N {
            out.copy_from_slice(src);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAN: &str = "7001230000000015";

    fn qr() -> CryptogramInput {
        CryptogramInput {
            entry_mode: EntryMode::Qr,
            token_pan: PAN.into(),
            key_index: KeyIndex::new(1_795_392_000, 1),
            atc: 0x0102,
            generated_at_ms: 0x0102_0304_0506_0708,
            sync_age_s: 0x0A0B_0C0D,
            cdcvm: true,
            terminal: None,
            card_unpredictable_number: [0xC1, 0xC2, 0xC3, 0xC4],
        }
    }

    fn nfc() -> CryptogramInput {
        CryptogramInput {
            entry_mode: EntryMode::Nfc,
            terminal: Some(TerminalData {
                amount_minor: 123_456_789_012,
                currency_numeric: 978,
                country_numeric: 76,
                date: (26, 2, 28),
                unpredictable_number: [0xA1, 0xA2, 0xA3, 0xA4],
            }),
            ..qr()
        }
    }

    #[test]
    fn every_field_lands_at_its_offset() {
        let b = nfc().to_bytes().unwrap();
        assert_eq!(b[0], 0x01);
        assert_eq!(b[1], 0x02);
        assert_eq!(b[2..12], [0x70, 0x01, 0x23, 0, 0, 0, 0, 0x15, 0xFF, 0xFF]);
        assert_eq!(b[12..18], [0x6B, 0x03, 0x82, 0x00, 0x00, 0x01]);
        assert_eq!(b[18..20], [0x01, 0x02]);
        assert_eq!(b[20..28], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(b[28..32], [0x0A, 0x0B, 0x0C, 0x0D]);
        assert_eq!(b[32], 0x01);
        assert_eq!(b[33..39], [0x12, 0x34, 0x56, 0x78, 0x90, 0x12]);
        assert_eq!(b[39..41], [0x09, 0x78]);
        assert_eq!(b[41..43], [0x00, 0x76]);
        assert_eq!(b[43..46], [0x26, 0x02, 0x28]);
        assert_eq!(b[46..50], [0xA1, 0xA2, 0xA3, 0xA4]);
        assert_eq!(b[50..54], [0xC1, 0xC2, 0xC3, 0xC4]);
    }

    #[test]
    fn qr_terminal_fields_are_zero_and_mode_is_one() {
        let b = qr().to_bytes().unwrap();
        assert_eq!(b[1], 0x01);
        assert_eq!(b[33..50], [0u8; 17]);
        assert_eq!(b[50..54], [0xC1, 0xC2, 0xC3, 0xC4]);
        let no_cdcvm = CryptogramInput { cdcvm: false, ..qr() }.to_bytes().unwrap();
        assert_eq!(no_cdcvm[32], 0x00);
    }

    #[test]
    fn negative_generation_time_is_twos_complement() {
        let b = CryptogramInput { generated_at_ms: -2, ..qr() }.to_bytes().unwrap();
        assert_eq!(b[20..28], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]);
    }

    #[test]
    fn bcd_packing() {
        assert_eq!(bcd::<6>(0), [0; 6]);
        assert_eq!(bcd::<6>(MAX_AMOUNT_MINOR), [0x99; 6]);
        assert_eq!(bcd::<6>(12_345), [0, 0, 0, 0x01, 0x23, 0x45]);
        assert_eq!(bcd::<2>(840), [0x08, 0x40]);
        assert_eq!(bcd::<2>(4), [0x00, 0x04]);
        assert_eq!(bcd::<1>(9), [0x09]);
        assert_eq!(
            token_pan_bcd("123456789012").unwrap(),
            [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(
            token_pan_bcd("1234567890123456789").unwrap(),
            [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x34, 0x56, 0x78, 0x9F]
        );
    }

    #[test]
    fn token_pan_rules() {
        for bad in ["12345678901", "12345678901234567890", "70012300000000a5", "", "７００１"] {
            let input = CryptogramInput { token_pan: bad.into(), ..qr() };
            assert_eq!(input.to_bytes(), Err(CryptogramError::TokenPan), "{bad:?}");
        }
    }

    #[test]
    fn terminal_field_rules() {
        let with = |edit: fn(&mut TerminalData)| {
            let mut input = nfc();
            edit(input.terminal.as_mut().unwrap());
            input.to_bytes()
        };
        assert_eq!(with(|t| t.amount_minor = MAX_AMOUNT_MINOR + 1), Err(CryptogramError::Amount));
        assert!(with(|t| t.amount_minor = MAX_AMOUNT_MINOR).is_ok());
        assert_eq!(with(|t| t.currency_numeric = 1000), Err(CryptogramError::Currency));
        assert_eq!(with(|t| t.country_numeric = 1000), Err(CryptogramError::Country));
        assert_eq!(with(|t| t.date = (26, 13, 1)), Err(CryptogramError::Date));
        assert_eq!(with(|t| t.date = (26, 0, 1)), Err(CryptogramError::Date));
        assert_eq!(with(|t| t.date = (26, 4, 31)), Err(CryptogramError::Date));
        assert_eq!(with(|t| t.date = (26, 2, 29)), Err(CryptogramError::Date));
        assert_eq!(with(|t| t.date = (100, 1, 1)), Err(CryptogramError::Date));
        assert!(with(|t| t.date = (28, 2, 29)).is_ok());
        assert!(with(|t| t.date = (0, 2, 29)).is_ok());
        let qr_with_terminal = CryptogramInput { entry_mode: EntryMode::Qr, ..nfc() };
        assert_eq!(qr_with_terminal.to_bytes(), Err(CryptogramError::TerminalData));
        let nfc_without = CryptogramInput { entry_mode: EntryMode::Nfc, ..qr() };
        assert_eq!(nfc_without.to_bytes(), Err(CryptogramError::TerminalData));
    }

    #[test]
    fn key_index_parts() {
        let k = KeyIndex::new(0x6B03_8200, 0xBEEF);
        assert_eq!(k.0, [0x6B, 0x03, 0x82, 0x00, 0xBE, 0xEF]);
        assert_eq!((k.issued_at_s(), k.seq()), (0x6B03_8200, 0xBEEF));
        assert_eq!(format!("{k:?}"), "KeyIndex(1795392000/48879)");
        assert_eq!(EntryMode::try_from(2), Ok(EntryMode::Nfc));
        assert_eq!(EntryMode::try_from(3), Err(3));
    }

    #[test]
    fn mac_is_truncated_hmac_and_verifies_in_every_bit() {
        let luk = [7u8; 32];
        let input = nfc().to_bytes().unwrap();
        let mac = compute(&luk, &input);
        assert!(verify(&luk, &input, &mac));
        for i in 0..64 {
            let mut bad = mac;
            bad[i / 8] ^= 1 << (i % 8);
            assert!(!verify(&luk, &input, &bad));
        }
        let mut other_input = input;
        other_input[offsets::ATC.start] ^= 1;
        assert!(!verify(&luk, &other_input, &mac));
        assert!(!verify(&[8u8; 32], &input, &mac));
    }

    #[test]
    fn debug_hides_the_token_pan() {
        let text = format!("{:?}", nfc());
        assert!(!text.contains(PAN) && !text.contains("700123"));
        assert!(text.contains("…0015"));
        let short = CryptogramInput { token_pan: "12".into(), ..qr() };
        assert!(format!("{short:?}").contains("…12"));
    }

    fn iad() -> Iad {
        Iad {
            key_index: KeyIndex::new(1_795_392_000, 7),
            generated_at_ms: 1_795_392_123_456,
            sync_age_s: 600,
            cdcvm: true,
            imk_version: 3,
        }
    }

    #[test]
    fn iad_layout_and_round_trip() {
        let b = iad().to_bytes();
        assert_eq!(b[0], 0x01);
        assert_eq!(b[1..7], KeyIndex::new(1_795_392_000, 7).0);
        assert_eq!(b[7..15], 1_795_392_123_456i64.to_be_bytes());
        assert_eq!(b[15..19], 600u32.to_be_bytes());
        assert_eq!((b[19], b[20]), (0x01, 3));
        assert_eq!(Iad::parse(&b), Ok(iad()));
        let no_cdcvm = Iad { cdcvm: false, ..iad() };
        assert_eq!(Iad::parse(&no_cdcvm.to_bytes()), Ok(no_cdcvm));
        let from_input = qr().iad(3);
        assert_eq!(
            (from_input.key_index, from_input.generated_at_ms, from_input.sync_age_s),
            (qr().key_index, qr().generated_at_ms, qr().sync_age_s)
        );
        assert_eq!((from_input.cdcvm, from_input.imk_version), (true, 3));
    }

    #[test]
    fn iad_rejections() {
        let b = iad().to_bytes();
        assert_eq!(Iad::parse(&b[..20]), Err(CryptogramError::IadLength));
        assert_eq!(Iad::parse(&[b.as_slice(), &[0]].concat()), Err(CryptogramError::IadLength));
        assert_eq!(Iad::parse(&[]), Err(CryptogramError::IadLength));
        let mut v = b;
        v[0] = 0x02;
        assert_eq!(Iad::parse(&v), Err(CryptogramError::IadVersion));
        let mut c = b;
        c[19] = 0x02;
        assert_eq!(Iad::parse(&c), Err(CryptogramError::IadCdcvm));
    }
}
