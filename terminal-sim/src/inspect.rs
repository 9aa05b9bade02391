//! What a terminal sees in a QR payload, safe to print: the token is cut to its last four
//! digits and the cryptogram to its first two bytes *before* they reach [`Inspection`], so
//! neither `Display` nor `Debug` can leak them.

use std::fmt;

use emv::qr::{self, CpmPayload, QrError, TokenData};
use emv::{tags, Tag};

/// Bytes of the cryptogram shown: enough to tell two payloads apart at a glance, far too
/// few to be worth anything.
const CRYPTOGRAM_SHOWN: usize = 2;
/// Digits of the token shown, as on a receipt.
const TOKEN_SHOWN: usize = 4;

/// The fields of a decoded CPM payload, masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub aid: Vec<u8>,
    pub label: Option<String>,
    pub token: MaskedToken,
    pub atc: u16,
    pub iad_len: usize,
    pub unpredictable_number: [u8; 4],
    pub cryptogram_prefix: [u8; CRYPTOGRAM_SHOWN],
    /// Tags of application objects the terminal does not interpret (values not kept).
    pub other_tags: Vec<Tag>,
}

/// A payment token reduced to what may be shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskedToken {
    /// `5A` (PAN) or `57` (track 2 equivalent).
    pub tag: Tag,
    pub digits: usize,
    pub last4: String,
}

/// Why a payload cannot be inspected. Messages name the problem (a tag, a length), never
/// a value: `emv` errors are written that way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    #[error("malformed QR payload: {0}")]
    Malformed(#[from] QrError),
}

/// Decodes a scanned QR payload (base64 text, surrounding whitespace ignored since base64
/// never contains any and scanners and shells add newlines) and masks it for display.
pub fn inspect(payload: &str) -> Result<Inspection, InspectError> {
    let decoded = qr::decode(payload.trim())?;
    Ok(Inspection::of(&decoded))
}

impl Inspection {
    fn of(payload: &CpmPayload) -> Inspection {
        let chip = &payload.chip;
        Inspection {
            aid: payload.aid.clone(),
            label: payload.label.clone(),
            token: MaskedToken::of(&payload.token),
            atc: chip.atc,
            iad_len: chip.iad.len(),
            unpredictable_number: chip.unpredictable_number,
            cryptogram_prefix: [chip.cryptogram[0], chip.cryptogram[1]],
            other_tags: payload.unknown.iter().map(|tlv| tlv.tag).collect(),
        }
    }
}

impl MaskedToken {
    fn of(token: &TokenData) -> MaskedToken {
        let pan = token.pan();
        let tag = match token {
            TokenData::Pan(_) => tags::PAN,
            TokenData::Track2(_) => tags::TRACK2,
        };
        let last4 = pan.chars().skip(pan.len().saturating_sub(TOKEN_SHOWN)).collect();
        MaskedToken { tag, digits: pan.len(), last4 }
    }
}

impl fmt::Display for MaskedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "…{} ({} digits, tag {})", self.last4, self.digits, self.tag)
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.label.as_deref().unwrap_or("(none)");
        line(f, "AID", hex::encode_upper(&self.aid))?;
        line(f, "Label", label)?;
        line(f, "Token", &self.token)?;
        line(f, "ATC", self.atc)?;
        line(f, "IAD length", format_args!("{} bytes", self.iad_len))?;
        line(f, "Unpredictable number", hex::encode_upper(self.unpredictable_number))?;
        line(f, "Cryptogram", format_args!("{}…", hex::encode_upper(self.cryptogram_prefix)))?;
        line(f, "Other objects", other_objects(&self.other_tags))
    }
}

fn line(f: &mut fmt::Formatter<'_>, name: &str, value: impl fmt::Display) -> fmt::Result {
    writeln!(f, "{name:<21} {value}")
}

fn other_objects(tags: &[Tag]) -> String {
    if tags.is_empty() {
        return "none".to_owned();
    }
    tags.iter().map(Tag::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
