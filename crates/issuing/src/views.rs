//! What the API returns. Views never carry secrets: a card shows its last four digits only,
//! a user never shows a hash.

use domain::{CardStatus, Currency, GroupId, Language, OrgId, Product, Role, UserId, VehicleId};
use serde::Serialize;
use store::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// RFC 3339 UTC time of unix microseconds.
pub fn rfc3339(us: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    pub currency: Currency,
    pub time_zone: String,
    pub created_at: String,
}

impl From<&OrgRecord> for OrgView {
    fn from(r: &OrgRecord) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            currency: r.currency,
            time_zone: r.time_zone.clone(),
            created_at: rfc3339(r.created_us),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupView {
    pub id: GroupId,
    pub org_id: OrgId,
    pub parent_id: Option<GroupId>,
    pub name: String,
    /// `active` or `deactivated`.
    pub status: &'static str,
    pub created_at: String,
}

impl From<&GroupRecord> for GroupView {
    fn from(r: &GroupRecord) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            parent_id: r.parent_id,
            name: r.name.clone(),
            status: r.status.as_str(),
            created_at: rfc3339(r.created_us),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserView {
    pub id: UserId,
    pub org_id: Option<OrgId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub group_id: Option<GroupId>,
    pub status: &'static str,
    /// `en` or `ru`: the language the user reads the console in.
    pub language: Language,
    pub created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(r: &UserRecord) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            email: r.email.clone(),
            name: r.name.clone(),
            role: r.role,
            group_id: r.group_id,
            status: r.status.as_str(),
            language: r.language,
            created_at: rfc3339(r.created_us),
        }
    }
}

/// A new user and the one-time invite token that lets them set a password. The token is
/// shown in the creating answer only and stored only as a hash: the copy kept for
/// idempotent replays ([`InvitedUserView::withheld`]) has none, so a database reader
/// cannot take over the account.
#[derive(Clone, Serialize)]
pub struct InvitedUserView {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_token: Option<String>,
    pub invite_expires_at: String,
}

impl InvitedUserView {
    /// The answer as a replay repeats it: without the invite token.
    pub fn withheld(&self) -> InvitedUserView {
        InvitedUserView { invite_token: None, ..self.clone() }
    }
}

/// The token does not print.
impl std::fmt::Debug for InvitedUserView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitedUserView")
            .field("user", &self.user)
            .field("invite_expires_at", &self.invite_expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatedOrgView {
    pub org: OrgView,
    pub owner: InvitedUserView,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VehicleView {
    pub id: VehicleId,
    pub org_id: OrgId,
    pub group_id: Option<GroupId>,
    pub plate: String,
    pub products: Vec<Product>,
    pub tank_capacity_ml: i64,
    pub status: &'static str,
    pub created_at: String,
}

impl From<&VehicleRecord> for VehicleView {
    fn from(r: &VehicleRecord) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            group_id: r.group_id,
            plate: r.plate.clone(),
            products: r.products.clone(),
            tank_capacity_ml: r.tank_capacity_ml,
            status: r.status.as_str(),
            created_at: rfc3339(r.created_us),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CardView {
    pub id: domain::CardId,
    pub org_id: OrgId,
    pub group_id: Option<GroupId>,
    pub pan_last4: String,
    /// `YYYY-MM`: valid through the end of that month.
    pub expiry: String,
    pub status: CardStatus,
    pub status_reason: Option<String>,
    pub driver_id: Option<UserId>,
    pub vehicle_id: Option<VehicleId>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&CardRecord> for CardView {
    fn from(r: &CardRecord) -> Self {
        Self {
            id: r.id,
            org_id: r.org_id,
            group_id: r.group_id,
            pan_last4: r.pan_last4.clone(),
            expiry: r.expiry.clone(),
            status: r.status,
            status_reason: r.status_reason.clone(),
            driver_id: r.driver_id,
            vehicle_id: r.vehicle_id,
            created_at: rfc3339(r.created_us),
            updated_at: rfc3339(r.updated_us),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BindingView {
    pub driver_id: Option<UserId>,
    pub vehicle_id: Option<VehicleId>,
    pub bound_at: String,
    pub unbound_at: Option<String>,
    pub bound_by: UserId,
}

impl From<&BindingRecord> for BindingView {
    fn from(r: &BindingRecord) -> Self {
        Self {
            driver_id: r.driver_id,
            vehicle_id: r.vehicle_id,
            bound_at: rfc3339(r.bound_us),
            unbound_at: r.unbound_us.map(rfc3339),
            bound_by: r.actor_id,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: uuid::Uuid,
    pub subject_type: &'static str,
    pub subject_id: uuid::Uuid,
    pub action: String,
    pub actor_id: Option<UserId>,
    pub actor_role: Option<Role>,
    pub at: String,
    pub reason: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl From<&AuditEvent> for EventView {
    fn from(e: &AuditEvent) -> Self {
        let doc = |d: &Option<String>| d.as_deref().and_then(|s| serde_json::from_str(s).ok());
        Self {
            id: e.id,
            subject_type: e.subject_type,
            subject_id: e.subject_id,
            action: e.action.clone(),
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            at: rfc3339(e.at_us),
            reason: e.reason.clone(),
            before: doc(&e.before),
            after: doc(&e.after),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlsView {
    pub level: ControlLevel,
    pub subject_id: uuid::Uuid,
    pub controls: domain::controls::Controls,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EffectiveControlsView {
    pub card_id: domain::CardId,
    /// Amount limits are minor units of this currency.
    pub currency: Currency,
    /// The levels consulted, broadest first.
    pub chain: Vec<domain::controls::LevelRef>,
    pub effective: domain::controls::Effective,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenPairView {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}
