//! Typed helpers for the cryptogram and terminal verbs, on whatever transport the
//! [`HsmClient`] uses.

use emv::cryptogram::{KeyIndex, CRYPTOGRAM_LEN, INPUT_LEN};
use emv::luk_batch::EncryptedBatch;
use emv::terminal_auth::{MAC_LEN, SECRET_LEN};
use zeroize::Zeroizing;

use crate::client::HsmClient;
use crate::error::HsmError;
use crate::pan::Pan;
use crate::verbs::{IssuerKeyInfo, LukSpec, Request, Response};

impl HsmClient {
    /// Makes and persists the next issuer master key version; new tokens should use it.
    pub async fn generate_issuer_key(&self) -> Result<IssuerKeyInfo, HsmError> {
        match self.call(Request::GenerateIssuerKey).await? {
            Response::IssuerKey(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Every issuer master key version, newest last.
    pub async fn issuer_key_versions(&self) -> Result<Vec<IssuerKeyInfo>, HsmError> {
        match self.call(Request::IssuerKeyVersions).await? {
            Response::IssuerKeyVersions { versions } => Ok(versions),
            other => Err(unexpected(&other)),
        }
    }

    /// Derives the LUKs `luks` of `token_pan` under IMK `imk_version`, sealed to the device
    /// key `device_public_key` (65-byte SEC1) for the token `token_ref`.
    pub async fn derive_luk_batch(
        &self,
        imk_version: u32,
        token_pan: &Pan,
        token_ref: &str,
        device_public_key: &[u8],
        luks: &[LukSpec],
    ) -> Result<EncryptedBatch, HsmError> {
        let request = Request::DeriveLukBatch {
            imk_version,
            token_pan: token_pan.clone(),
            token_ref: token_ref.into(),
            device_public_key: device_public_key.to_vec(),
            luks: luks.to_vec(),
        };
        match self.call(request).await? {
            Response::LukBatch(batch) => Ok(batch),
            other => Err(unexpected(&other)),
        }
    }

    /// Whether `cryptogram` is the one LUK `key_index` of `token_pan` (under IMK
    /// `imk_version`) makes over `input`. `Ok(false)` is a wrong cryptogram.
    pub async fn verify_cryptogram(
        &self,
        imk_version: u32,
        token_pan: &Pan,
        key_index: KeyIndex,
        input: &[u8; INPUT_LEN],
        cryptogram: &[u8; CRYPTOGRAM_LEN],
    ) -> Result<bool, HsmError> {
        let request = Request::VerifyCryptogram {
            imk_version,
            token_pan: token_pan.clone(),
            key_index: key_index.0,
            input: input.to_vec(),
            cryptogram: *cryptogram,
        };
        match self.call(request).await? {
            Response::CryptogramVerified { valid } => Ok(valid),
            other => Err(unexpected(&other)),
        }
    }

    /// A new request-signing secret for the terminal `terminal_ref` (1 to 128 printable
    /// ASCII characters): the clear secret, to show **once** to the operator who loads it
    /// into the terminal, and the wrapped form (65 bytes, bound to `terminal_ref`), the only
    /// one to store.
    pub async fn generate_terminal_secret(
        &self,
        terminal_ref: &str,
    ) -> Result<(Zeroizing<[u8; SECRET_LEN]>, Vec<u8>), HsmError> {
        let request = Request::GenerateTerminalSecret { terminal_ref: terminal_ref.into() };
        match self.call(request).await? {
            Response::TerminalSecret { secret, wrapped } => Ok((secret.into_inner(), wrapped)),
            other => Err(unexpected(&other)),
        }
    }

    /// Whether `mac` is HMAC-SHA256(secret, `message`) for the secret `wrapped` holds, the
    /// HSM unwrapping it for `terminal_ref`. `Ok(false)` for a wrong MAC or message and for a
    /// wrapped secret that is altered or belongs to another terminal: refuse the request.
    pub async fn verify_terminal_mac(
        &self,
        terminal_ref: &str,
        wrapped: &[u8],
        message: &[u8],
        mac: &[u8; MAC_LEN],
    ) -> Result<bool, HsmError> {
        let request = Request::VerifyTerminalMac {
            terminal_ref: terminal_ref.into(),
            wrapped: wrapped.to_vec(),
            message: message.to_vec(),
            mac: *mac,
        };
        match self.call(request).await? {
            Response::TerminalMacVerified { valid } => Ok(valid),
            other => Err(unexpected(&other)),
        }
    }
}

/// A response of the wrong kind means a broken transport, not a refused request.
fn unexpected(response: &Response) -> HsmError {
    HsmError::Unavailable(format!("HSM answered with an unexpected `{}` response", response.verb()))
}
