//! Provisioning a payment token on a phone, and replenishing its limited-use keys.

use crate::views::{LukView, ProvisionedView, TokenView};
use crate::{now_us, Tokens};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use domain::atc::AtcWindow;
use domain::{CardId, CardStatus, DeviceId, FieldError, Role, TokenId};
use emv::cryptogram::KeyIndex;
use hsm_sim::{LukSpec, Pan};
use issuing::{EventExt, IssuingError, Principal, Result};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::Deserialize;
use store::{
    DeviceRecord, DeviceStatus, Effects, LukRecord, Store, StoreError, TokenRecord, TokenStatus,
};

const REPLENISH_DOMAIN: &[u8] = b"forecourt/replenish/v1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    pub device_id: DeviceId,
}

/// How many cryptograms the phone made with one LUK.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    /// 6-byte key index, hex.
    pub key_index: String,
    pub used: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replenish {
    pub issued_at_ms: i64,
    pub reports: Vec<UsageReport>,
    /// ECDSA P-256/SHA-256 by the device key, `r || s` base64url, over
    /// [`replenish_message`].
    pub signature: String,
}

/// The bytes a phone signs to replenish: domain ‖ token id ‖ issued_at_ms (i64 BE) ‖ for
/// each report in key-index order: key index (6) ‖ used (u16 BE).
pub fn replenish_message(token: TokenId, issued_at_ms: i64, reports: &[([u8; 6], u16)]) -> Vec<u8> {
    let mut sorted = reports.to_vec();
    sorted.sort();
    let mut msg =
        [REPLENISH_DOMAIN, token.to_string().as_bytes(), &issued_at_ms.to_be_bytes()].concat();
    for (key_index, used) in sorted {
        msg.extend_from_slice(&key_index);
        msg.extend_from_slice(&used.to_be_bytes());
    }
    msg
}

impl<S: Store> Tokens<S> {
    /// Creates a token for the caller's card on the caller's phone, with a first LUK batch.
    pub async fn provision(
        &self,
        who: &Principal,
        card_id: CardId,
        req: &Provision,
    ) -> Result<ProvisionedView> {
        who.require(&[Role::Driver], "tokens are provisioned from the driver's phone")?;
        let card = self.issuing.visible_card(who, card_id).await?;
        if card.driver_id != Some(who.user_id) {
            return Err(IssuingError::NotFound("card"));
        }
        if card.status != CardStatus::Active {
            return Err(IssuingError::conflict(
                "CARD_NOT_ACTIVE",
                "tokens are provisioned for active cards only",
            ));
        }
        let device = self.own_active_device(who, req.device_id, "device_id").await?;
        let existing = self.store().list_card_tokens(card.org_id, card.id).await?;
        if existing.iter().any(|t| t.device_id == device.id && t.status != TokenStatus::Deleted) {
            return Err(IssuingError::conflict(
                "TOKEN_EXISTS",
                "this phone already holds a token for the card; replenish it",
            ));
        }
        let issued =
            self.hsm.generate_pan(&self.config.token_bin, self.config.token_pan_length).await?;
        let pan = self.hsm.decrypt_pan(&issued.ciphertext).await?;
        let imk_version = self.current_imk_version().await?;
        let now = now_us();
        let mut token = TokenRecord {
            id: TokenId::new(),
            org_id: card.org_id,
            card_id: card.id,
            device_id: device.id,
            token_pan_ciphertext: issued.ciphertext,
            token_pan_fingerprint: issued.fingerprint.to_vec(),
            token_last4: issued.last4,
            expiry: issuing::expiry_month(now, self.config.token_validity_months),
            status: TokenStatus::Active,
            imk_version,
            atc: AtcWindow::default(),
            next_luk_seq: 0,
            created_us: now,
            updated_us: now,
            version: 1,
        };
        let (luks, batch) = self.new_batch(&mut token, &pan, &device, now).await?;
        let view = TokenView::from(&token);
        let event = issuing::audit_event(
            who,
            Some(card.org_id),
            "token",
            token.id.0,
            "token.provisioned",
            now,
        )
        .card(card.id)
        .after(&view);
        self.store().create_token(&token, &luks, Effects::audit(vec![event])).await?;
        Ok(ProvisionedView {
            token: view,
            token_pan: pan.expose_digits().to_owned(),
            luks: luks.iter().map(LukView::from).collect(),
            batch,
        })
    }

    /// A new LUK batch for a token, if the phone's signed usage report agrees with what the
    /// server saw. A phone reporting fewer uses than the server recorded is a clone.
    pub async fn replenish(
        &self,
        who: &Principal,
        id: TokenId,
        req: &Replenish,
    ) -> Result<ProvisionedView> {
        let org = who.org().map_err(|_| IssuingError::NotFound("token"))?;
        let mut token = match self.store().get_token(org, id).await {
            Ok(t) => t,
            Err(StoreError::NotFound) => return Err(IssuingError::NotFound("token")),
            Err(e) => return Err(e.into()),
        };
        let device = self
            .own_active_device(who, token.device_id, "token")
            .await
            .map_err(|_| IssuingError::NotFound("token"))?;
        if token.status != TokenStatus::Active {
            return Err(IssuingError::conflict("TOKEN_NOT_ACTIVE", "the token is not active"));
        }
        let reports = parse_reports(&req.reports)?;
        verify_device_signature(
            &device,
            &replenish_message(id, req.issued_at_ms, &reports),
            &req.signature,
        )?;
        let age_ms = now_us() / 1_000 - req.issued_at_ms;
        if !(-30_000..=self.config.replenish_max_age_secs * 1_000).contains(&age_ms) {
            return Err(FieldError::out_of_range(
                "issued_at_ms",
                "the request is too old or from the future",
            )
            .into());
        }
        let known = self.store().list_luks(id).await?;
        check_usage(&known, &reports)?;
        let pan = self.hsm.decrypt_pan(&token.token_pan_ciphertext).await?;
        let now = now_us();
        token.updated_us = now;
        let (luks, batch) = self.new_batch(&mut token, &pan, &device, now).await?;
        let event = issuing::audit_event(who, Some(org), "token", id.0, "token.replenished", now)
            .card(token.card_id);
        self.store().add_luks(&token, &luks, Effects::audit(vec![event])).await?;
        token.version += 1;
        Ok(ProvisionedView {
            token: TokenView::from(&token),
            token_pan: pan.expose_digits().to_owned(),
            luks: luks.iter().map(LukView::from).collect(),
            batch,
        })
    }

    pub async fn card_tokens(&self, who: &Principal, card_id: CardId) -> Result<Vec<TokenView>> {
        let card = self.issuing.visible_card(who, card_id).await?;
        let mut tokens = self.store().list_card_tokens(card.org_id, card.id).await?;
        if who.role == Role::Driver {
            // A re-bound card keeps the previous driver's tokens; a driver sees their own.
            let devices = self.store().list_devices(card.org_id, who.user_id).await?;
            tokens.retain(|t| devices.iter().any(|d| d.id == t.device_id));
        }
        Ok(tokens.iter().map(TokenView::from).collect())
    }

    async fn own_active_device(
        &self,
        who: &Principal,
        id: DeviceId,
        field: &str,
    ) -> Result<DeviceRecord> {
        let found = self.store().get_device(who.org()?, id).await;
        match found {
            Ok(d) if d.user_id == who.user_id && d.status == DeviceStatus::Active => Ok(d),
            Ok(_) | Err(StoreError::NotFound) => {
                Err(FieldError::new(field, "NOT_FOUND", "no such active device of yours").into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn current_imk_version(&self) -> Result<u32> {
        let versions = self.hsm.issuer_key_versions().await?;
        versions
            .last()
            .map(|v| v.version)
            .ok_or_else(|| IssuingError::Internal("the HSM has no issuer master key".into()))
    }

    /// Reserves the next key indexes on `token` and asks the HSM for their batch.
    async fn new_batch(
        &self,
        token: &mut TokenRecord,
        pan: &Pan,
        device: &DeviceRecord,
        now_us: i64,
    ) -> Result<(Vec<LukRecord>, emv::luk_batch::EncryptedBatch)> {
        let now_s = now_us / 1_000_000;
        let issued_at =
            u32::try_from(now_s).map_err(|_| IssuingError::Internal("clock past 2106".into()))?;
        let expires_s = now_s + self.config.luk_ttl_secs;
        let first = token.next_luk_seq;
        let last = first.checked_add(self.config.luk_batch_size).ok_or_else(|| {
            IssuingError::conflict(
                "TOKEN_EXHAUSTED",
                "the token has used all its key indexes; provision a new one",
            )
        })?;
        let luks: Vec<LukRecord> = (first..last)
            .map(|seq| LukRecord {
                token_id: token.id,
                org_id: token.org_id,
                key_index: KeyIndex::new(issued_at, seq).0,
                issued_us: now_us,
                expires_s,
                max_uses: i64::from(self.config.luk_max_uses),
                used_count: 0,
            })
            .collect();
        let specs: Vec<LukSpec> = luks
            .iter()
            .map(|l| LukSpec {
                key_index: l.key_index,
                expires_at_s: expires_s.unsigned_abs(),
                max_uses: self.config.luk_max_uses,
            })
            .collect();
        let batch = self
            .hsm
            .derive_luk_batch(
                token.imk_version,
                pan,
                &token.id.to_string(),
                &device.public_key,
                &specs,
            )
            .await?;
        token.next_luk_seq = last;
        Ok((luks, batch))
    }
}

fn parse_reports(reports: &[UsageReport]) -> Result<Vec<([u8; 6], u16)>> {
    reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let key_index = hex::decode(&r.key_index)
                .ok()
                .and_then(|b| <[u8; 6]>::try_from(b).ok())
                .ok_or_else(|| {
                    FieldError::invalid(format!("reports[{i}].key_index"), "must be 12 hex digits")
                })?;
            Ok((key_index, r.used))
        })
        .collect()
}

fn verify_device_signature(device: &DeviceRecord, message: &[u8], signature: &str) -> Result<()> {
    let refused =
        || FieldError::new("signature", "INVALID_SIGNATURE", "does not verify with the device key");
    let key = VerifyingKey::from_sec1_bytes(&device.public_key)
        .map_err(|_| IssuingError::Internal("stored device key".into()))?;
    let bytes = B64.decode(signature).map_err(|_| refused())?;
    let sig = Signature::from_slice(&bytes).map_err(|_| refused())?;
    key.verify(message, &sig).map_err(|_| refused().into())
}

/// The report must name only this token's LUKs, never claim more uses than a LUK allows, and
/// never fewer than the server has seen (that would mean another phone used the keys).
fn check_usage(known: &[LukRecord], reports: &[([u8; 6], u16)]) -> Result<()> {
    let mismatch = |why: &str| {
        IssuingError::conflict(
            "USAGE_REPORT_MISMATCH",
            format!("the usage report does not match our record: {why}"),
        )
    };
    for (key_index, used) in reports {
        let luk = known
            .iter()
            .find(|l| l.key_index == *key_index)
            .ok_or_else(|| mismatch("unknown key index"))?;
        if i64::from(*used) > luk.max_uses {
            return Err(mismatch("more uses than the key allows"));
        }
    }
    for luk in known.iter().filter(|l| l.used_count > 0) {
        let reported =
            reports.iter().find(|(k, _)| *k == luk.key_index).map_or(0, |(_, u)| i64::from(*u));
        if reported < luk.used_count {
            return Err(mismatch("fewer uses reported than we saw"));
        }
    }
    Ok(())
}
