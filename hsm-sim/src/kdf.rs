//! The cryptogram key hierarchy (`docs/CRYPTOGRAM.md`, "Key hierarchy"):
//!
//! ```text
//! KDF(K, label, context) = HMAC-SHA256(K, [1]₃₂ ‖ label ‖ 0x00 ‖ context ‖ [256]₃₂)
//! TMK = KDF(IMK, "forecourt/tmk/v1", token PAN as ASCII digits)
//! LUK = KDF(TMK, "forecourt/luk/v1", key index (6 bytes))
//! ```
//!
//! NIST SP 800-108 in counter mode with HMAC-SHA256 as the PRF: one block for a 256-bit
//! output. Every derived key is returned in zeroizing memory; the TMK is never stored.
//! Also the check value of HMAC keys.

use emv::cryptogram::KeyIndex;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::error::HsmError;
use crate::pan::Pan;

/// Label of the token master key derivation.
pub(crate) const TMK_LABEL: &[u8] = b"forecourt/tmk/v1";
/// Label of the limited-use key derivation.
pub(crate) const LUK_LABEL: &[u8] = b"forecourt/luk/v1";

/// One 256-bit block of SP 800-108 counter-mode KDF with HMAC-SHA256.
pub(crate) fn kdf(
    key: &[u8; 32],
    label: &[u8],
    context: &[u8],
) -> Result<Zeroizing<[u8; 32]>, HsmError> {
    let mut mac = hmac(key)?;
    mac.update(&1u32.to_be_bytes());
    mac.update(label);
    mac.update(&[0x00]);
    mac.update(context);
    mac.update(&256u32.to_be_bytes());
    Ok(finish(mac))
}

/// Token master key of `token_pan` under the issuer master key `imk`.
pub(crate) fn tmk(imk: &[u8; 32], token_pan: &Pan) -> Result<Zeroizing<[u8; 32]>, HsmError> {
    kdf(imk, TMK_LABEL, token_pan.expose_digits().as_bytes())
}

/// Limited-use key `key_index` of the token whose master key is `tmk`.
pub(crate) fn luk(tmk: &[u8; 32], key_index: &KeyIndex) -> Result<Zeroizing<[u8; 32]>, HsmError> {
    kdf(tmk, LUK_LABEL, key_index.as_bytes())
}

/// The LUK straight from the IMK; the intermediate TMK is zeroized on return.
pub(crate) fn luk_from_imk(
    imk: &[u8; 32],
    token_pan: &Pan,
    key_index: &KeyIndex,
) -> Result<Zeroizing<[u8; 32]>, HsmError> {
    let tmk = tmk(imk, token_pan)?;
    luk(&tmk, key_index)
}

/// Key check value of an HMAC-SHA256 key: the first 3 bytes of HMAC-SHA256(key, 16 zero
/// bytes), as 6 uppercase hex digits (the same shape as the LMK's AES check value).
pub(crate) fn hmac_kcv(key: &[u8; 32]) -> Result<String, HsmError> {
    let mut mac = hmac(key)?;
    mac.update(&[0u8; 16]);
    Ok(hex::encode_upper(&finish(mac)[..3]))
}

fn hmac(key: &[u8; 32]) -> Result<Hmac<Sha256>, HsmError> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| HsmError::Crypto)
}

fn finish(mac: Hmac<Sha256>) -> Zeroizing<[u8; 32]> {
    let mut tag = mac.finalize().into_bytes();
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&tag);
    AsMut::<[u8]>::as_mut(&mut tag).zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published vector (docs/CRYPTOGRAM.md), computed independently with Python's
    /// `hmac`/`hashlib`.
    const TMK: &str = "044e9314c1d878ff4cb3f3aeb0771a8fed2eb41955fbe207c0d072d0d52db680";
    const LUK_1: &str = "92803c2f30b862a9396531f1a8b681d74e94799b51094db61607b6eb3e99e802";
    const LUK_2: &str = "b704f5641b79bb2492252590e1bd9fb68084b1ecf8a940399ed6166b07df691f";

    fn imk() -> [u8; 32] {
        std::array::from_fn(|i| u8::try_from(i).unwrap())
    }

    #[test]
    fn published_vector() {
        let pan = Pan::parse("7001230000000015").unwrap();
        let tmk = tmk(&imk(), &pan).unwrap();
        assert_eq!(hex::encode(*tmk), TMK);
        let luk1 = luk(&tmk, &KeyIndex::new(1_795_392_000, 1)).unwrap();
        assert_eq!(hex::encode(*luk1), LUK_1);
        let luk2 = luk_from_imk(&imk(), &pan, &KeyIndex::new(1_795_392_000, 2)).unwrap();
        assert_eq!(hex::encode(*luk2), LUK_2);
        assert_eq!(hmac_kcv(&imk()).unwrap(), "FF9212");
    }

    #[test]
    fn every_input_changes_the_output() {
        let k = imk();
        let base = kdf(&k, b"label", b"context").unwrap();
        assert_ne!(*base, *kdf(&k, b"label", b"contexu").unwrap());
        assert_ne!(*base, *kdf(&k, b"labe", b"lcontext").unwrap(), "the 0x00 separates");
        let mut other = k;
        other[0] ^= 1;
        assert_ne!(*base, *kdf(&other, b"label", b"context").unwrap());
    }
}
