//! Strict BER-TLV as profiled by EMV Book 3 Annex B.
//!
//! Strict means canonical: definite, minimal lengths, no padding between objects, no
//! repeated primitive tag inside one template. So for any input that decodes,
//! `encode_all(&decode_all(input)?) == input`, and two encoders can never disagree on the
//! bytes a signature or MAC covers.

use std::collections::HashSet;
use std::fmt;

/// Longest tag accepted, in bytes. EMV tags use at most 3 (e.g. `DF8101`).
pub const MAX_TAG_BYTES: usize = 3;
/// Longest value accepted, in bytes. Nothing on our wire comes close; the cap keeps a
/// hostile length from reserving memory.
pub const MAX_VALUE_LEN: usize = 65_535;
/// Deepest nesting accepted, counting a top-level object as depth 1. Bounds recursion.
pub const MAX_DEPTH: usize = 8;

/// A BER-TLV tag, held as its encoded bytes read big-endian (`9F26` is `Tag(0x9F26)`).
///
/// Only valid encodings can be built, so encoding a `Tag` always reproduces the bytes it
/// was decoded from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

impl Tag {
    /// Checks that `raw` is the big-endian encoding of a tag of 1..=[`MAX_TAG_BYTES`]
    /// bytes: a first byte with low five bits all set announces subsequent bytes, every
    /// subsequent byte but the last has b8 set. `00` and `FF` are padding, never tags.
    pub const fn new(raw: u32) -> Option<Tag> {
        let len = Tag(raw).byte_len();
        if len > MAX_TAG_BYTES {
            return None;
        }
        let first = (raw >> (8 * (len - 1))) as u8;
        if first == 0x00 || first == 0xFF {
            return None;
        }
        let multi_byte = first & 0x1F == 0x1F;
        if multi_byte != (len > 1) {
            return None;
        }
        let mut i = 1;
        while i < len {
            let byte = (raw >> (8 * (len - 1 - i))) as u8;
            let more_follow = byte & 0x80 != 0;
            if more_follow != (i < len - 1) {
                return None;
            }
            i += 1;
        }
        Some(Tag(raw))
    }

    /// The encoded bytes read big-endian.
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// Number of bytes in the encoding.
    pub const fn byte_len(self) -> usize {
        match self.0 {
            0..=0xFF => 1,
            0x100..=0xFFFF => 2,
            0x1_0000..=0xFF_FFFF => 3,
            _ => 4,
        }
    }

    /// Bit 6 of the first byte: the value is a sequence of TLV objects.
    pub const fn is_constructed(self) -> bool {
        let first = (self.0 >> (8 * (self.byte_len() - 1))) as u8;
        first & 0x20 != 0
    }

    /// The encoded bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let skip = 4 - self.byte_len();
        self.0.to_be_bytes().into_iter().skip(skip).collect()
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_bytes().iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

/// The value of a TLV object. Which variant is right is decided by the tag
/// ([`Tag::is_constructed`]); [`Tlv::new`] checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Primitive(Vec<u8>),
    Constructed(Vec<Tlv>),
}

/// One BER-TLV data object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlv {
    pub tag: Tag,
    pub value: Value,
}

impl Tlv {
    /// Builds an object whose value kind matches its tag, so that it encodes to bytes that
    /// decode back to itself.
    pub fn new(tag: Tag, value: Value) -> Result<Tlv, TlvError> {
        if tag.is_constructed() == matches!(value, Value::Constructed(_)) {
            Ok(Tlv { tag, value })
        } else {
            Err(TlvError::KindMismatch { tag })
        }
    }

    /// The bytes of a primitive object.
    pub fn as_primitive(&self) -> Option<&[u8]> {
        match &self.value {
            Value::Primitive(bytes) => Some(bytes),
            Value::Constructed(_) => None,
        }
    }

    /// The objects inside a template; empty for a primitive object.
    pub fn children(&self) -> &[Tlv] {
        match &self.value {
            Value::Primitive(_) => &[],
            Value::Constructed(children) => children,
        }
    }

    /// The first direct child with `tag`.
    pub fn find(&self, tag: Tag) -> Option<&Tlv> {
        find(self.children(), tag)
    }
}

/// The first object in `tlvs` with `tag` (no descent into templates).
pub fn find(tlvs: &[Tlv], tag: Tag) -> Option<&Tlv> {
    tlvs.iter().find(|tlv| tlv.tag == tag)
}

/// Why bytes are not strict BER-TLV. Offsets count from the start of the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("empty input")]
    EmptyInput,
    /// `offset` is where the tag, length or value that the input cuts short begins.
    #[error("input ends inside the tag, length or value starting at offset {offset}")]
    Truncated { offset: usize },
    #[error("padding byte {byte:#04X} at offset {offset} (strict TLV allows none)")]
    Padding { offset: usize, byte: u8 },
    #[error("tag at offset {offset} is longer than {MAX_TAG_BYTES} bytes")]
    TagTooLong { offset: usize },
    #[error("indefinite length at offset {offset}")]
    IndefiniteLength { offset: usize },
    #[error("length at offset {offset} is not in its shortest form")]
    NonMinimalLength { offset: usize },
    #[error("length {len} at offset {offset} exceeds {MAX_VALUE_LEN}")]
    LengthTooLarge { offset: usize, len: usize },
    #[error("length byte {byte:#04X} at offset {offset} is not a supported form")]
    UnsupportedLengthForm { offset: usize, byte: u8 },
    #[error("object at offset {offset} is nested deeper than {MAX_DEPTH}")]
    DepthExceeded { offset: usize },
    #[error("tag {tag} repeated at offset {offset} in the same template")]
    DuplicateTag { tag: Tag, offset: usize },
    #[error("tag {tag} does not match the kind (primitive/constructed) of its value")]
    KindMismatch { tag: Tag },
}

/// Decodes a sequence of top-level objects; the whole input must be consumed.
pub fn decode_all(input: &[u8]) -> Result<Vec<Tlv>, TlvError> {
    if input.is_empty() {
        return Err(TlvError::EmptyInput);
    }
    decode_seq(input, 0, 1)
}

/// Decodes the objects of one template level, starting at absolute `offset`.
fn decode_seq(mut input: &[u8], mut offset: usize, depth: usize) -> Result<Vec<Tlv>, TlvError> {
    if depth > MAX_DEPTH && !input.is_empty() {
        return Err(TlvError::DepthExceeded { offset });
    }
    let mut out = Vec::new();
    let mut primitives = HashSet::new();
    while !input.is_empty() {
        let (tlv, rest) = decode_one(input, offset, depth)?;
        if !tlv.tag.is_constructed() && !primitives.insert(tlv.tag) {
            return Err(TlvError::DuplicateTag { tag: tlv.tag, offset });
        }
        out.push(tlv);
        offset += input.len() - rest.len();
        input = rest;
    }
    Ok(out)
}

fn decode_one(input: &[u8], offset: usize, depth: usize) -> Result<(Tlv, &[u8]), TlvError> {
    let (tag, after_tag) = read_tag(input, offset)?;
    let len_offset = offset + tag.byte_len();
    let (len, after_len) = read_len(after_tag, len_offset)?;
    let content_offset = offset + (input.len() - after_len.len());
    let (content, rest) =
        after_len.split_at_checked(len).ok_or(TlvError::Truncated { offset: content_offset })?;
    let value = if tag.is_constructed() {
        Value::Constructed(decode_seq(content, content_offset, depth + 1)?)
    } else {
        Value::Primitive(content.to_vec())
    };
    Ok((Tlv { tag, value }, rest))
}

fn read_tag(input: &[u8], offset: usize) -> Result<(Tag, &[u8]), TlvError> {
    let (&first, mut rest) = input.split_first().ok_or(TlvError::Truncated { offset })?;
    if first == 0x00 || first == 0xFF {
        return Err(TlvError::Padding { offset, byte: first });
    }
    let mut raw = u32::from(first);
    if first & 0x1F != 0x1F {
        return Ok((Tag(raw), rest));
    }
    for _ in 1..MAX_TAG_BYTES {
        let (&byte, tail) = rest.split_first().ok_or(TlvError::Truncated { offset })?;
        raw = raw << 8 | u32::from(byte);
        rest = tail;
        if byte & 0x80 == 0 {
            return Ok((Tag(raw), rest));
        }
    }
    Err(TlvError::TagTooLong { offset })
}

fn read_len(input: &[u8], offset: usize) -> Result<(usize, &[u8]), TlvError> {
    let (&first, rest) = input.split_first().ok_or(TlvError::Truncated { offset })?;
    match first {
        0x00..=0x7F => Ok((usize::from(first), rest)),
        0x80 => Err(TlvError::IndefiniteLength { offset }),
        0x81..=0x83 => read_long_len(rest, usize::from(first & 0x7F), offset),
        _ => Err(TlvError::UnsupportedLengthForm { offset, byte: first }),
    }
}

/// Long form: `n` big-endian length bytes follow the `0x8n` byte.
fn read_long_len(input: &[u8], n: usize, offset: usize) -> Result<(usize, &[u8]), TlvError> {
    let (bytes, rest) = input.split_at_checked(n).ok_or(TlvError::Truncated { offset })?;
    let len = bytes.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    // One byte fewer (or the short form, for 0x81) would have held it.
    let shortest = if n == 1 { 0x80 } else { 1 << (8 * (n - 1)) };
    if len < shortest {
        return Err(TlvError::NonMinimalLength { offset });
    }
    if len > MAX_VALUE_LEN {
        return Err(TlvError::LengthTooLarge { offset, len });
    }
    Ok((len, rest))
}

/// Encodes one object. Total: limits are the decoder's business, so an object beyond
/// [`MAX_VALUE_LEN`] or [`MAX_DEPTH`] encodes but will not decode.
pub fn encode(tlv: &Tlv) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(tlv, &mut out);
    out
}

/// Encodes a sequence of objects back to back.
pub fn encode_all(tlvs: &[Tlv]) -> Vec<u8> {
    let mut out = Vec::new();
    tlvs.iter().for_each(|tlv| encode_into(tlv, &mut out));
    out
}

fn encode_into(tlv: &Tlv, out: &mut Vec<u8>) {
    out.extend(tlv.tag.to_bytes());
    match &tlv.value {
        Value::Primitive(bytes) => {
            push_len(bytes.len(), out);
            out.extend_from_slice(bytes);
        }
        Value::Constructed(children) => {
            let content = encode_all(children);
            push_len(content.len(), out);
            out.extend(content);
        }
    }
}

fn push_len(len: usize, out: &mut Vec<u8>) {
    if let Ok(short @ 0..=0x7F) = u8::try_from(len) {
        out.push(short);
        return;
    }
    let significant: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
    out.push(0x80 | significant.len() as u8);
    out.extend(significant);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(raw: u32) -> Tag {
        Tag::new(raw).unwrap()
    }

    fn prim(raw: u32, value: &[u8]) -> Tlv {
        Tlv::new(tag(raw), Value::Primitive(value.to_vec())).unwrap()
    }

    fn cons(raw: u32, children: Vec<Tlv>) -> Tlv {
        Tlv::new(tag(raw), Value::Constructed(children)).unwrap()
    }

    #[test]
    fn tag_validation() {
        assert_eq!(Tag::new(0x5A).map(Tag::byte_len), Some(1));
        assert_eq!(Tag::new(0x9F26).map(Tag::byte_len), Some(2));
        assert_eq!(Tag::new(0xDF8101).map(Tag::byte_len), Some(3));
        assert_eq!(Tag::new(0x00), None, "00 is padding");
        assert_eq!(Tag::new(0xFF), None, "FF is padding");
        assert_eq!(Tag::new(0x9F), None, "9F announces a subsequent byte");
        assert_eq!(Tag::new(0x5A01), None, "5A takes no subsequent byte");
        assert_eq!(Tag::new(0x9F81), None, "81 announces a third byte");
        assert_eq!(Tag::new(0xDF0101), None, "01 must be the last byte");
        assert_eq!(Tag::new(0xDF818101), None, "four bytes");
    }

    #[test]
    fn tag_kind_and_display() {
        assert!(tag(0x61).is_constructed());
        assert!(tag(0xBF0C).is_constructed());
        assert!(!tag(0x9F26).is_constructed());
        assert_eq!(tag(0x9F26).to_string(), "9F26");
        assert_eq!(tag(0x0A).to_string(), "0A");
        assert_eq!(format!("{:?}", tag(0xDF8101)), "Tag(DF8101)");
        assert_eq!(tag(0x9F26).to_bytes(), [0x9F, 0x26]);
    }

    #[test]
    fn two_byte_tag_encoding() {
        let bytes = [0x9F, 0x26, 0x02, 0xAB, 0xCD];
        assert_eq!(decode_all(&bytes), Ok(vec![prim(0x9F26, &[0xAB, 0xCD])]));
        assert_eq!(encode(&prim(0x9F26, &[0xAB, 0xCD])), bytes);
    }

    #[test]
    fn length_forms_are_minimal() {
        let cases: [(usize, &[u8]); 5] = [
            (0, &[0x00]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x80]),
            (0xFF, &[0x81, 0xFF]),
            (0x100, &[0x82, 0x01, 0x00]),
        ];
        for (len, header) in cases {
            let encoded = encode(&prim(0x5A, &vec![0x11; len]));
            assert_eq!(encoded.get(1..1 + header.len()), Some(header), "len {len}");
            assert_eq!(decode_all(&encoded), Ok(vec![prim(0x5A, &vec![0x11; len])]));
        }
    }

    #[test]
    fn nested_template_round_trips() {
        let tree = cons(0x61, vec![prim(0x4F, &[0xA0, 0, 0, 0, 3]), cons(0x64, vec![])]);
        let bytes = encode(&tree);
        assert_eq!(bytes, [0x61, 0x09, 0x4F, 0x05, 0xA0, 0, 0, 0, 3, 0x64, 0x00]);
        assert_eq!(decode_all(&bytes), Ok(vec![tree]));
    }

    #[test]
    fn repeated_templates_are_allowed_but_not_repeated_primitives() {
        let ok = [0x61, 0x00, 0x61, 0x00];
        assert_eq!(decode_all(&ok).map(|v| v.len()), Ok(2));
        let dup = [0x61, 0x06, 0x5A, 0x01, 0x01, 0x5A, 0x01, 0x02];
        assert_eq!(decode_all(&dup), Err(TlvError::DuplicateTag { tag: tag(0x5A), offset: 5 }));
        // Same tag in different templates is fine.
        let apart = [0x61, 0x03, 0x5A, 0x01, 0x01, 0x5A, 0x01, 0x02];
        assert!(decode_all(&apart).is_ok());
    }

    #[test]
    fn every_error_variant_from_bytes() {
        use TlvError::*;
        let cases: Vec<(Vec<u8>, TlvError)> = vec![
            (vec![], EmptyInput),
            (vec![0x9F], Truncated { offset: 0 }),
            (vec![0x5A], Truncated { offset: 1 }),
            (vec![0x5A, 0x03, 0x01], Truncated { offset: 2 }),
            (vec![0x5A, 0x81], Truncated { offset: 1 }),
            (vec![0x5A, 0x01, 0x01, 0x00], Padding { offset: 3, byte: 0x00 }),
            (vec![0xFF, 0x5A, 0x00], Padding { offset: 0, byte: 0xFF }),
            (vec![0xDF, 0x81, 0x81, 0x01, 0x00], TagTooLong { offset: 0 }),
            (vec![0x61, 0x80, 0x00, 0x00], IndefiniteLength { offset: 1 }),
            (vec![0x5A, 0x81, 0x05, 1, 2, 3, 4, 5], NonMinimalLength { offset: 1 }),
            (vec![0x5A, 0x82, 0x00, 0xFF], NonMinimalLength { offset: 1 }),
            (vec![0x5A, 0x83, 0x00, 0xFF, 0xFF], NonMinimalLength { offset: 1 }),
            (vec![0x9F, 0x26, 0x83, 0x01, 0x00, 0x00], LengthTooLarge { offset: 2, len: 65_536 }),
            (vec![0x5A, 0x84, 0, 0, 0, 1], UnsupportedLengthForm { offset: 1, byte: 0x84 }),
            (vec![0x5A, 0x01, 0x01, 0x5A, 0x00], DuplicateTag { tag: tag(0x5A), offset: 3 }),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode_all(&bytes), Err(want), "{bytes:02X?}");
        }
    }

    #[test]
    fn offsets_are_absolute_inside_templates() {
        // 61 04 | 5A 01 01 | 9F: the template's last tag is cut short at offset 5.
        let bytes = [0x61, 0x04, 0x5A, 0x01, 0x01, 0x9F];
        assert_eq!(decode_all(&bytes), Err(TlvError::Truncated { offset: 5 }));
    }

    fn nested(levels: usize) -> Tlv {
        (1..levels).fold(prim(0x5A, &[1]), |inner, _| cons(0x61, vec![inner]))
    }

    #[test]
    fn depth_limit() {
        assert!(decode_all(&encode(&nested(MAX_DEPTH))).is_ok());
        let too_deep = encode(&nested(MAX_DEPTH + 1));
        // MAX_DEPTH templates of 2 header bytes each, then the primitive.
        let offset = 2 * MAX_DEPTH;
        assert_eq!(decode_all(&too_deep), Err(TlvError::DepthExceeded { offset }));
        // An empty template at the limit has nothing nested below it.
        let empty_at_limit =
            (1..MAX_DEPTH).fold(cons(0x61, vec![]), |inner, _| cons(0x61, vec![inner]));
        assert!(decode_all(&encode(&empty_at_limit)).is_ok());
    }

    #[test]
    fn kind_mismatch_is_refused() {
        let err = Tlv::new(tag(0x5A), Value::Constructed(vec![]));
        assert_eq!(err, Err(TlvError::KindMismatch { tag: tag(0x5A) }));
        assert!(Tlv::new(tag(0x61), Value::Primitive(vec![])).is_err());
    }

    #[test]
    fn find_helpers() {
        let tree = cons(0x61, vec![prim(0x4F, &[1]), prim(0x50, b"X")]);
        assert_eq!(tree.find(tag(0x50)).and_then(Tlv::as_primitive), Some(&b"X"[..]));
        assert_eq!(tree.find(tag(0x5A)), None);
        assert_eq!(find(std::slice::from_ref(&tree), tag(0x61)), Some(&tree));
        assert!(prim(0x5A, &[]).children().is_empty());
    }
}
