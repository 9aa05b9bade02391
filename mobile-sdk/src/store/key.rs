//! The device key held in software, for the stores in this crate. A phone keeps it in
//! secure hardware instead (see the module doc of [`store`](super)).

use std::fmt;

use emv::luk_batch::{self, EncryptedBatch, LukEntry};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::SecretKey;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use super::{PublicKeySec1, SignatureBytes, StoreError};
use crate::secret::SecretBytes;

/// A P-256 private key. `SecretKey` wipes its scalar on drop; `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct SoftwareKey(SecretKey);

impl SoftwareKey {
    /// A uniformly random key (rejection sampling; a retry has probability about 2⁻³²).
    pub(crate) fn generate() -> Result<SoftwareKey, StoreError> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            OsRng.try_fill_bytes(bytes.as_mut()).map_err(|_| StoreError::Random)?;
            if let Ok(key) = SecretKey::from_slice(bytes.as_ref()) {
                return Ok(SoftwareKey(key));
            }
        }
    }

    pub(crate) fn public_sec1(&self) -> PublicKeySec1 {
        let point = self.0.public_key().to_encoded_point(false);
        let mut out = [0u8; 65];
        out.copy_from_slice(point.as_bytes());
        out
    }

    pub(crate) fn sign(&self, message: &[u8]) -> SignatureBytes {
        let signature: Signature = SigningKey::from(&self.0).sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(&signature.to_bytes());
        out
    }

    pub(crate) fn open_batch(
        &self,
        token_ref: &str,
        batch: &EncryptedBatch,
    ) -> Result<Vec<LukEntry>, StoreError> {
        luk_batch::open(&self.0, token_ref, batch).map_err(|_| StoreError::Batch)
    }

    fn to_secret(&self) -> SecretBytes<32> {
        let mut field = self.0.to_bytes();
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&field);
        let slice: &mut [u8] = &mut field;
        slice.zeroize();
        SecretBytes::new(out)
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoftwareKey(public {}…)", hex::encode(&self.public_sec1()[1..5]))
    }
}

impl Serialize for SoftwareKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_secret().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SoftwareKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SoftwareKey, D::Error> {
        let secret = SecretBytes::<32>::deserialize(d)?;
        SecretKey::from_slice(secret.expose())
            .map(SoftwareKey)
            .map_err(|_| serde::de::Error::custom("device key is not a P-256 scalar"))
    }
}
