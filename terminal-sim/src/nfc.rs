//! The contactless reader: a tap on the wallet's HCE Unix socket (framing in
//! `mobile-sdk/README.md`: a 2-byte big-endian length then the bytes, one APDU per frame,
//! one connection per tap), SELECT PPSE → SELECT AID → GET PROCESSING OPTIONS with the
//! PDOL data the card asked for.

use std::path::Path;

use emv::apdu::{Command, Response};
use emv::tlv::{self, Tag, Tlv};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::Result;

/// Euro.
pub const CURRENCY_EUR: u16 = 978;
/// Germany.
pub const COUNTRY_DE: u16 = 276;

const TAG_AMOUNT: u32 = 0x9F02;
const TAG_CURRENCY: u32 = 0x5F2A;
const TAG_COUNTRY: u32 = 0x9F1A;
const TAG_DATE: u32 = 0x9A;
const TAG_UN: u32 = 0x9F37;
const TAG_PDOL: u32 = 0x9F38;
const TAG_AID: u32 = 0x4F;
const TAG_DF_NAME: u32 = 0x84;

/// The PDOL the Forecourt card asks for when it names none (`mobile-sdk` README).
pub const DEFAULT_PDOL: [u8; 15] =
    [0x9F, 0x02, 0x06, 0x5F, 0x2A, 0x02, 0x9F, 0x1A, 0x02, 0x9A, 0x03, 0x9F, 0x37, 0x04, 0x00];

/// What the terminal puts into the PDOL data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalValues {
    pub amount_minor: u64,
    pub currency: u16,
    pub country: u16,
    /// (YY, MM, DD).
    pub date: (u8, u8, u8),
    pub unpredictable_number: [u8; 4],
}

impl TerminalValues {
    /// EUR in Germany, today's UTC date and a random unpredictable number.
    pub fn now(amount_minor: u64) -> TerminalValues {
        let today = time::OffsetDateTime::now_utc().date();
        let year = u8::try_from(today.year().rem_euclid(100)).unwrap_or(0);
        TerminalValues {
            amount_minor,
            currency: CURRENCY_EUR,
            country: COUNTRY_DE,
            date: (year, u8::from(today.month()), today.day()),
            unpredictable_number: rand::random(),
        }
    }
}

/// `value` as `2 × bytes` BCD digits, left-padded with zeros; higher digits are dropped.
pub fn bcd(mut value: u64, bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; bytes];
    for byte in out.iter_mut().rev() {
        let low = u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
        let high = u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
        *byte = (high << 4) | low;
    }
    out
}

/// Reads a DOL: a list of (tag, length) with BER tags and one-byte lengths.
pub fn parse_dol(mut dol: &[u8]) -> Result<Vec<(u32, usize)>> {
    let mut out = Vec::new();
    while let Some((&first, rest)) = dol.split_first() {
        if first == 0x00 {
            dol = rest;
            continue;
        }
        let mut raw = u32::from(first);
        let mut rest = rest;
        if first & 0x1F == 0x1F {
            loop {
                let (&b, tail) = rest.split_first().ok_or("DOL ends inside a tag")?;
                raw = (raw << 8) | u32::from(b);
                rest = tail;
                if b & 0x80 == 0 {
                    break;
                }
                if raw > 0xFF_FFFF {
                    return Err("DOL tag longer than 3 bytes".into());
                }
            }
        }
        let (&len, tail) = rest.split_first().ok_or("DOL entry without a length")?;
        out.push((raw, usize::from(len)));
        dol = tail;
    }
    Ok(out)
}

/// The PDOL data for `dol`: each requested object at the requested length (numeric ones
/// left-padded with zeros or cut on the left, others right-padded or cut on the right, as
/// EMV Book 3 §5.4 says); objects the terminal does not know are zeros.
pub fn build_pdol_data(dol: &[(u32, usize)], v: &TerminalValues) -> Vec<u8> {
    let mut out = Vec::new();
    for &(tag, len) in dol {
        let (value, numeric) = match tag {
            TAG_AMOUNT => (bcd(v.amount_minor, 6), true),
            TAG_CURRENCY => (bcd(u64::from(v.currency), 2), true),
            TAG_COUNTRY => (bcd(u64::from(v.country), 2), true),
            TAG_DATE => {
                let (y, m, d) = v.date;
                (bcd(u64::from(y) * 10_000 + u64::from(m) * 100 + u64::from(d), 3), true)
            }
            TAG_UN => (v.unpredictable_number.to_vec(), false),
            _ => (vec![0u8; len], false),
        };
        let fitted = match (numeric, value.len().cmp(&len)) {
            (_, std::cmp::Ordering::Equal) => value,
            (true, std::cmp::Ordering::Greater) => value[value.len() - len..].to_vec(),
            (true, std::cmp::Ordering::Less) => {
                let mut padded = vec![0u8; len - value.len()];
                padded.extend_from_slice(&value);
                padded
            }
            (false, _) => {
                let mut cut = value;
                cut.resize(len, 0);
                cut
            }
        };
        out.extend_from_slice(&fitted);
    }
    out
}

/// The first object with `tag` anywhere in `tlvs` (depth first).
fn find_deep(tlvs: &[Tlv], tag: u32) -> Option<&Tlv> {
    tlvs.iter().find_map(
        |t| {
            if t.tag.raw() == tag {
                Some(t)
            } else {
                find_deep(t.children(), tag)
            }
        },
    )
}

/// The application to select from the PPSE answer (the first `4F`).
pub fn aid_from_ppse(data: &[u8]) -> Result<Vec<u8>> {
    let tlvs = tlv::decode_all(data).map_err(|e| format!("PPSE answer: {e}"))?;
    let aid = find_deep(&tlvs, TAG_AID).and_then(Tlv::as_primitive).ok_or("PPSE lists no AID")?;
    Ok(aid.to_vec())
}

/// The PDOL from the SELECT AID answer; the default one when the card names none.
pub fn pdol_from_select(data: &[u8]) -> Result<Vec<(u32, usize)>> {
    let tlvs = tlv::decode_all(data).map_err(|e| format!("SELECT answer: {e}"))?;
    if find_deep(&tlvs, TAG_DF_NAME).is_none() {
        return Err("SELECT answer without a DF name".into());
    }
    match find_deep(&tlvs, TAG_PDOL).and_then(Tlv::as_primitive) {
        Some(pdol) => parse_dol(pdol),
        None => parse_dol(&DEFAULT_PDOL),
    }
}

/// What a terminal may show of a GPO answer: token last four digits and the ATC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpoSummary {
    pub last4: String,
    pub atc: u16,
}

/// Checks the GET PROCESSING OPTIONS answer carries a `77` template with token, ATC,
/// cryptogram, IAD and card unpredictable number.
pub fn check_gpo(data: &[u8]) -> Result<GpoSummary> {
    let tlvs = tlv::decode_all(data).map_err(|e| format!("GPO answer: {e}"))?;
    let template = tlvs
        .first()
        .filter(|t| t.tag.raw() == 0x77)
        .ok_or("GPO answer is not a format 2 (77) template")?;
    let field = |tag: u32| {
        Tag::new(tag)
            .and_then(|t| template.find(t))
            .and_then(Tlv::as_primitive)
            .ok_or_else(|| format!("GPO answer without {tag:X}"))
    };
    let pan = field(0x5A)?;
    let atc = field(0x9F36)?;
    let cryptogram = field(0x9F26)?;
    field(0x9F10)?;
    field(0x9F37)?;
    if cryptogram.len() != 8 {
        return Err("GPO cryptogram is not 8 bytes".into());
    }
    let atc = u16::from_be_bytes(atc.try_into().map_err(|_| "GPO ATC is not 2 bytes")?);
    let digits: String = pan
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .take_while(|n| *n <= 9)
        .map(|n| char::from(b'0' + n))
        .collect();
    let last4 = digits.get(digits.len().saturating_sub(4)..).unwrap_or_default().to_owned();
    Ok(GpoSummary { last4, atc })
}

/// One tap: a connection to the phone's socket.
pub struct Tap {
    stream: UnixStream,
}

impl Tap {
    pub async fn connect(path: &Path) -> Result<Tap> {
        let stream = UnixStream::connect(path)
            .await
            .map_err(|e| format!("cannot reach the phone at {}: {e}", path.display()))?;
        Ok(Tap { stream })
    }

    /// Sends one command, reads one response.
    pub async fn transceive(&mut self, command: &Command) -> Result<Response> {
        let bytes = command.to_bytes()?;
        let len = u16::try_from(bytes.len()).map_err(|_| "command too long")?;
        self.stream.write_all(&len.to_be_bytes()).await?;
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await?;
        let mut header = [0u8; 2];
        self.stream.read_exact(&mut header).await.map_err(|e| format!("phone closed: {e}"))?;
        let mut frame = vec![0u8; usize::from(u16::from_be_bytes(header))];
        self.stream.read_exact(&mut frame).await?;
        Ok(Response::parse(&frame)?)
    }

    async fn expect_ok(&mut self, command: &Command, what: &str) -> Result<Vec<u8>> {
        let response = self.transceive(command).await?;
        if !response.sw.is_ok() {
            return Err(format!("{what}: the phone answered SW {}", response.sw).into());
        }
        Ok(response.data)
    }
}

/// What the tap produced: the hex the server wants, and a masked summary.
#[derive(Debug, Clone)]
pub struct TapResult {
    pub gpo_response_hex: String,
    pub pdol_data_hex: String,
    pub aid: Vec<u8>,
    pub summary: GpoSummary,
}

/// SELECT PPSE → SELECT AID → GET PROCESSING OPTIONS, one connection.
pub async fn tap(path: &Path, values: &TerminalValues) -> Result<TapResult> {
    let mut tap = Tap::connect(path).await?;
    let ppse = tap.expect_ok(&Command::select_ppse(), "SELECT PPSE").await?;
    let aid = aid_from_ppse(&ppse)?;
    let select = tap.expect_ok(&Command::select(&aid), "SELECT AID").await?;
    let pdol = pdol_from_select(&select)?;
    let pdol_data = build_pdol_data(&pdol, values);
    let gpo = tap.expect_ok(&Command::get_processing_options(&pdol_data), "GPO").await?;
    let summary = check_gpo(&gpo)?;
    Ok(TapResult {
        gpo_response_hex: hex::encode(&gpo),
        pdol_data_hex: hex::encode(&pdol_data),
        aid,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use emv::tlv::Value;

    fn values() -> TerminalValues {
        TerminalValues {
            amount_minor: 12_345,
            currency: 978,
            country: 276,
            date: (26, 11, 23),
            unpredictable_number: [0x1A, 0x2B, 0x3C, 0x4D],
        }
    }

    #[test]
    fn pdol_data_for_the_forecourt_pdol_is_the_documented_17_bytes() {
        let dol = parse_dol(&DEFAULT_PDOL).unwrap();
        assert_eq!(
            dol,
            [(0x9F02, 6), (0x5F2A, 2), (0x9F1A, 2), (0x9A, 3), (0x9F37, 4)],
            "trailing padding ignored"
        );
        let data = build_pdol_data(&dol, &values());
        // docs/CRYPTOGRAM.md, "Cryptogram, NFC": the terminal's 17 bytes.
        assert_eq!(hex::encode(&data), "000000012345097802762611231a2b3c4d");
    }

    #[test]
    fn pdol_fields_are_fitted_to_the_requested_length_and_unknown_tags_are_zeros() {
        let dol = [(0x9F02, 4), (0x9F37, 6), (0x9F35, 1), (0x5F2A, 3)];
        let data = build_pdol_data(&dol, &values());
        assert_eq!(hex::encode(data), "000123451a2b3c4d000000000978");
        assert!(parse_dol(&[0x9F]).is_err(), "tag cut short");
        assert!(parse_dol(&[0x9A]).is_err(), "no length");
    }

    #[test]
    fn bcd_and_today() {
        assert_eq!(bcd(978, 2), [0x09, 0x78]);
        assert_eq!(bcd(999_999_999_999, 6), [0x99; 6]);
        let today = TerminalValues::now(1);
        assert!((1..=12).contains(&today.date.1) && (1..=31).contains(&today.date.2));
    }

    fn prim(tag: u32, bytes: &[u8]) -> Tlv {
        Tlv::new(Tag::new(tag).unwrap(), Value::Primitive(bytes.to_vec())).unwrap()
    }

    fn cons(tag: u32, children: Vec<Tlv>) -> Tlv {
        Tlv::new(Tag::new(tag).unwrap(), Value::Constructed(children)).unwrap()
    }

    #[test]
    fn ppse_select_and_gpo_answers_are_read() {
        let aid = [0xA0, 0x00, 0x00, 0x09, 0x99, 0x01, 0x01];
        let ppse = cons(
            0x6F,
            vec![
                prim(0x84, b"2PAY.SYS.DDF01"),
                cons(0xA5, vec![cons(0xBF0C, vec![cons(0x61, vec![prim(0x4F, &aid)])])]),
            ],
        );
        assert_eq!(aid_from_ppse(&tlv::encode(&ppse)).unwrap(), aid);
        assert!(aid_from_ppse(&tlv::encode(&prim(0x84, b"x"))).is_err());
        let pdol = [0x9F, 0x37, 0x04];
        let select = cons(0x6F, vec![prim(0x84, &aid), cons(0xA5, vec![prim(0x9F38, &pdol)])]);
        assert_eq!(pdol_from_select(&tlv::encode(&select)).unwrap(), [(0x9F37, 4)]);
        let gpo = cons(
            0x77,
            vec![
                prim(0x5A, &[0x70, 0x01, 0x23, 0x00, 0x00, 0x00, 0x00, 0x15]),
                prim(0x9F36, &[0x00, 0x02]),
                prim(0x9F26, &[1; 8]),
                prim(0x9F10, &[1; 21]),
                prim(0x9F37, &[1; 4]),
            ],
        );
        let summary = check_gpo(&tlv::encode(&gpo)).unwrap();
        assert_eq!(summary, GpoSummary { last4: "0015".into(), atc: 2 });
        let no_cryptogram = cons(0x77, vec![prim(0x5A, &[0x70]), prim(0x9F36, &[0, 1])]);
        assert!(check_gpo(&tlv::encode(&no_cryptogram)).is_err());
    }
}
