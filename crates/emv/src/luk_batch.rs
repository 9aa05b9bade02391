//! The LUK batch: limited-use keys encrypted to a device's P-256 key, sealed by the HSM and
//! opened by the phone (`docs/CRYPTOGRAM.md`, "LUK batch").
//!
//! ```text
//! Z = ECDH(e, D).x                       e: fresh ephemeral P-256 key, D: device public key
//! K = HKDF-SHA256(salt = E ‖ D, IKM = Z, info = "forecourt/luk-batch/v1" ‖ token_ref, 32)
//! plaintext  = 0x01 ‖ count ‖ count × (key index 6 ‖ LUK 32 ‖ expires_at u64 ‖ max_uses u16)
//! ciphertext = AES-256-GCM(K, nonce, plaintext, AAD = token_ref)   (tag appended)
//! ```
//!
//! `E` and `D` are 65-byte SEC1 uncompressed points. Opening fails with one opaque error
//! ([`BatchError::Open`]) whatever went wrong, so the phone is no oracle either.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::cryptogram::{KeyIndex, LUK_LEN};

/// First byte of the plaintext.
pub const FORMAT_VERSION: u8 = 0x01;
/// Most LUKs in one batch.
pub const MAX_ENTRIES: usize = 32;
/// Bytes per entry in the plaintext.
pub const ENTRY_LEN: usize = 6 + LUK_LEN + 8 + 2;
/// SEC1 uncompressed P-256 point: `04 ‖ x ‖ y`.
pub const PUBLIC_KEY_LEN: usize = 65;
/// AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag, appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// HKDF info prefix; the token reference follows it.
pub const HKDF_INFO_PREFIX: &[u8] = b"forecourt/luk-batch/v1";
/// Longest token reference (printable ASCII, `0x21..=0x7E`).
pub const MAX_TOKEN_REF_LEN: usize = 128;

const HEADER_LEN: usize = 2;

/// One limited-use key as the phone keeps it. `Debug` never shows the LUK; equality
/// compares it in constant time.
#[derive(Clone)]
pub struct LukEntry {
    pub key_index: KeyIndex,
    pub luk: Zeroizing<[u8; LUK_LEN]>,
    /// Unix seconds after which the LUK may not generate.
    pub expires_at_s: u64,
    /// Transactions this LUK may make.
    pub max_uses: u16,
}

impl PartialEq for LukEntry {
    fn eq(&self, other: &Self) -> bool {
        let luk_eq: bool = self.luk.as_ref().ct_eq(other.luk.as_ref()).into();
        luk_eq
            && self.key_index == other.key_index
            && self.expires_at_s == other.expires_at_s
            && self.max_uses == other.max_uses
    }
}

impl Eq for LukEntry {}

impl fmt::Debug for LukEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LukEntry")
            .field("key_index", &self.key_index)
            .field("luk", &"<redacted>")
            .field("expires_at_s", &self.expires_at_s)
            .field("max_uses", &self.max_uses)
            .finish()
    }
}

/// A sealed batch as it travels (HSM → server → phone). In serde, every byte string is
/// base64url without padding (RFC 4648 §5), matching the rest of the public API.
/// `Debug` shows sizes only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedBatch {
    /// `E`: SEC1 uncompressed, 65 bytes.
    #[serde(with = "b64::vec")]
    pub ephemeral_public_key: Vec<u8>,
    #[serde(with = "b64::array")]
    pub nonce: [u8; NONCE_LEN],
    /// AES-256-GCM ciphertext with the 16-byte tag appended.
    #[serde(with = "b64::vec")]
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for EncryptedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EncryptedBatch(ephemeral_public_key: {} bytes, ciphertext: {} bytes)",
            self.ephemeral_public_key.len(),
            self.ciphertext.len()
        )
    }
}

/// Why a batch was not sealed or opened. Opening reports every failure as [`Open`].
///
/// [`Open`]: BatchError::Open
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("device public key must be a valid uncompressed SEC1 P-256 point (65 bytes)")]
    InvalidDevicePublicKey,
    #[error("token reference must be 1 to 128 printable ASCII characters")]
    InvalidTokenRef,
    #[error("a batch holds 1 to 32 LUKs")]
    InvalidEntryCount,
    #[error("the random number generator failed")]
    Random,
    #[error("batch could not be opened")]
    Open,
}

/// Encrypts `entries` to the device key `device_public_sec1` (65-byte uncompressed SEC1)
/// for the token `token_ref`, under a fresh ephemeral key and random nonce.
pub fn seal(
    device_public_sec1: &[u8],
    token_ref: &str,
    entries: &[LukEntry],
) -> Result<EncryptedBatch, BatchError> {
    let ephemeral = random_secret_key()?;
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.try_fill_bytes(&mut nonce).map_err(|_| BatchError::Random)?;
    seal_with(&ephemeral, nonce, device_public_sec1, token_ref, entries)
}

/// [`seal`] with a given ephemeral key and nonce, so test vectors are reproducible.
/// **Never reuse** an (ephemeral key, nonce) pair: production code calls [`seal`].
pub fn seal_with(
    ephemeral_secret: &SecretKey,
    nonce: [u8; NONCE_LEN],
    device_public_sec1: &[u8],
    token_ref: &str,
    entries: &[LukEntry],
) -> Result<EncryptedBatch, BatchError> {
    let device = parse_point(device_public_sec1).ok_or(BatchError::InvalidDevicePublicKey)?;
    check_token_ref(token_ref)?;
    if !(1..=MAX_ENTRIES).contains(&entries.len()) {
        return Err(BatchError::InvalidEntryCount);
    }
    let e_point = sec1(&ephemeral_secret.public_key());
    let d_point = sec1(&device);
    let key = batch_key(ephemeral_secret, &device, &e_point, &d_point, token_ref)
        .ok_or(BatchError::InvalidDevicePublicKey)?;
    let plaintext = encode_entries(entries)?;
    let ciphertext = Aes256Gcm::new(key.as_ref().into())
        .encrypt(&Nonce::from(nonce), Payload { msg: &plaintext, aad: token_ref.as_bytes() })
        .map_err(|_| BatchError::Open)?;
    Ok(EncryptedBatch { ephemeral_public_key: e_point.to_vec(), nonce, ciphertext })
}

/// Decrypts a batch with the device's private key. Any failure — another device key,
/// another token reference, a changed byte anywhere, a malformed plaintext — is
/// [`BatchError::Open`].
pub fn open(
    device_secret: &SecretKey,
    token_ref: &str,
    batch: &EncryptedBatch,
) -> Result<Vec<LukEntry>, BatchError> {
    check_token_ref(token_ref).map_err(|_| BatchError::Open)?;
    let ephemeral = parse_point(&batch.ephemeral_public_key).ok_or(BatchError::Open)?;
    let body = batch.ciphertext.len().checked_sub(TAG_LEN + HEADER_LEN).ok_or(BatchError::Open)?;
    if body == 0 || body % ENTRY_LEN != 0 || body / ENTRY_LEN > MAX_ENTRIES {
        return Err(BatchError::Open);
    }
    let e_point = sec1(&ephemeral);
    let d_point = sec1(&device_secret.public_key());
    let key = batch_key(device_secret, &ephemeral, &e_point, &d_point, token_ref)
        .ok_or(BatchError::Open)?;
    let plaintext = Aes256Gcm::new(key.as_ref().into())
        .decrypt(
            &Nonce::from(batch.nonce),
            Payload { msg: &batch.ciphertext, aad: token_ref.as_bytes() },
        )
        .map(Zeroizing::new)
        .map_err(|_| BatchError::Open)?;
    decode_entries(&plaintext).ok_or(BatchError::Open)
}

/// `K` = HKDF-SHA256(salt = E ‖ D, IKM = ECDH(secret, public).x, info = prefix ‖ token_ref).
fn batch_key(
    secret: &SecretKey,
    public: &PublicKey,
    e_point: &[u8; PUBLIC_KEY_LEN],
    d_point: &[u8; PUBLIC_KEY_LEN],
    token_ref: &str,
) -> Option<Zeroizing<[u8; 32]>> {
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine());
    let mut salt = [0u8; 2 * PUBLIC_KEY_LEN];
    salt[..PUBLIC_KEY_LEN].copy_from_slice(e_point);
    salt[PUBLIC_KEY_LEN..].copy_from_slice(d_point);
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared.raw_secret_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf.expand_multi_info(&[HKDF_INFO_PREFIX, token_ref.as_bytes()], key.as_mut()).ok()?;
    Some(key)
}

fn encode_entries(entries: &[LukEntry]) -> Result<Zeroizing<Vec<u8>>, BatchError> {
    let count = u8::try_from(entries.len()).map_err(|_| BatchError::InvalidEntryCount)?;
    // Full capacity up front: a reallocation would leave a clear copy behind unzeroized.
    let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + entries.len() * ENTRY_LEN));
    out.push(FORMAT_VERSION);
    out.push(count);
    for entry in entries {
        out.extend_from_slice(entry.key_index.as_bytes());
        out.extend_from_slice(entry.luk.as_ref());
        out.extend_from_slice(&entry.expires_at_s.to_be_bytes());
        out.extend_from_slice(&entry.max_uses.to_be_bytes());
    }
    Ok(out)
}

fn decode_entries(plaintext: &[u8]) -> Option<Vec<LukEntry>> {
    let (&[version, count], body) = plaintext.split_first_chunk::<HEADER_LEN>()?;
    let count = usize::from(count);
    if version != FORMAT_VERSION
        || !(1..=MAX_ENTRIES).contains(&count)
        || body.len() != count * ENTRY_LEN
    {
        return None;
    }
    body.chunks_exact(ENTRY_LEN)
        .map(|chunk| {
            let (key_index, rest) = chunk.split_first_chunk::<6>()?;
            let (luk, rest) = rest.split_first_chunk::<LUK_LEN>()?;
            let (expires, rest) = rest.split_first_chunk::<8>()?;
            let max_uses: &[u8; 2] = rest.try_into().ok()?;
            Some(LukEntry {
                key_index: KeyIndex(*key_index),
                luk: Zeroizing::new(*luk),
                expires_at_s: u64::from_be_bytes(*expires),
                max_uses: u16::from_be_bytes(*max_uses),
            })
        })
        .collect()
}

/// A 65-byte uncompressed SEC1 point on P-256; anything else (compressed, identity, off the
/// curve, wrong length) is `None`.
fn parse_point(bytes: &[u8]) -> Option<PublicKey> {
    if bytes.len() != PUBLIC_KEY_LEN || bytes[0] != 0x04 {
        return None;
    }
    PublicKey::from_sec1_bytes(bytes).ok()
}

fn sec1(key: &PublicKey) -> [u8; PUBLIC_KEY_LEN] {
    let point = key.to_encoded_point(false);
    let mut out = [0u8; PUBLIC_KEY_LEN];
    out.copy_from_slice(point.as_bytes());
    out
}

fn check_token_ref(token_ref: &str) -> Result<(), BatchError> {
    let ok = (1..=MAX_TOKEN_REF_LEN).contains(&token_ref.len())
        && token_ref.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(BatchError::InvalidTokenRef)
    }
}

/// A uniformly random valid P-256 secret (rejection sampling; a retry has probability
/// about 2⁻³²).
fn random_secret_key() -> Result<SecretKey, BatchError> {
    loop {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.try_fill_bytes(bytes.as_mut()).map_err(|_| BatchError::Random)?;
        if let Ok(key) = SecretKey::from_slice(bytes.as_ref()) {
            return Ok(key);
        }
    }
}

/// Serde helpers: base64url without padding.
mod b64 {
    pub mod vec {
        use serde::{Deserialize, Deserializer, Serializer};

        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;

        pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            let text = String::deserialize(d)?;
            URL_SAFE_NO_PAD.decode(text).map_err(serde::de::Error::custom)
        }
    }

    pub mod array {
        use serde::{Deserialize, Deserializer, Serializer};

        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;

        pub fn serialize<S: Serializer, const N: usize>(
            bytes: &[u8; N],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
        }

        pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
            d: D,
        ) -> Result<[u8; N], D::Error> {
            let text = String::deserialize(d)?;
            let bytes = URL_SAFE_NO_PAD.decode(text).map_err(serde::de::Error::custom)?;
            bytes.try_into().map_err(|_| serde::de::Error::custom(format!("expected {N} bytes")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok_01JD7Q3B8W4V2K9M5N6P7R8S9T";

    fn device() -> SecretKey {
        random_secret_key().unwrap()
    }

    fn public(key: &SecretKey) -> Vec<u8> {
        sec1(&key.public_key()).to_vec()
    }

    fn entries(n: u16) -> Vec<LukEntry> {
        (0..n)
            .map(|i| LukEntry {
                key_index: KeyIndex::new(1_795_392_000, i + 1),
                luk: Zeroizing::new([u8::try_from(i % 256).unwrap(); 32]),
                expires_at_s: 1_795_478_400 + u64::from(i),
                max_uses: 10 + i,
            })
            .collect()
    }

    #[test]
    fn round_trip() {
        let dev = device();
        for n in [1, 2, 32] {
            let batch = seal(&public(&dev), TOKEN, &entries(n)).unwrap();
            assert_eq!(batch.ephemeral_public_key.len(), PUBLIC_KEY_LEN);
            assert_eq!(batch.ciphertext.len(), HEADER_LEN + usize::from(n) * ENTRY_LEN + TAG_LEN);
            assert_eq!(open(&dev, TOKEN, &batch).unwrap(), entries(n));
        }
    }

    #[test]
    fn two_seals_differ() {
        let dev = device();
        let a = seal(&public(&dev), TOKEN, &entries(1)).unwrap();
        let b = seal(&public(&dev), TOKEN, &entries(1)).unwrap();
        assert_ne!(a.ephemeral_public_key, b.ephemeral_public_key);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn another_device_key_or_token_ref_fails() {
        let dev = device();
        let batch = seal(&public(&dev), TOKEN, &entries(2)).unwrap();
        assert_eq!(open(&device(), TOKEN, &batch), Err(BatchError::Open));
        assert_eq!(open(&dev, "tok_other", &batch), Err(BatchError::Open));
        assert_eq!(open(&dev, "", &batch), Err(BatchError::Open));
    }

    #[test]
    fn tampering_anywhere_fails() {
        let dev = device();
        let batch = seal(&public(&dev), TOKEN, &entries(2)).unwrap();
        for i in 0..batch.ciphertext.len() {
            let mut t = batch.clone();
            t.ciphertext[i] ^= 0x01;
            assert_eq!(open(&dev, TOKEN, &t), Err(BatchError::Open), "ciphertext byte {i}");
        }
        for i in 0..NONCE_LEN {
            let mut t = batch.clone();
            t.nonce[i] ^= 0x80;
            assert_eq!(open(&dev, TOKEN, &t), Err(BatchError::Open), "nonce byte {i}");
        }
        // Another valid ephemeral key, an off-curve point, a compressed point, truncation.
        let mut t = batch.clone();
        t.ephemeral_public_key = public(&device());
        assert_eq!(open(&dev, TOKEN, &t), Err(BatchError::Open));
        let mut t = batch.clone();
        t.ephemeral_public_key[64] ^= 0x01;
        assert_eq!(open(&dev, TOKEN, &t), Err(BatchError::Open));
        let mut t = batch.clone();
        t.ephemeral_public_key = dev.public_key().to_encoded_point(true).as_bytes().to_vec();
        assert_eq!(open(&dev, TOKEN, &t), Err(BatchError::Open));
        let mut t = batch.clone();
        t.ciphertext.truncate(t.ciphertext.len() - 1);
        assert_eq!(open(&dev, TOKEN, &t), Err(BatchError::Open));
        let mut t = batch;
        t.ciphertext.clear();
        assert_eq!(open(&dev, TOKEN, &t), Err(BatchError::Open));
    }

    #[test]
    fn authenticated_but_malformed_plaintext_fails() {
        // Seal by hand a plaintext the format forbids, to check `open` parses strictly.
        let dev = device();
        let eph = device();
        let e_point = sec1(&eph.public_key());
        let d_point = sec1(&dev.public_key());
        let key = batch_key(&eph, &dev.public_key(), &e_point, &d_point, TOKEN).unwrap();
        let good = encode_entries(&entries(1)).unwrap();
        let mut wrong_version = good.to_vec();
        wrong_version[0] = 0x02;
        let mut wrong_count = good.to_vec();
        wrong_count[1] = 2;
        for plaintext in [wrong_version, wrong_count] {
            let ciphertext = Aes256Gcm::new(key.as_ref().into())
                .encrypt(
                    &Nonce::from([0u8; 12]),
                    Payload { msg: &plaintext, aad: TOKEN.as_bytes() },
                )
                .unwrap();
            let batch = EncryptedBatch {
                ephemeral_public_key: e_point.to_vec(),
                nonce: [0; 12],
                ciphertext,
            };
            assert_eq!(open(&dev, TOKEN, &batch), Err(BatchError::Open));
        }
    }

    #[test]
    fn seal_refuses_bad_inputs() {
        let dev = device();
        let d = public(&dev);
        let compressed = dev.public_key().to_encoded_point(true).as_bytes().to_vec();
        let mut off_curve = d.clone();
        off_curve[64] ^= 0x01;
        for bad in [&[][..], &d[..64], &compressed, &off_curve, &[0x04; 65][..]] {
            assert_eq!(
                seal(bad, TOKEN, &entries(1)).unwrap_err(),
                BatchError::InvalidDevicePublicKey
            );
        }
        for bad in ["", "with space", "naïve", &"x".repeat(MAX_TOKEN_REF_LEN + 1)] {
            assert_eq!(seal(&d, bad, &entries(1)).unwrap_err(), BatchError::InvalidTokenRef);
        }
        assert!(seal(&d, &"x".repeat(MAX_TOKEN_REF_LEN), &entries(1)).is_ok());
        assert_eq!(seal(&d, TOKEN, &[]).unwrap_err(), BatchError::InvalidEntryCount);
        assert_eq!(seal(&d, TOKEN, &entries(33)).unwrap_err(), BatchError::InvalidEntryCount);
    }

    #[test]
    fn debug_hides_luks_and_errors_are_opaque() {
        let e = entries(1).remove(0);
        let text = format!("{e:?}");
        assert!(text.contains("<redacted>") && !text.contains("0, 0, 0"));
        let mut other = e.clone();
        other.luk[31] ^= 1;
        assert_ne!(e, other);
        let batch = seal(&public(&device()), TOKEN, &entries(1)).unwrap();
        assert!(format!("{batch:?}").starts_with("EncryptedBatch(ephemeral_public_key: 65 bytes"));
        assert_eq!(BatchError::Open.to_string(), "batch could not be opened");
    }

    /// Intermediate values of the published vector (docs/CRYPTOGRAM.md), computed with
    /// Python's `cryptography`; the final ciphertext is checked in tests/cryptogram_vectors.rs.
    #[test]
    fn vector_shared_secret_and_batch_key() {
        let secret = |first: u8| {
            let bytes: [u8; 32] = std::array::from_fn(|i| first + u8::try_from(i).unwrap());
            SecretKey::from_slice(&bytes).unwrap()
        };
        let (dev, eph) = (secret(0x40), secret(0x60));
        let shared =
            p256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), dev.public_key().as_affine());
        assert_eq!(
            hex::encode(shared.raw_secret_bytes()),
            "cbe207c5196bb7ea0a1ef0c55b2b3ea8e913d17025dfdcaf60c68f37a68cdfb7"
        );
        let (e_point, d_point) = (sec1(&eph.public_key()), sec1(&dev.public_key()));
        let key = batch_key(&eph, &dev.public_key(), &e_point, &d_point, TOKEN).unwrap();
        assert_eq!(
            hex::encode(*key),
            "0cd98d722b82468e15f7479e9ff2f55f1f6bd96df7c0395647470b2999e0b080"
        );
        // The device derives the same key from its side.
        let again = batch_key(&dev, &eph.public_key(), &e_point, &d_point, TOKEN).unwrap();
        assert_eq!(*again, *key);
    }

    #[test]
    fn serde_is_base64url_without_padding() {
        let dev = device();
        let batch = seal(&public(&dev), TOKEN, &entries(1)).unwrap();
        let json = serde_json::to_value(&batch).unwrap();
        for field in ["ephemeral_public_key", "nonce", "ciphertext"] {
            let text = json[field].as_str().unwrap();
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        assert_eq!(json["nonce"].as_str().unwrap().len(), 16);
        let back: EncryptedBatch = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, batch);
        let mut short = json;
        short["nonce"] = "AAAA".into();
        assert!(serde_json::from_value::<EncryptedBatch>(short).is_err());
    }
}
