//! Turning `AnyRow`s into records. Stored text that does not parse is `Corrupt`, not a
//! panic.

use crate::records::*;
use crate::StoreError;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::str::FromStr;

pub(super) trait RowExt {
    fn text(&self, col: &str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError>;

    fn parse<T: FromStr>(&self, col: &str) -> Result<T, StoreError> {
        let raw = self.text(col)?;
        raw.parse().map_err(|_| StoreError::Corrupt(format!("column {col} holds {raw:?}")))
    }

    fn opt_parse<T: FromStr>(&self, col: &str) -> Result<Option<T>, StoreError> {
        match self.opt_text(col)? {
            None => Ok(None),
            Some(raw) => raw
                .parse()
                .map(Some)
                .map_err(|_| StoreError::Corrupt(format!("column {col} holds {raw:?}"))),
        }
    }
}

impl RowExt for AnyRow {
    fn text(&self, col: &str) -> Result<String, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(col)?)
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.try_get(col)?)
    }
}

pub(super) const ORG_COLS: &str = "id, name, currency, time_zone, created_us, version";

pub(super) fn org(row: &impl RowExt) -> Result<OrgRecord, StoreError> {
    Ok(OrgRecord {
        id: row.parse("id")?,
        name: row.text("name")?,
        currency: row
            .parse::<String>("currency")
            .and_then(|c| domain::Currency::from_code(&c).ok_or_else(|| StoreError::Corrupt(c)))?,
        time_zone: row.text("time_zone")?,
        created_us: row.int("created_us")?,
        version: row.int("version")?,
    })
}

pub(super) const GROUP_COLS: &str =
    "id, org_id, parent_id, path, name, status, created_us, version";

pub(super) fn group(row: &impl RowExt) -> Result<GroupRecord, StoreError> {
    Ok(GroupRecord {
        id: row.parse("id")?,
        org_id: row.parse("org_id")?,
        parent_id: row.opt_parse("parent_id")?,
        path: row.text("path")?,
        name: row.text("name")?,
        status: active_status(&row.text("status")?)?,
        created_us: row.int("created_us")?,
        version: row.int("version")?,
    })
}

pub(super) const USER_COLS: &str = "u.id, u.org_id, u.email, u.name, u.role, u.group_id, \
     g.path AS group_path, u.status, u.password_hash, u.invite_hash, u.invite_expires_us, \
     u.language, u.created_us, u.version";
pub(super) const USER_FROM: &str = "users u LEFT JOIN groups g ON g.id = u.group_id";

pub(super) fn user(row: &impl RowExt) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: row.parse("id")?,
        org_id: row.opt_parse("org_id")?,
        email: row.text("email")?,
        name: row.text("name")?,
        role: row.parse("role")?,
        group_id: row.opt_parse("group_id")?,
        group_path: row.opt_text("group_path")?,
        status: user_status(&row.text("status")?)?,
        password_hash: row.opt_text("password_hash")?,
        invite_hash: row.opt_text("invite_hash")?,
        invite_expires_us: row.opt_int("invite_expires_us")?,
        language: row.parse("language")?,
        created_us: row.int("created_us")?,
        version: row.int("version")?,
    })
}

pub(super) const SESSION_COLS: &str = "id, user_id, org_id, created_us, expires_us, revoked_us";

pub(super) fn session(row: &impl RowExt) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: row.parse("id")?,
        user_id: row.parse("user_id")?,
        org_id: row.opt_parse("org_id")?,
        created_us: row.int("created_us")?,
        expires_us: row.int("expires_us")?,
        revoked_us: row.opt_int("revoked_us")?,
    })
}

pub(super) const VEHICLE_COLS: &str = "v.id, v.org_id, v.group_id, g.path AS group_path, \
     v.plate, v.products, v.tank_capacity_ml, v.status, v.created_us, v.version";
pub(super) const VEHICLE_FROM: &str = "vehicles v LEFT JOIN groups g ON g.id = v.group_id";

pub(super) fn vehicle(row: &impl RowExt) -> Result<VehicleRecord, StoreError> {
    Ok(VehicleRecord {
        id: row.parse("id")?,
        org_id: row.parse("org_id")?,
        group_id: row.opt_parse("group_id")?,
        group_path: row.opt_text("group_path")?,
        plate: row.text("plate")?,
        products: decode_products(&row.text("products")?)?,
        tank_capacity_ml: row.int("tank_capacity_ml")?,
        status: active_status(&row.text("status")?)?,
        created_us: row.int("created_us")?,
        version: row.int("version")?,
    })
}

/// Products are stored as a comma-separated list of their snake_case names.
pub(super) fn encode_products(products: &[domain::Product]) -> String {
    products.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

fn decode_products(raw: &str) -> Result<Vec<domain::Product>, StoreError> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| StoreError::Corrupt(format!("product {s:?}"))))
        .collect()
}

fn active_status(raw: &str) -> Result<ActiveStatus, StoreError> {
    match raw {
        "active" => Ok(ActiveStatus::Active),
        "deactivated" => Ok(ActiveStatus::Deactivated),
        other => Err(StoreError::Corrupt(format!("status {other:?}"))),
    }
}

pub(super) const CARD_COLS: &str = "c.id, c.org_id, c.group_id, g.path AS group_path, \
     c.pan_ciphertext, c.pan_fingerprint, c.pan_last4, c.pan_key_version, c.expiry, c.status, \
     c.status_reason, c.driver_id, c.vehicle_id, c.created_us, c.updated_us, c.version";
pub(super) const CARD_FROM: &str = "cards c LEFT JOIN groups g ON g.id = c.group_id";

pub(super) fn card(row: &impl RowExt) -> Result<CardRecord, StoreError> {
    Ok(CardRecord {
        id: row.parse("id")?,
        org_id: row.parse("org_id")?,
        group_id: row.opt_parse("group_id")?,
        group_path: row.opt_text("group_path")?,
        pan_ciphertext: row.bytes("pan_ciphertext")?,
        pan_fingerprint: row.bytes("pan_fingerprint")?,
        pan_last4: row.text("pan_last4")?,
        pan_key_version: row.int("pan_key_version")?,
        expiry: row.text("expiry")?,
        status: row.parse("status")?,
        status_reason: row.opt_text("status_reason")?,
        driver_id: row.opt_parse("driver_id")?,
        vehicle_id: row.opt_parse("vehicle_id")?,
        created_us: row.int("created_us")?,
        updated_us: row.int("updated_us")?,
        version: row.int("version")?,
    })
}

pub(super) const BINDING_COLS: &str =
    "id, org_id, card_id, driver_id, vehicle_id, bound_us, unbound_us, actor_id";

pub(super) fn binding(row: &impl RowExt) -> Result<BindingRecord, StoreError> {
    Ok(BindingRecord {
        id: row.parse("id")?,
        org_id: row.parse("org_id")?,
        card_id: row.parse("card_id")?,
        driver_id: row.opt_parse("driver_id")?,
        vehicle_id: row.opt_parse("vehicle_id")?,
        bound_us: row.int("bound_us")?,
        unbound_us: row.opt_int("unbound_us")?,
        actor_id: row.parse("actor_id")?,
    })
}

pub(super) const CONTROLS_COLS: &str = "org_id, level, subject_id, document, updated_us, version";

pub(super) fn controls(row: &impl RowExt) -> Result<ControlsRecord, StoreError> {
    Ok(ControlsRecord {
        org_id: row.parse("org_id")?,
        level: row.parse("level")?,
        subject_id: row.parse("subject_id")?,
        document: row.text("document")?,
        updated_us: row.int("updated_us")?,
        version: row.int("version")?,
    })
}

pub(super) const EVENT_COLS: &str = "id, org_id, subject_type, subject_id, card_id, action, \
     actor_id, actor_role, at_us, reason, before_doc, after_doc";

pub(super) fn event(row: &impl RowExt) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        id: row.parse("id")?,
        org_id: row.opt_parse("org_id")?,
        subject_type: subject_type(&row.text("subject_type")?)?,
        subject_id: row.parse("subject_id")?,
        card_id: row.opt_parse("card_id")?,
        action: row.text("action")?,
        actor_id: row.opt_parse("actor_id")?,
        actor_role: row.opt_parse("actor_role")?,
        at_us: row.int("at_us")?,
        reason: row.opt_text("reason")?,
        before: row.opt_text("before_doc")?,
        after: row.opt_text("after_doc")?,
    })
}

/// Subject types are a closed set, kept `&'static str` so callers cannot invent new ones.
pub const SUBJECT_TYPES: &[&str] = &[
    "org", "group", "user", "vehicle", "card", "binding", "controls", "session", "device", "token",
];

fn subject_type(raw: &str) -> Result<&'static str, StoreError> {
    SUBJECT_TYPES
        .iter()
        .find(|t| **t == raw)
        .copied()
        .ok_or_else(|| StoreError::Corrupt(format!("subject type {raw:?}")))
}

pub(super) fn idempotency(row: &impl RowExt) -> Result<IdempotencyRecord, StoreError> {
    Ok(IdempotencyRecord {
        actor_id: row.parse("actor_id")?,
        key: row.text("key")?,
        org_id: row.opt_parse("org_id")?,
        request_hash: row.text("request_hash")?,
        status: u16::try_from(row.int("status")?)
            .map_err(|_| StoreError::Corrupt("idempotency status".into()))?,
        body: row.text("body")?,
        created_us: row.int("created_us")?,
    })
}

pub(super) const DEVICE_COLS: &str =
    "id, org_id, user_id, public_key, label, status, created_us, revoked_us, version";

pub(super) fn user_status(raw: &str) -> Result<UserStatus, StoreError> {
    Ok(match raw {
        "invited" => UserStatus::Invited,
        "active" => UserStatus::Active,
        "deactivated" => UserStatus::Deactivated,
        other => return Err(StoreError::Corrupt(format!("user status {other:?}"))),
    })
}

pub(super) fn device(row: &impl RowExt) -> Result<DeviceRecord, StoreError> {
    Ok(DeviceRecord {
        id: row.parse("id")?,
        org_id: row.parse("org_id")?,
        user_id: row.parse("user_id")?,
        public_key: row.bytes("public_key")?,
        label: row.text("label")?,
        status: match row.text("status")?.as_str() {
            "active" => DeviceStatus::Active,
            "revoked" => DeviceStatus::Revoked,
            other => return Err(StoreError::Corrupt(format!("device status {other:?}"))),
        },
        created_us: row.int("created_us")?,
        revoked_us: row.opt_int("revoked_us")?,
        version: row.int("version")?,
    })
}

pub(super) const TOKEN_COLS: &str = "id, org_id, card_id, device_id, token_pan_ciphertext, \
     token_pan_fingerprint, token_last4, expiry, status, imk_version, atc_high, atc_seen, \
     next_luk_seq, created_us, updated_us, version";

pub(super) fn token(row: &impl RowExt) -> Result<TokenRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("token {what}"));
    Ok(TokenRecord {
        id: row.parse("id")?,
        org_id: row.parse("org_id")?,
        card_id: row.parse("card_id")?,
        device_id: row.parse("device_id")?,
        token_pan_ciphertext: row.bytes("token_pan_ciphertext")?,
        token_pan_fingerprint: row.bytes("token_pan_fingerprint")?,
        token_last4: row.text("token_last4")?,
        expiry: row.text("expiry")?,
        status: match row.text("status")?.as_str() {
            "active" => TokenStatus::Active,
            "suspended" => TokenStatus::Suspended,
            "deleted" => TokenStatus::Deleted,
            _ => return Err(corrupt("status")),
        },
        imk_version: u32::try_from(row.int("imk_version")?).map_err(|_| corrupt("imk_version"))?,
        atc: atc_window(row.int("atc_high")?, row.int("atc_seen")?)?,
        next_luk_seq: u16::try_from(row.int("next_luk_seq")?).map_err(|_| corrupt("luk seq"))?,
        created_us: row.int("created_us")?,
        updated_us: row.int("updated_us")?,
        version: row.int("version")?,
    })
}

/// The window as stored: `high` -1 for none, the bitmap's 64 bits in a signed BIGINT.
pub(super) fn atc_columns(w: domain::atc::AtcWindow) -> (i64, i64) {
    (w.high.map_or(-1, i64::from), i64::from_ne_bytes(w.seen.to_ne_bytes()))
}

pub(super) fn atc_window(high: i64, seen: i64) -> Result<domain::atc::AtcWindow, StoreError> {
    let high = match high {
        -1 => None,
        h => Some(u16::try_from(h).map_err(|_| StoreError::Corrupt("atc_high".into()))?),
    };
    Ok(domain::atc::AtcWindow { high, seen: u64::from_ne_bytes(seen.to_ne_bytes()) })
}

pub(super) const LUK_COLS: &str =
    "token_id, key_index, org_id, issued_us, expires_s, max_uses, used_count";

pub(super) fn luk(row: &impl RowExt) -> Result<LukRecord, StoreError> {
    let raw = row.text("key_index")?;
    let key_index = hex::decode(&raw)
        .ok()
        .and_then(|b| <[u8; 6]>::try_from(b).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("key index {raw:?}")))?;
    Ok(LukRecord {
        token_id: row.parse("token_id")?,
        org_id: row.parse("org_id")?,
        key_index,
        issued_us: row.int("issued_us")?,
        expires_s: row.int("expires_s")?,
        max_uses: row.int("max_uses")?,
        used_count: row.int("used_count")?,
    })
}
