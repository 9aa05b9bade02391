//! Enrolling a phone: the driver's app makes a P-256 key pair (in a real phone: Android
//! Keystore / Secure Enclave) and proves it holds the private key by signing a one-time
//! server challenge.

use crate::views::{ChallengeView, DeviceView};
use crate::{now_us, Tokens};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use domain::{DeviceId, FieldError, Role, UserId};
use issuing::{Created, EventExt, IdempotencyKey, IssuingError, Principal, Result};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::{ChallengeRecord, DeviceRecord, DeviceStatus, Effects, Store, StoreError};

const CHALLENGE_BYTES: usize = 32;
const ENROL_DOMAIN: &[u8] = b"forecourt/enrol/v1";
pub const MAX_DEVICE_LABEL_CHARS: usize = 60;

/// A challenge to sign (the body of `POST /v1/devices/challenge` is empty).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChallenge {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrol {
    /// SEC1 uncompressed P-256 public key, base64url.
    pub public_key: String,
    /// The challenge as received, base64url.
    pub challenge: String,
    /// ECDSA P-256/SHA-256 `r || s`, base64url, over `"forecourt/enrol/v1" || challenge ||
    /// public_key` (raw bytes).
    pub signature: String,
    pub label: String,
}

/// The bytes a phone signs to enrol.
pub fn enrol_message(challenge: &[u8], public_key: &[u8]) -> Vec<u8> {
    [ENROL_DOMAIN, challenge, public_key].concat()
}

fn b64_field(field: &str, value: &str) -> Result<Vec<u8>, FieldError> {
    B64.decode(value).map_err(|_| FieldError::invalid(field, "must be base64url without padding"))
}

fn hash_challenge(challenge: &[u8]) -> String {
    hex::encode(Sha256::digest(challenge))
}

impl<S: Store> Tokens<S> {
    pub async fn new_challenge(&self, who: &Principal) -> Result<ChallengeView> {
        who.require(&[Role::Driver], "only drivers enrol phones")?;
        let mut challenge = [0u8; CHALLENGE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut challenge);
        let expires_us = now_us() + self.config.challenge_ttl_secs * 1_000_000;
        let record = ChallengeRecord {
            challenge_hash: hash_challenge(&challenge),
            org_id: who.org()?,
            user_id: who.user_id,
            expires_us,
            used_us: None,
        };
        self.store().create_challenge(&record).await?;
        Ok(ChallengeView {
            challenge: B64.encode(challenge),
            expires_at: issuing::views::rfc3339(expires_us),
        })
    }

    /// Enrols the caller's phone after checking its proof of possession.
    pub async fn enrol(
        &self,
        who: &Principal,
        req: &Enrol,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<DeviceView>> {
        who.require(&[Role::Driver], "only drivers enrol phones")?;
        let public_key = b64_field("public_key", &req.public_key)?;
        let verifying = VerifyingKey::from_sec1_bytes(&public_key)
            .ok()
            .filter(|_| public_key.len() == 65)
            .ok_or_else(|| {
                FieldError::invalid("public_key", "must be an uncompressed P-256 point (65 bytes)")
            })?;
        let challenge = b64_field("challenge", &req.challenge)?;
        let signature = Signature::from_slice(&b64_field("signature", &req.signature)?)
            .map_err(|_| FieldError::invalid("signature", "must be 64 bytes r || s"))?;
        let label = domain::validate::text("label", &req.label, MAX_DEVICE_LABEL_CHARS)?;
        if verifying.verify(&enrol_message(&challenge, &public_key), &signature).is_err() {
            return Err(FieldError::new(
                "signature",
                "INVALID_SIGNATURE",
                "does not verify with public_key",
            )
            .into());
        }
        // Only now spend the challenge, so a malformed request does not burn it.
        if !self
            .store()
            .consume_challenge(&hash_challenge(&challenge), who.user_id, now_us())
            .await?
        {
            return Err(FieldError::new(
                "challenge",
                "INVALID_CHALLENGE",
                "unknown, used or expired",
            )
            .into());
        }
        let now = now_us();
        let device = DeviceRecord {
            id: DeviceId::new(),
            org_id: who.org()?,
            user_id: who.user_id,
            public_key,
            label,
            status: DeviceStatus::Active,
            created_us: now,
            revoked_us: None,
            version: 1,
        };
        let view = DeviceView::from(&device);
        let event = issuing::audit_event(
            who,
            Some(device.org_id),
            "device",
            device.id.0,
            "device.enrolled",
            now,
        )
        .after(&view);
        let fx = Effects::audit(vec![event])
            .with_idempotency(issuing::idempotency_record(who, key, &view)?);
        let result = self.store().create_device(&device, fx).await.map(|()| view);
        issuing::settle_idempotent(self.store(), who, key, result).await
    }

    /// The caller's devices (drivers), or a driver's devices (owners and admins in scope).
    pub async fn list_devices(
        &self,
        who: &Principal,
        driver: Option<UserId>,
    ) -> Result<Vec<DeviceView>> {
        let user = match (who.role, driver) {
            (Role::Driver, None) => who.user_id,
            (Role::Driver, Some(id)) if id == who.user_id => id,
            (Role::Owner | Role::Admin, Some(id)) => self.issuing.get_user(who, id).await?.id,
            (Role::Owner | Role::Admin, None) => {
                return Err(FieldError::invalid(
                    "driver_id",
                    "name the driver whose devices to list",
                )
                .into())
            }
            _ => {
                return Err(IssuingError::Forbidden("only drivers and their managers see devices"))
            }
        };
        let devices = self.store().list_devices(who.org()?, user).await?;
        Ok(devices.iter().map(DeviceView::from).collect())
    }

    /// Revokes a device; its tokens die with it. The driver, or an owner/admin in scope.
    pub async fn revoke_device(&self, who: &Principal, id: DeviceId) -> Result<DeviceView> {
        let org = who.org().map_err(|_| IssuingError::NotFound("device"))?;
        let mut device = match self.store().get_device(org, id).await {
            Ok(d) => d,
            Err(StoreError::NotFound) => return Err(IssuingError::NotFound("device")),
            Err(e) => return Err(e.into()),
        };
        let allowed = device.user_id == who.user_id
            || (matches!(who.role, Role::Owner | Role::Admin)
                && self.issuing.get_user(who, device.user_id).await.is_ok());
        if !allowed {
            return Err(IssuingError::NotFound("device"));
        }
        if device.status == DeviceStatus::Revoked {
            return Err(IssuingError::conflict("ALREADY_REVOKED", "the device is already revoked"));
        }
        let before = DeviceView::from(&device);
        let now = now_us();
        device.status = DeviceStatus::Revoked;
        device.revoked_us = Some(now);
        let after = DeviceView::from(&device);
        let event = issuing::audit_event(who, Some(org), "device", id.0, "device.revoked", now)
            .before(&before)
            .after(&after);
        self.store().revoke_device(&device, Effects::audit(vec![event])).await?;
        Ok(after)
    }
}
