//! Typed helpers for the cryptogram verbs, on whatever transport the [`HsmClient`] uses.

use emv::cryptogram::{KeyIndex, CRYPTOGRAM_LEN, INPUT_LEN};
use emv::luk_batch::EncryptedBatch;

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
}

/// A response of the wrong kind means a broken transport, not a refused request.
fn unexpected(response: &Response) -> HsmError {
    HsmError::Unavailable(format!("HSM answered with an unexpected `{}` response", response.verb()))
}
