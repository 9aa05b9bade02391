//! Terminal secret verbs (`docs/TERMINAL-API.md`): make a terminal's request-signing secret
//! and verify request MACs with it. The server stores only the wrapped secret; the clear
//! secret leaves the HSM once, in the `GenerateTerminalSecret` answer, for the operator to
//! load into the terminal.
//!
//! Wrapped secret layout (opaque to callers, versioned for key rotation), 65 bytes:
//! `0x01 (format) ‖ key_version (u32 BE) ‖ nonce (12) ‖ AES-256-GCM(secret) (32) ‖ tag (16)`
//! under the `terminal-key-wrap` key of that version, with
//! `AAD = "forecourt:terminal:v1" ‖ terminal_ref`: a secret wrapped for one terminal does not
//! unwrap for another, so one terminal's record cannot lend its secret to another. The
//! format byte is checked and the key version picks the key, so altering either fails too.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use emv::terminal_auth::{self, MAC_LEN, SECRET_LEN};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::engine::Engine;
use crate::error::HsmError;
use crate::keyblock::KeyUsage;
use crate::labels::TERMINAL_KEY_WRAP;
use crate::material::KeyMaterial;
use crate::verbs::TerminalSecret;

const FORMAT: u8 = 1;
const AAD_TAG: &[u8] = b"forecourt:terminal:v1";
const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Length of a wrapped terminal secret.
pub(crate) const WRAPPED_LEN: usize = HEADER_LEN + NONCE_LEN + SECRET_LEN + TAG_LEN;
/// Longest terminal reference.
pub(crate) const MAX_TERMINAL_REF_LEN: usize = 128;

impl Engine {
    /// A fresh random secret for `terminal_ref`, in clear and wrapped.
    pub(crate) fn generate_terminal_secret(
        &self,
        terminal_ref: &str,
    ) -> Result<(TerminalSecret, Vec<u8>), HsmError> {
        if !valid_terminal_ref(terminal_ref) {
            return Err(HsmError::invalid(format!(
                "terminal_ref must be 1 to {MAX_TERMINAL_REF_LEN} printable ASCII characters"
            )));
        }
        let key = self.key(TERMINAL_KEY_WRAP, None, |u| u == KeyUsage::TerminalKeyWrap)?;
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        OsRng.fill_bytes(secret.as_mut());
        let mut wrapped = Vec::with_capacity(WRAPPED_LEN);
        wrapped.push(FORMAT);
        wrapped.extend_from_slice(&key.header.version.to_be_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        wrapped.extend_from_slice(&nonce);
        let ct = aead(&key.material)?
            .encrypt(
                &Nonce::from(nonce),
                Payload { msg: secret.as_slice(), aad: &aad(terminal_ref) },
            )
            .map_err(|_| HsmError::Crypto)?;
        wrapped.extend_from_slice(&ct);
        tracing::info!(terminal_ref, key_version = key.header.version, "made a terminal secret");
        Ok((TerminalSecret::new(secret), wrapped))
    }

    /// `Ok(false)` for anything that does not verify, including a `wrapped` that does not
    /// unwrap for `terminal_ref`; errors only if the key-wrap key itself is unusable.
    pub(crate) fn verify_terminal_mac(
        &self,
        terminal_ref: &str,
        wrapped: &[u8],
        message: &[u8],
        mac: &[u8; MAC_LEN],
    ) -> Result<bool, HsmError> {
        Ok(match self.unwrap_terminal_secret(terminal_ref, wrapped)? {
            Some(secret) => terminal_auth::verify(&secret, message, mac),
            None => false,
        })
    }

    /// The clear secret, or `None` if `wrapped` was not made for `terminal_ref` by this HSM
    /// (malformed, altered, another terminal, a key version this HSM does not hold).
    fn unwrap_terminal_secret(
        &self,
        terminal_ref: &str,
        wrapped: &[u8],
    ) -> Result<Option<Zeroizing<[u8; SECRET_LEN]>>, HsmError> {
        // A reference generate would refuse can have no secret bound to it.
        if !valid_terminal_ref(terminal_ref) || wrapped.len() != WRAPPED_LEN || wrapped[0] != FORMAT
        {
            return Ok(None);
        }
        let (header, rest) = wrapped.split_at(HEADER_LEN);
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| HsmError::Crypto)?;
        let version = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let key =
            match self.key(TERMINAL_KEY_WRAP, Some(version), |u| u == KeyUsage::TerminalKeyWrap) {
                Ok(key) => key,
                Err(HsmError::KeyNotFound(_)) => {
                    tracing::warn!(
                        terminal_ref,
                        version,
                        "wrapped terminal secret names a key version this HSM does not hold"
                    );
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
        let Ok(clear) = aead(&key.material)?
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: &aad(terminal_ref) })
            .map(Zeroizing::new)
        else {
            return Ok(None);
        };
        if clear.len() != SECRET_LEN {
            return Ok(None);
        }
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        secret.copy_from_slice(&clear);
        Ok(Some(secret))
    }
}

/// 1 to [`MAX_TERMINAL_REF_LEN`] printable ASCII characters, no space.
fn valid_terminal_ref(terminal_ref: &str) -> bool {
    (1..=MAX_TERMINAL_REF_LEN).contains(&terminal_ref.len())
        && terminal_ref.bytes().all(|b| b.is_ascii_graphic())
}

fn aad(terminal_ref: &str) -> Vec<u8> {
    [AAD_TAG, terminal_ref.as_bytes()].concat()
}

fn aead(material: &KeyMaterial) -> Result<Aes256Gcm, HsmError> {
    match material {
        KeyMaterial::Aes256(key) => Ok(Aes256Gcm::new(key.as_ref().into())),
        _ => Err(HsmError::Crypto),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_constants() {
        assert_eq!(WRAPPED_LEN, 65);
        assert_eq!(aad("t-1"), b"forecourt:terminal:v1t-1");
    }

    #[test]
    fn terminal_refs() {
        assert!(valid_terminal_ref("01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0e"));
        assert!(valid_terminal_ref("x"));
        assert!(valid_terminal_ref(&"~".repeat(MAX_TERMINAL_REF_LEN)));
        for bad in ["", " ", "a b", "a\n", "é", &"a".repeat(MAX_TERMINAL_REF_LEN + 1)] {
            assert!(!valid_terminal_ref(bad), "{bad:?}");
        }
    }
}
