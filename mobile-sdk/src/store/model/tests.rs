use zeroize::Zeroizing;

use super::*;

const NOW_MS: i64 = 1_795_392_100_000;
const DAY_S: u64 = 1_795_478_400;

fn entry(seq: u16, expires_at_s: u64, max_uses: u16) -> LukEntry {
    LukEntry {
        key_index: KeyIndex::new(1_795_392_000, seq),
        luk: Zeroizing::new([seq as u8; LUK_LEN]),
        expires_at_s,
        max_uses,
    }
}

fn token(entries: Vec<LukEntry>) -> StoredToken {
    let pan = TokenPan::parse("7001990000001234".into()).unwrap();
    StoredToken::new("tok".into(), "card".into(), pan, 1, entries)
}

#[test]
fn the_key_expiring_first_pays_first() {
    let t = token(vec![entry(1, DAY_S + 10, 2), entry(2, DAY_S, 2), entry(3, DAY_S, 2)]);
    assert_eq!(t.usable_luk(NOW_MS).unwrap().key_index.seq(), 2);
    assert_eq!(t.uses_left(NOW_MS), 6);
    // At expiry a key is no longer usable.
    let at_expiry = i64::try_from(DAY_S).unwrap() * 1_000;
    assert_eq!(t.usable_luk(at_expiry).unwrap().key_index.seq(), 1);
    assert_eq!(t.uses_left(at_expiry), 2);
}

#[test]
fn claim_spends_atc_and_use_and_drops_a_spent_key() {
    let mut t = token(vec![entry(1, DAY_S, 2)]);
    let key = t.luks[0].key_index;
    assert_eq!(t.claim(key), Ok(1));
    assert_eq!(t.claim(key), Ok(2));
    assert!(t.luks[0].luk.is_none(), "a spent key's secret is dropped");
    assert_eq!(t.claim(key), Err(StoreError::KeyExhausted));
    assert_eq!((t.atc, t.luks[0].used), (2, 2));
    assert_eq!(t.claim(KeyIndex::new(1, 1)), Err(StoreError::UnknownKey));
    assert!(t.usable_luk(NOW_MS).is_none());
}

#[test]
fn the_atc_never_wraps() {
    let mut t = token(vec![entry(1, DAY_S, 2)]);
    t.atc = u16::MAX;
    assert_eq!(t.claim(t.luks[0].key_index), Err(StoreError::AtcExhausted));
    assert_eq!(t.luks[0].used, 0, "a refused claim spends nothing");
}

#[test]
fn reports_cover_used_keys_even_after_they_are_dropped() {
    let mut t = token(vec![entry(2, DAY_S, 1), entry(1, DAY_S, 3), entry(3, DAY_S, 3)]);
    t.claim(KeyIndex::new(1_795_392_000, 2)).unwrap();
    t.claim(KeyIndex::new(1_795_392_000, 1)).unwrap();
    let reports = t.usage_reports();
    let seqs: Vec<(u16, u16)> = reports.iter().map(|r| (r.key_index.seq(), r.used)).collect();
    assert_eq!(seqs, [(1, 1), (2, 1)]);
    t.retire_expired(i64::try_from(DAY_S).unwrap() * 1_000);
    assert!(t.luks.iter().all(|l| l.luk.is_none()));
    assert_eq!(t.usage_reports().len(), 2);
}

#[test]
fn saving_a_stale_copy_never_rolls_counters_back() {
    let mut stored = token(vec![entry(1, DAY_S, 2)]);
    let stale = stored.clone();
    stored.claim(stored.luks[0].key_index).unwrap();
    stored.claim(stored.luks[0].key_index).unwrap();
    let mut incoming = stale;
    incoming.add_luks(vec![entry(2, DAY_S, 2), entry(1, DAY_S, 9)]);
    incoming.keep_counters_of(&stored);
    assert_eq!(incoming.atc, 2);
    assert_eq!((incoming.luks[0].used, incoming.luks[0].luk.is_none()), (2, true));
    assert_eq!(incoming.luks.len(), 2, "a key index already held is not added twice");
}
