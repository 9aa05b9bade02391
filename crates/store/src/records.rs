//! Rows as the services see them. Times are unix microseconds (`*_us`), money and volume
//! integers. `version` is the optimistic-concurrency counter of the row as read.

use domain::{
    CardId, CardStatus, Currency, GroupId, Language, OrgId, Product, Role, SessionId, UserId,
    VehicleId,
};

#[derive(Debug, Clone, PartialEq)]
pub struct OrgRecord {
    pub id: OrgId,
    pub name: String,
    pub currency: Currency,
    pub time_zone: String,
    pub created_us: i64,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    pub id: GroupId,
    pub org_id: OrgId,
    pub parent_id: Option<GroupId>,
    /// `/<root id>/.../<own id>/`: the group's subtree is every path with this prefix.
    pub path: String,
    pub name: String,
    /// A deactivated group takes no new objects (`Effects::into_group`).
    pub status: ActiveStatus,
    pub created_us: i64,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Created, has not set a password yet.
    Invited,
    Active,
    Deactivated,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }
}

/// A user row. Password and invite hashes are never printed (see the `Debug` impl).
#[derive(Clone, PartialEq)]
pub struct UserRecord {
    pub id: UserId,
    pub org_id: Option<OrgId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub group_id: Option<GroupId>,
    /// Path of `group_id`, joined on read (empty on insert).
    pub group_path: Option<String>,
    pub status: UserStatus,
    pub password_hash: Option<String>,
    pub invite_hash: Option<String>,
    pub invite_expires_us: Option<i64>,
    /// The language the user reads the console in.
    pub language: Language,
    pub created_us: i64,
    pub version: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("role", &self.role)
            .field("group_id", &self.group_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub org_id: Option<OrgId>,
    pub created_us: i64,
    pub expires_us: i64,
    pub revoked_us: Option<i64>,
}

/// A refresh token as stored: only its SHA-256 hash.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub session_id: SessionId,
    pub issued_us: i64,
    pub expires_us: i64,
    pub used_us: Option<i64>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// The token was fresh: it is now used and the next one replaces it.
    Rotated(SessionRecord),
    /// The token had been used before: someone replayed it, so the session is revoked.
    ReuseDetected,
    /// Unknown, expired, or its session is revoked or expired.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveStatus {
    Active,
    Deactivated,
}

impl ActiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VehicleRecord {
    pub id: VehicleId,
    pub org_id: OrgId,
    pub group_id: Option<GroupId>,
    pub group_path: Option<String>,
    pub plate: String,
    pub products: Vec<Product>,
    pub tank_capacity_ml: i64,
    pub status: ActiveStatus,
    pub created_us: i64,
    pub version: i64,
}

/// A card row. The PAN is here only as HSM ciphertext, keyed fingerprint and last four.
#[derive(Clone, PartialEq)]
pub struct CardRecord {
    pub id: CardId,
    pub org_id: OrgId,
    pub group_id: Option<GroupId>,
    pub group_path: Option<String>,
    pub pan_ciphertext: Vec<u8>,
    pub pan_fingerprint: Vec<u8>,
    pub pan_last4: String,
    pub pan_key_version: i64,
    /// `YYYY-MM`: valid through the last day of that month.
    pub expiry: String,
    pub status: CardStatus,
    pub status_reason: Option<String>,
    pub driver_id: Option<UserId>,
    pub vehicle_id: Option<VehicleId>,
    pub created_us: i64,
    pub updated_us: i64,
    pub version: i64,
}

impl std::fmt::Debug for CardRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardRecord")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("pan_last4", &self.pan_last4)
            .field("status", &self.status)
            .field("driver_id", &self.driver_id)
            .field("vehicle_id", &self.vehicle_id)
            .finish_non_exhaustive()
    }
}

/// One period of a card being bound to a driver and/or vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingRecord {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub card_id: CardId,
    pub driver_id: Option<UserId>,
    pub vehicle_id: Option<VehicleId>,
    pub bound_us: i64,
    pub unbound_us: Option<i64>,
    pub actor_id: UserId,
}

pub use domain::controls::Level as ControlLevel;

/// The controls document set at one level, stored as JSON (validated by the service).
#[derive(Debug, Clone, PartialEq)]
pub struct ControlsRecord {
    pub org_id: OrgId,
    pub level: ControlLevel,
    pub subject_id: uuid::Uuid,
    pub document: String,
    pub updated_us: i64,
    pub version: i64,
}

/// One append-only audit entry: who changed what, when, from what to what.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: uuid::Uuid,
    pub org_id: Option<OrgId>,
    pub subject_type: &'static str,
    pub subject_id: uuid::Uuid,
    /// Set when the event belongs on a card's timeline.
    pub card_id: Option<CardId>,
    pub action: String,
    pub actor_id: Option<UserId>,
    pub actor_role: Option<Role>,
    pub at_us: i64,
    pub reason: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The stored first answer to a create request with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub actor_id: UserId,
    pub key: String,
    pub org_id: Option<OrgId>,
    /// SHA-256 (hex) of method, path and body: a different request under the same key is
    /// refused.
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub created_us: i64,
}

/// What a mutation writes besides its own rows, in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub audit: Vec<AuditEvent>,
    pub idempotency: Option<IdempotencyRecord>,
    /// The group this write puts an object into: the write fails with
    /// `StoreError::GroupDeactivated` unless that group is active when it commits. The
    /// check locks the group's row, so it cannot interleave with `deactivate_group`.
    pub into_group: Option<(OrgId, GroupId)>,
}

impl Effects {
    pub fn audit(events: Vec<AuditEvent>) -> Self {
        Self { audit: events, idempotency: None, into_group: None }
    }

    pub fn with_idempotency(mut self, record: Option<IdempotencyRecord>) -> Self {
        self.idempotency = record;
        self
    }

    /// See [`Self::into_group`]; `None` (the org level) checks nothing.
    pub fn placing_into(mut self, org: OrgId, group: Option<GroupId>) -> Self {
        self.into_group = group.map(|g| (org, g));
        self
    }
}

/// What still lives in a group that is asked to be deactivated: each must be zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupContents {
    /// Child groups not deactivated.
    pub groups: i64,
    /// Users (admins, drivers) not deactivated, invited ones included.
    pub users: i64,
    pub vehicles: i64,
    /// Cards not closed.
    pub cards: i64,
}

impl GroupContents {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Which slice of an org a listing may return.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `None`: the whole org. `Some(path)`: only objects whose group path starts with it.
    pub group_path: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub include_deactivated: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CardFilter {
    pub driver_id: Option<UserId>,
    pub status: Option<CardStatus>,
}

/// A one-time challenge a phone signs to prove it holds its device key.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeRecord {
    pub challenge_hash: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub expires_us: i64,
    pub used_us: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Active,
    Revoked,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// An enrolled phone of a driver.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRecord {
    pub id: domain::DeviceId,
    pub org_id: OrgId,
    pub user_id: UserId,
    /// SEC1 uncompressed P-256 public key.
    pub public_key: Vec<u8>,
    pub label: String,
    pub status: DeviceStatus,
    pub created_us: i64,
    pub revoked_us: Option<i64>,
    pub version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Suspended,
    Deleted,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }
}

/// A payment token: its own PAN (never the funding PAN), bound to one card and one device.
#[derive(Clone, PartialEq)]
pub struct TokenRecord {
    pub id: domain::TokenId,
    pub org_id: OrgId,
    pub card_id: CardId,
    pub device_id: domain::DeviceId,
    pub token_pan_ciphertext: Vec<u8>,
    pub token_pan_fingerprint: Vec<u8>,
    pub token_last4: String,
    pub expiry: String,
    pub status: TokenStatus,
    pub imk_version: u32,
    pub atc: domain::atc::AtcWindow,
    /// Sequence number the next LUK of this token gets.
    pub next_luk_seq: u16,
    pub created_us: i64,
    pub updated_us: i64,
    pub version: i64,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("card_id", &self.card_id)
            .field("device_id", &self.device_id)
            .field("token_last4", &self.token_last4)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// What the server knows of one limited-use key: never the key itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LukRecord {
    pub token_id: domain::TokenId,
    pub org_id: OrgId,
    pub key_index: [u8; 6],
    pub issued_us: i64,
    pub expires_s: i64,
    pub max_uses: i64,
    pub used_count: i64,
}
