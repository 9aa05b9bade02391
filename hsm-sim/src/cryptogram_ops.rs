//! Cryptogram verbs: issuer master key rotation, LUK batches and cryptogram verification
//! (`docs/CRYPTOGRAM.md`). The IMK and every key derived from it (TMK, LUK) stay in this
//! module's zeroizing buffers; callers get sealed batches and yes/no answers.

use emv::cryptogram::{self, offsets, EntryMode, KeyIndex, CRYPTOGRAM_LEN, INPUT_LEN};
use emv::luk_batch::{self, BatchError, EncryptedBatch, LukEntry, MAX_ENTRIES};
use subtle::ConstantTimeEq;

use crate::engine::{now, Engine, Rotating};
use crate::error::HsmError;
use crate::kdf;
use crate::keyblock::{KeyAlgorithm, KeyHeader, KeyUsage};
use crate::labels::{ISSUER_MASTER_KEY, MAX_ISSUER_KEY_VERSION};
use crate::material::KeyMaterial;
use crate::pan::Pan;
use crate::verbs::{IssuerKeyInfo, LukSpec};

impl Engine {
    /// Makes, persists and returns the next IMK version.
    pub(crate) fn generate_issuer_key(&self) -> Result<IssuerKeyInfo, HsmError> {
        let mut rotating = self.rotating_write();
        let newest = rotating
            .keys
            .get(ISSUER_MASTER_KEY)
            .and_then(|versions| versions.keys().next_back().copied())
            .unwrap_or(0);
        if newest >= MAX_ISSUER_KEY_VERSION {
            return Err(HsmError::invalid(
                "issuer master key versions are exhausted (the IAD carries the version in one byte)",
            ));
        }
        let header = KeyHeader {
            label: ISSUER_MASTER_KEY.into(),
            usage: KeyUsage::CryptogramMaster,
            algorithm: KeyAlgorithm::HmacSha256,
            version: newest + 1,
            created_at: now(),
        };
        let material = KeyMaterial::generate(KeyAlgorithm::HmacSha256);
        let info = info(&header, &material)?;
        self.add_rotating_key(&mut rotating, header, material)?;
        tracing::info!(version = info.version, kcv = %info.kcv, "generated an issuer master key");
        Ok(info)
    }

    /// Every IMK version, oldest first.
    pub(crate) fn issuer_key_versions(&self) -> Result<Vec<IssuerKeyInfo>, HsmError> {
        let rotating = self.rotating_read();
        rotating
            .keys
            .get(ISSUER_MASTER_KEY)
            .into_iter()
            .flat_map(|versions| versions.values())
            .map(|key| info(&key.header, &key.material))
            .collect()
    }

    pub(crate) fn derive_luk_batch(
        &self,
        imk_version: u32,
        token_pan: &Pan,
        token_ref: &str,
        device_public_key: &[u8],
        specs: &[LukSpec],
    ) -> Result<EncryptedBatch, HsmError> {
        if !(1..=MAX_ENTRIES).contains(&specs.len()) {
            return Err(HsmError::invalid(format!("a LUK batch holds 1 to {MAX_ENTRIES} LUKs")));
        }
        for (i, spec) in specs.iter().enumerate() {
            if spec.max_uses == 0 {
                return Err(HsmError::invalid("max_uses must be at least 1"));
            }
            if specs[..i].iter().any(|other| other.key_index == spec.key_index) {
                return Err(HsmError::invalid("key indexes in a LUK batch must be distinct"));
            }
        }
        let rotating = self.rotating_read();
        let imk = issuer_key(&rotating, imk_version)?;
        let tmk = kdf::tmk(imk, token_pan)?;
        let entries = specs
            .iter()
            .map(|spec| {
                let key_index = KeyIndex(spec.key_index);
                Ok(LukEntry {
                    key_index,
                    luk: kdf::luk(&tmk, &key_index)?,
                    expires_at_s: spec.expires_at_s,
                    max_uses: spec.max_uses,
                })
            })
            .collect::<Result<Vec<_>, HsmError>>()?;
        luk_batch::seal(device_public_key, token_ref, &entries).map_err(|e| match e {
            BatchError::InvalidDevicePublicKey
            | BatchError::InvalidTokenRef
            | BatchError::InvalidEntryCount => HsmError::invalid(e.to_string()),
            BatchError::Random | BatchError::Open => HsmError::Crypto,
        })
    }

    /// `Ok(false)` for a cryptogram that does not verify; errors only for malformed
    /// requests and unknown keys.
    pub(crate) fn verify_cryptogram(
        &self,
        imk_version: u32,
        token_pan: &Pan,
        key_index: [u8; 6],
        input: &[u8],
        cryptogram: &[u8; CRYPTOGRAM_LEN],
    ) -> Result<bool, HsmError> {
        let input: &[u8; INPUT_LEN] = input
            .try_into()
            .map_err(|_| HsmError::invalid(format!("input must be {INPUT_LEN} bytes")))?;
        if input[offsets::VERSION] != cryptogram::INPUT_VERSION {
            return Err(HsmError::invalid("input has an unknown layout version"));
        }
        if EntryMode::try_from(input[offsets::ENTRY_MODE]).is_err() {
            return Err(HsmError::invalid("input has an unknown entry mode"));
        }
        // The MAC must be checked with the key of the token and key index the input claims;
        // a caller passing others is a bug, not a wrong cryptogram.
        let pan_bcd = cryptogram::token_pan_bcd(token_pan.expose_digits())
            .map_err(|_| HsmError::invalid("token_pan cannot be encoded"))?;
        let pan_matches: bool = input[offsets::TOKEN_PAN].ct_eq(&pan_bcd).into();
        if !pan_matches || input[offsets::KEY_INDEX] != key_index {
            return Err(HsmError::invalid(
                "input does not carry the token_pan and key_index of the request",
            ));
        }
        let rotating = self.rotating_read();
        let imk = issuer_key(&rotating, imk_version)?;
        let luk = kdf::luk_from_imk(imk, token_pan, &KeyIndex(key_index))?;
        Ok(cryptogram::verify(&luk, input, cryptogram))
    }
}

/// IMK `version`, checked to be a cryptogram master key.
fn issuer_key(rotating: &Rotating, version: u32) -> Result<&[u8; 32], HsmError> {
    let key = rotating
        .keys
        .get(ISSUER_MASTER_KEY)
        .and_then(|versions| versions.get(&version))
        .ok_or_else(|| HsmError::KeyNotFound(format!("{ISSUER_MASTER_KEY} v{version}")))?;
    let refused =
        || HsmError::UsageNotPermitted { label: ISSUER_MASTER_KEY.into(), usage: key.header.usage };
    if key.header.usage != KeyUsage::CryptogramMaster {
        return Err(refused());
    }
    match &key.material {
        KeyMaterial::HmacSha256(secret) => Ok(secret),
        _ => Err(refused()),
    }
}

fn info(header: &KeyHeader, material: &KeyMaterial) -> Result<IssuerKeyInfo, HsmError> {
    let KeyMaterial::HmacSha256(secret) = material else {
        return Err(HsmError::Crypto);
    };
    Ok(IssuerKeyInfo {
        version: header.version,
        kcv: kdf::hmac_kcv(secret)?,
        created_at: header.created_at,
    })
}
