//! Property tests: random TLV trees survive encode → decode, and random bytes never panic
//! the decoder and, when accepted, re-encode to themselves.

use std::collections::HashSet;

use emv::fuzzing::check_tlv;
use emv::tlv::{self, Tag, Tlv, Value, MAX_DEPTH};
use proptest::collection::vec;
use proptest::prelude::*;

/// Valid tags of 1 to 3 bytes, primitive or constructed as asked.
fn tag(constructed: bool) -> impl Strategy<Value = Tag> {
    let kind = if constructed { 0x20u32 } else { 0 };
    let class = prop::sample::select(vec![0x00u32, 0x40, 0x80, 0xC0]);
    let one = (class.clone(), 0u32..0x1F).prop_map(move |(c, n)| c | kind | n);
    let two = (class.clone(), 0u32..0x80).prop_map(move |(c, b)| (c | kind | 0x1F) << 8 | b);
    let three = (class, 0x80u32..0x100, 0u32..0x80)
        .prop_map(move |(c, b, d)| ((c | kind | 0x1F) << 16) | b << 8 | d);
    prop_oneof![one, two, three].prop_filter_map("padding byte, not a tag", Tag::new)
}

/// Mostly short values, sometimes long enough for the 0x81 and 0x82 length forms.
fn value_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![4 => vec(any::<u8>(), 0..16), 1 => vec(any::<u8>(), 120..300)]
}

/// Strict TLV refuses a repeated primitive tag within one template; keep the first.
fn without_duplicate_primitives(tlvs: Vec<Tlv>) -> Vec<Tlv> {
    let mut seen = HashSet::new();
    tlvs.into_iter().filter(|t| t.tag.is_constructed() || seen.insert(t.tag)).collect()
}

fn tree() -> impl Strategy<Value = Tlv> {
    let leaf =
        (tag(false), value_bytes()).prop_map(|(tag, v)| Tlv { tag, value: Value::Primitive(v) });
    // A top-level object is at depth 1, so MAX_DEPTH - 1 levels of templates above leaves.
    let depth = u32::try_from(MAX_DEPTH - 1).unwrap_or(0);
    leaf.prop_recursive(depth, 48, 5, |inner| {
        (tag(true), vec(inner, 0..5)).prop_map(|(tag, children)| Tlv {
            tag,
            value: Value::Constructed(without_duplicate_primitives(children)),
        })
    })
}

proptest! {
    #[test]
    fn decode_inverts_encode(tlvs in vec(tree(), 1..4).prop_map(without_duplicate_primitives)) {
        let bytes = tlv::encode_all(&tlvs);
        prop_assert_eq!(tlv::decode_all(&bytes), Ok(tlvs));
    }

    #[test]
    fn single_object_encode_matches_encode_all(t in tree()) {
        prop_assert_eq!(tlv::encode(&t), tlv::encode_all(std::slice::from_ref(&t)));
    }

    #[test]
    fn arbitrary_bytes_never_break_the_round_trip(bytes in vec(any::<u8>(), 0..64)) {
        check_tlv(&bytes);
    }

    #[test]
    fn mutated_encodings_never_break_the_round_trip(
        t in tree(),
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = tlv::encode(&t);
        let i = index.index(bytes.len());
        if let Some(slot) = bytes.get_mut(i) {
            *slot = byte;
        }
        check_tlv(&bytes);
        check_tlv(bytes.get(..i).unwrap_or_default());
    }

    #[test]
    fn tag_constructor_accepts_what_it_displays(t in prop_oneof![tag(false), tag(true)]) {
        let shown = t.to_string();
        prop_assert_eq!(shown.len(), 2 * t.byte_len());
        prop_assert_eq!(u32::from_str_radix(&shown, 16).ok().and_then(Tag::new), Some(t));
    }
}
