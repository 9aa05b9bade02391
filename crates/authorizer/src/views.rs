//! What the authorizer answers.

use domain::{AuthorizationId, CardId, Product, StationId, TerminalId, UserId, VehicleId};
use issuing::views::rfc3339;
use serde::{Deserialize, Serialize};
use store::{AccountRecord, AuthorizationRecord, PostingRecord, StationRecord, TerminalRecord};

#[derive(Debug, Clone, Serialize)]
pub struct StationView {
    pub id: StationId,
    pub name: String,
    pub merchant_id: String,
    pub lat_e6: i64,
    pub lon_e6: i64,
    pub time_zone: String,
    pub products: Vec<Product>,
}

impl From<&StationRecord> for StationView {
    fn from(s: &StationRecord) -> Self {
        Self {
            id: s.id,
            name: s.name.clone(),
            merchant_id: s.merchant_id.clone(),
            lat_e6: s.lat_e6,
            lon_e6: s.lon_e6,
            time_zone: s.time_zone.clone(),
            products: s.products.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TerminalView {
    pub id: TerminalId,
    pub station_id: StationId,
    pub label: String,
    pub status: &'static str,
}

impl From<&TerminalRecord> for TerminalView {
    fn from(t: &TerminalRecord) -> Self {
        Self {
            id: t.id,
            station_id: t.station_id,
            label: t.label.clone(),
            status: t.status.as_str(),
        }
    }
}

/// A new terminal and its signing secret (hex), shown once: load it into the terminal.
#[derive(Clone, Serialize)]
pub struct TerminalCreatedView {
    pub terminal: TerminalView,
    pub secret: String,
}

impl std::fmt::Debug for TerminalCreatedView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalCreatedView")
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

/// The answer to a pre-authorization, as the pump reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationAnswer {
    pub authorization_id: AuthorizationId,
    pub approved: bool,
    pub partial: bool,
    /// ISO 8583 response code: 00 approved, 10 partial, otherwise the decline's.
    pub response_code: String,
    /// Machine-readable decline reason (`LIMIT_DAILY_AMOUNT`, ...), absent when approved.
    pub reason: Option<String>,
    /// Short text for the pump's display.
    pub message: String,
    pub approved_amount: i64,
    pub approved_volume_ml: i64,
    pub allowed_products: Vec<Product>,
    pub hold_expires_at: Option<String>,
}

/// Most authorizations one `GET /v1/authorizations` returns, and its default `limit`.
pub const MAX_AUTHORIZATIONS: i64 = 200;

/// What a fleet asks `GET /v1/authorizations` for, parsed: every `None` matches all. The
/// caller's scope is added by the service, never taken from here.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationQuery {
    pub card_id: Option<CardId>,
    pub status: Option<store::AuthStatus>,
    pub driver_id: Option<UserId>,
    pub vehicle_id: Option<VehicleId>,
    pub station_id: Option<StationId>,
    /// Created at or after, unix microseconds.
    pub from_us: Option<i64>,
    /// Created before, unix microseconds.
    pub to_us: Option<i64>,
    /// At most this many (1 to `MAX_AUTHORIZATIONS`); the newest come first.
    pub limit: Option<i64>,
}

/// An authorization as a fleet sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizationView {
    pub id: AuthorizationId,
    pub card_id: Option<CardId>,
    pub station_id: StationId,
    pub status: &'static str,
    pub response_code: String,
    pub reason: Option<String>,
    pub requested_amount: i64,
    pub approved_amount: i64,
    pub final_amount: Option<i64>,
    pub final_volume_ml: Option<i64>,
    pub product: Option<String>,
    pub created_at: String,
    pub settled_at: Option<String>,
    pub trace: serde_json::Value,
}

impl From<&AuthorizationRecord> for AuthorizationView {
    fn from(a: &AuthorizationRecord) -> Self {
        Self {
            id: a.id,
            card_id: a.card_id,
            station_id: a.station_id,
            status: a.status.as_str(),
            response_code: a.response_code.clone(),
            reason: a.reason.clone(),
            requested_amount: a.requested_amount,
            approved_amount: a.approved_amount,
            final_amount: a.final_amount,
            final_volume_ml: a.final_volume_ml,
            product: a.product.clone(),
            created_at: rfc3339(a.created_us),
            settled_at: a.settled_us.map(rfc3339),
            trace: serde_json::from_str(&a.trace).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub currency: String,
    pub credit_limit: i64,
    pub credited: i64,
    pub available: i64,
    pub held: i64,
    pub spent: i64,
}

impl AccountView {
    pub fn new(a: &AccountRecord, currency: &str) -> Self {
        Self {
            currency: currency.to_owned(),
            credit_limit: a.credit_limit,
            credited: a.credited,
            available: a.available,
            held: a.held,
            spent: a.spent,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PostingView {
    pub kind: String,
    pub from: String,
    pub to: String,
    pub amount: i64,
    pub authorization_id: Option<AuthorizationId>,
    pub at: String,
}

impl From<&PostingRecord> for PostingView {
    fn from(p: &PostingRecord) -> Self {
        Self {
            kind: p.kind.clone(),
            from: p.from_bucket.clone(),
            to: p.to_bucket.clone(),
            amount: p.amount,
            authorization_id: p.authorization_id,
            at: rfc3339(p.at_us),
        }
    }
}
