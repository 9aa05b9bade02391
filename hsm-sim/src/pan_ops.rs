//! PAN verbs: generate, encrypt, fingerprint, decrypt.
//!
//! PAN ciphertext layout (opaque to callers, versioned for key rotation):
//! `0x01 (format) || key_version (u32 BE) || nonce (12) || AES-256-GCM ciphertext+tag`.
//! The AAD is `"forecourt:pan:v1"` followed by the first 5 bytes, so the ciphertext cannot be
//! replayed as another kind of data nor relabelled with another key version.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::engine::Engine;
use crate::error::HsmError;
use crate::keyblock::KeyUsage;
use crate::labels::{PAN_DATA, PAN_FINGERPRINT};
use crate::material::KeyMaterial;
use crate::pan::Pan;
use crate::verbs::IssuedPan;

const FORMAT: u8 = 1;
const AAD_TAG: &[u8] = b"forecourt:pan:v1";
const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

impl Engine {
    pub(crate) fn generate_pan(&self, bin: &str, length: u8) -> Result<IssuedPan, HsmError> {
        let pan = random_pan(bin, length)?;
        let (ciphertext, key_version) = self.encrypt_pan(&pan)?;
        Ok(IssuedPan {
            ciphertext,
            fingerprint: self.fingerprint(&pan)?,
            last4: pan.last4().to_owned(),
            key_version,
        })
    }

    pub(crate) fn fingerprint(&self, pan: &Pan) -> Result<[u8; 32], HsmError> {
        let key = self.key(PAN_FINGERPRINT, None, |u| u == KeyUsage::PanFingerprint)?;
        let KeyMaterial::HmacSha256(secret) = &key.material else {
            return Err(HsmError::Crypto);
        };
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret.as_ref()).map_err(|_| HsmError::Crypto)?;
        mac.update(pan.expose_digits().as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    fn encrypt_pan(&self, pan: &Pan) -> Result<(Vec<u8>, u32), HsmError> {
        let key = self.key(PAN_DATA, None, |u| u == KeyUsage::PanEncryption)?;
        let version = key.header.version;
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + pan.digit_count() + TAG_LEN);
        out.push(FORMAT);
        out.extend_from_slice(&version.to_be_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        out.extend_from_slice(&nonce);
        let ct = aead(&key.material)?
            .encrypt(
                &Nonce::from(nonce),
                Payload { msg: pan.expose_digits().as_bytes(), aad: &aad(&out[..HEADER_LEN]) },
            )
            .map_err(|_| HsmError::Crypto)?;
        out.extend_from_slice(&ct);
        Ok((out, version))
    }

    pub(crate) fn decrypt_pan(&self, ciphertext: &[u8]) -> Result<Pan, HsmError> {
        if ciphertext.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || ciphertext[0] != FORMAT {
            return Err(HsmError::invalid("ciphertext is not a PAN ciphertext"));
        }
        let (header, rest) = ciphertext.split_at(HEADER_LEN);
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| HsmError::Crypto)?;
        let version = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let key = self.key(PAN_DATA, Some(version), |u| u == KeyUsage::PanEncryption)?;
        let clear = aead(&key.material)?
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: &aad(header) })
            .map(Zeroizing::new)
            .map_err(|_| HsmError::Crypto)?;
        digits_to_pan(clear)
    }
}

fn aad(header: &[u8]) -> Vec<u8> {
    [AAD_TAG, header].concat()
}

fn aead(material: &KeyMaterial) -> Result<Aes256Gcm, HsmError> {
    match material {
        KeyMaterial::Aes256(key) => Ok(Aes256Gcm::new(key.as_ref().into())),
        _ => Err(HsmError::Crypto),
    }
}

/// `bin` + uniformly random digits + Luhn check digit, `length` digits in all.
fn random_pan(bin: &str, length: u8) -> Result<Pan, HsmError> {
    if !(6..=8).contains(&bin.len()) || !bin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HsmError::invalid("bin must be 6 to 8 digits"));
    }
    if !(16..=19).contains(&length) {
        return Err(HsmError::invalid("length must be 16 to 19"));
    }
    let length = usize::from(length);
    // Full capacity up front: a reallocation would leave a clear copy behind unzeroized.
    let mut digits = Zeroizing::new(String::with_capacity(length));
    digits.push_str(bin);
    while digits.len() < length - 1 {
        digits.push(char::from(b'0' + OsRng.gen_range(0..10u8)));
    }
    let check = domain::luhn::check_digit(digits.as_bytes()).ok_or(HsmError::Crypto)?;
    digits.push(char::from(check));
    Pan::from_owned(digits)
}

/// Turns decrypted bytes into a `Pan` without leaving unzeroized copies.
fn digits_to_pan(mut clear: Zeroizing<Vec<u8>>) -> Result<Pan, HsmError> {
    if !clear.iter().all(u8::is_ascii_digit) {
        return Err(HsmError::Crypto);
    }
    let text = String::from_utf8(std::mem::take(&mut *clear)).map_err(|e| {
        e.into_bytes().zeroize();
        HsmError::Crypto
    })?;
    Pan::from_owned(Zeroizing::new(text)).map_err(|_| HsmError::Crypto)
}
