//! What the authorizer persists: stations, terminals, fleet accounts and their ledger,
//! authorizations with their holds, per-card period usage. A separate trait from
//! [`crate::Store`] because it is a separate bounded part with its own hot path.

use crate::fraud::*;
use crate::StoreError;
use domain::{
    AuthorizationId, CardId, OrgId, Product, StationId, TerminalId, TokenId, UserId, VehicleId,
};
use std::future::Future;
use uuid::Uuid;

type R<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq)]
pub struct StationRecord {
    pub id: StationId,
    pub name: String,
    pub merchant_id: String,
    /// Latitude and longitude in micro-degrees.
    pub lat_e6: i64,
    pub lon_e6: i64,
    pub time_zone: String,
    pub products: Vec<Product>,
    pub created_us: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalStatus {
    Active,
    Suspended,
}

impl TerminalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct TerminalRecord {
    pub id: TerminalId,
    pub station_id: StationId,
    pub label: String,
    /// The signing secret wrapped by the HSM.
    pub secret_wrapped: Vec<u8>,
    pub status: TerminalStatus,
    pub created_us: i64,
    pub version: i64,
}

impl std::fmt::Debug for TerminalRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalRecord")
            .field("id", &self.id)
            .field("station_id", &self.station_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A fleet's money, in minor units of its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRecord {
    pub org_id: OrgId,
    pub credit_limit: i64,
    pub credited: i64,
    pub available: i64,
    pub held: i64,
    pub spent: i64,
}

impl AccountRecord {
    /// The ledger's invariant; asserted after every movement.
    pub fn balances(&self) -> bool {
        self.available + self.held + self.spent == self.credited
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStatus {
    /// Approved (fully or partly) and holding money.
    Approved,
    Declined,
    Completed,
    Reversed,
    /// The hold ran out before a completion came.
    Expired,
}

impl AuthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Completed => "completed",
            Self::Reversed => "reversed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Approved, Self::Declined, Self::Completed, Self::Reversed, Self::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// Which of an org's authorizations a listing returns. The first two fields are the
/// caller's visibility, the rest what the caller asked for; every `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationFilter {
    /// Only fills of cards whose group lies under this path (an admin's subtree).
    pub group_path: Option<String>,
    /// Only fills of cards bound to this driver now (a driver sees their own cards).
    pub card_holder: Option<UserId>,
    pub card_id: Option<CardId>,
    pub status: Option<AuthStatus>,
    /// Fills made while this driver held the card (binding history at the fill's time).
    pub driver_id: Option<UserId>,
    /// Fills made while the card was bound to this vehicle.
    pub vehicle_id: Option<VehicleId>,
    pub station_id: Option<StationId>,
    /// Created at or after (unix microseconds).
    pub from_us: Option<i64>,
    /// Created before (unix microseconds).
    pub to_us: Option<i64>,
}

/// The completed spend of one interval: `[start_us, start_us + bucket_us)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendBucket {
    pub start_us: i64,
    pub amount_minor: i64,
}

/// One pre-authorization and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationRecord {
    pub id: AuthorizationId,
    pub org_id: Option<OrgId>,
    pub card_id: Option<CardId>,
    pub token_id: Option<TokenId>,
    pub terminal_id: TerminalId,
    pub station_id: StationId,
    pub stan: String,
    pub transmitted_at: String,
    pub request_hash: String,
    pub entry_mode: String,
    pub status: AuthStatus,
    pub response_code: String,
    pub reason: Option<String>,
    pub requested_amount: i64,
    pub approved_amount: i64,
    pub approved_volume_ml: i64,
    pub held_amount: i64,
    pub final_amount: Option<i64>,
    pub final_volume_ml: Option<i64>,
    pub product: Option<String>,
    /// Period keys (day, week, month) the usage was counted under.
    pub periods: [String; 3],
    pub hold_expires_us: i64,
    pub created_us: i64,
    pub settled_us: Option<i64>,
    /// The answer sent to the terminal (JSON), replayed to retries.
    pub response: String,
    /// The decision trace (JSON).
    pub trace: String,
    pub version: i64,
}

/// Limits re-checked by the database when usage is counted: `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodLimits {
    pub amount: Option<i64>,
    pub volume_ml: Option<i64>,
    pub fills: Option<i64>,
}

/// The ATC and LUK use to spend in the authorization's transaction. The token's replay
/// window is read and moved inside that transaction, under the token row's lock, so
/// concurrent authorizations on one token queue instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptogramClaim {
    pub token: TokenId,
    pub atc: u16,
    pub key_index: [u8; 6],
}

/// Everything one authorization writes, in one transaction.
#[derive(Debug, Clone)]
pub struct AuthorizationCommit {
    pub record: AuthorizationRecord,
    /// The request's nonce, recorded in the same transaction: a nonce seen before fails
    /// the whole commit with `StoreError::Duplicate("nonce")`.
    pub nonce: Option<NonceClaim>,
    pub claim: Option<CryptogramClaim>,
    /// For approvals: per-period limits (day, week, month) to re-check while counting.
    pub limits: [PeriodLimits; 3],
    /// What this authorization adds to its card's feature row, in the same transaction.
    pub features: Option<FeatureUpdate>,
    /// Alerts the fraud rules opened on this authorization.
    pub alerts: Vec<AlertRecord>,
}

/// The writes of a completion: see [`AuthorizerStore::complete_authorization`].
#[derive(Debug, Clone)]
pub struct CompletionCommit {
    pub id: AuthorizationId,
    pub final_amount: i64,
    pub final_volume_ml: i64,
    pub product: String,
    pub now_us: i64,
    pub late_alert: crate::AlertRecord,
    pub nonce: Option<NonceClaim>,
}

/// A terminal request's nonce, to be recorded with the request's own write (one commit per
/// request instead of two). Old nonces are forgotten by a sweep
/// ([`AuthorizerStore::forget_nonces`]), not by the requests: pruning inside a request
/// made concurrent requests of one terminal wait on each other's row locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceClaim {
    pub terminal: TerminalId,
    pub nonce: String,
    pub now_us: i64,
}

/// See [`AuthorizerStore::authorization_lookup`].
#[derive(Debug, Clone)]
pub struct AuthorizationLookup {
    pub first: Option<AuthorizationRecord>,
    pub station: StationRecord,
    pub early_reversed: bool,
}

/// See [`AuthorizerStore::decision_inputs`]: the snapshot a decision and its fraud
/// screening read, all of it keyed by the card and its org.
#[derive(Debug, Clone)]
pub struct DecisionInputs {
    pub org: crate::OrgRecord,
    /// The stored controls of the chain's subjects (none stored: no row).
    pub controls: Vec<crate::ControlsRecord>,
    pub vehicle: Option<crate::VehicleRecord>,
    /// `None` until the fleet's account row exists (`AuthorizerStore::account` makes it).
    pub account: Option<AccountRecord>,
    pub features: Option<CardFeaturesRecord>,
    pub fraud_rules: Vec<FraudRuleRecord>,
    pub rebind_us: Option<i64>,
    pub unblock_us: Option<i64>,
}

/// Why the database refused a commit the decision allowed: the snapshot was stale. The
/// caller re-reads and decides again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitRefusal {
    /// Another request with this (terminal, STAN, time) was stored first.
    Duplicate,
    /// The ATC was used already (found under the token's lock).
    Replayed,
    /// The LUK's budget ran out.
    BudgetSpent,
    /// The account no longer covers the hold.
    Funds,
    /// A period limit would be exceeded.
    Limit,
}

pub trait AuthorizerStore: Clone + Send + Sync + 'static {
    fn create_station(&self, s: &StationRecord) -> impl Future<Output = R<()>> + Send;
    fn get_station(&self, id: StationId) -> impl Future<Output = R<StationRecord>> + Send;
    fn list_stations(&self) -> impl Future<Output = R<Vec<StationRecord>>> + Send;
    fn create_terminal(&self, t: &TerminalRecord) -> impl Future<Output = R<()>> + Send;
    fn get_terminal(&self, id: TerminalId) -> impl Future<Output = R<TerminalRecord>> + Send;
    fn set_terminal_status(&self, t: &TerminalRecord) -> impl Future<Output = R<()>> + Send;
    /// Records a request nonce; false if this terminal used it and it is not forgotten.
    fn remember_nonce(
        &self,
        terminal: TerminalId,
        nonce: &str,
        now_us: i64,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Forgets at most `limit` nonces seen before `seen_before_us`, oldest first; returns
    /// how many it forgot.
    fn forget_nonces(&self, seen_before_us: i64, limit: i64)
        -> impl Future<Output = R<u64>> + Send;

    /// The fleet's account, created empty on first use.
    fn account(&self, org: OrgId, currency: &str) -> impl Future<Output = R<AccountRecord>> + Send;
    /// Adds money (a top-up or payment received): funding → available.
    fn credit_account(
        &self,
        org: OrgId,
        currency: &str,
        amount: i64,
        now_us: i64,
    ) -> impl Future<Output = R<AccountRecord>> + Send;
    fn set_credit_limit(
        &self,
        org: OrgId,
        currency: &str,
        limit: i64,
    ) -> impl Future<Output = R<AccountRecord>> + Send;
    fn list_postings(
        &self,
        org: OrgId,
        limit: i64,
    ) -> impl Future<Output = R<Vec<PostingRecord>>> + Send;

    fn get_authorization(
        &self,
        id: AuthorizationId,
    ) -> impl Future<Output = R<AuthorizationRecord>> + Send;
    fn find_authorization(
        &self,
        terminal: TerminalId,
        stan: &str,
        transmitted_at: &str,
    ) -> impl Future<Output = R<Option<AuthorizationRecord>>> + Send;
    fn list_authorizations(
        &self,
        org: OrgId,
        card: Option<CardId>,
        limit: i64,
    ) -> impl Future<Output = R<Vec<AuthorizationRecord>>> + Send;
    /// The completed fills matching `filter` (whatever its status), their final amounts
    /// summed per `bucket_us` interval counted from the epoch: every fill, no limit.
    fn spend_buckets(
        &self,
        org: OrgId,
        filter: &AuthorizationFilter,
        bucket_us: i64,
    ) -> impl Future<Output = R<Vec<SpendBucket>>> + Send;
    /// A fleet's fills matching `filter`, newest first, at most `limit`: one query, whatever
    /// the caller's scope.
    fn search_authorizations(
        &self,
        org: OrgId,
        filter: &AuthorizationFilter,
        limit: i64,
    ) -> impl Future<Output = R<Vec<AuthorizationRecord>>> + Send;
    fn card_usage(
        &self,
        card: CardId,
        periods: &[String; 3],
    ) -> impl Future<Output = R<domain::authorize::PeriodUsage>> + Send;
    /// Stores the authorization, spends its cryptogram, and for an approval places the hold
    /// and counts the usage under the re-checked limits — all or nothing.
    fn commit_authorization(
        &self,
        commit: &AuthorizationCommit,
    ) -> impl Future<Output = R<Result<(), CommitRefusal>>> + Send;
    /// Posts the final amount of an approved (or expired) authorization and releases the
    /// rest of its hold; false if it was not in a state to complete. A completion after
    /// the hold expired also opens `late_alert` (the fill goes to review), in the same
    /// transaction. With `nonce`, the request's nonce is recorded in it too (a nonce seen
    /// before: `StoreError::Duplicate("nonce")`, nothing written).
    fn complete_authorization(
        &self,
        completion: &CompletionCommit,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Releases the whole hold (`to` is `Reversed` or `Expired`); false if nothing was held.
    fn release_authorization(
        &self,
        id: AuthorizationId,
        to: AuthStatus,
        now_us: i64,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Approved authorizations whose hold expired before `now_us`.
    fn expired_holds(
        &self,
        now_us: i64,
        limit: i64,
    ) -> impl Future<Output = R<Vec<AuthorizationId>>> + Send;
    /// Remembers a reversal for a message never seen; false if already remembered.
    fn remember_early_reversal(
        &self,
        terminal: TerminalId,
        stan: &str,
        transmitted_at: &str,
        now_us: i64,
    ) -> impl Future<Output = R<bool>> + Send;
    fn early_reversal_exists(
        &self,
        terminal: TerminalId,
        stan: &str,
        transmitted_at: &str,
    ) -> impl Future<Output = R<bool>> + Send;
    /// What a pre-authorization reads first, in one trip: the first request under this
    /// (terminal, STAN, time) if any, the terminal's station, and whether a reversal for it
    /// came first.
    fn authorization_lookup(
        &self,
        terminal: &TerminalRecord,
        stan: &str,
        transmitted_at: &str,
    ) -> impl Future<Output = R<AuthorizationLookup>> + Send;
    /// What a decision on `card` reads but its usage, in one trip (`DecisionInputs`);
    /// `subjects` is the card's control chain.
    fn decision_inputs(
        &self,
        card: &crate::CardRecord,
        subjects: &[(crate::ControlLevel, uuid::Uuid)],
    ) -> impl Future<Output = R<DecisionInputs>> + Send;

    /// The org's rule overrides (empty: the default rule set applies).
    fn fraud_rules(&self, org: OrgId) -> impl Future<Output = R<Vec<FraudRuleRecord>>> + Send;
    /// Replaces the org's whole rule set in one transaction, so a stored set is always one
    /// that validated as a whole.
    fn put_fraud_rules(&self, rules: &[FraudRuleRecord]) -> impl Future<Output = R<()>> + Send;
    fn card_features(
        &self,
        card: CardId,
    ) -> impl Future<Output = R<Option<CardFeaturesRecord>>> + Send;
    /// When the card was last re-bound and last unblocked (unix µs), from its audit events.
    fn card_rebind_unblock(
        &self,
        org: OrgId,
        card: CardId,
    ) -> impl Future<Output = R<(Option<i64>, Option<i64>)>> + Send;
    /// The queue: by risk (highest first), then age (oldest first).
    fn list_alerts(
        &self,
        filter: &AlertFilter,
        limit: i64,
    ) -> impl Future<Output = R<Vec<AlertRecord>>> + Send;
    /// How many alerts each status holds under the filter (its status ignored).
    fn alert_counts(
        &self,
        filter: &AlertFilter,
    ) -> impl Future<Output = R<Vec<(AlertStatus, i64)>>> + Send;
    fn get_alert(&self, id: Uuid) -> impl Future<Output = R<AlertRecord>> + Send;
    /// Moves the alert from `from` to `to.status` (with assignee and resolution time) if it
    /// is still in `from`; false when someone else moved it first.
    fn move_alert(
        &self,
        from: AlertStatus,
        to: &AlertRecord,
    ) -> impl Future<Output = R<bool>> + Send;
    fn add_alert_comment(&self, c: &AlertCommentRecord) -> impl Future<Output = R<()>> + Send;
    fn alert_comments(
        &self,
        alert: Uuid,
    ) -> impl Future<Output = R<Vec<AlertCommentRecord>>> + Send;
    /// Per rule of the org, alerts created since `since_us` and how they were resolved.
    fn rule_stats(
        &self,
        org: OrgId,
        since_us: i64,
    ) -> impl Future<Output = R<Vec<RuleStatsRecord>>> + Send;
}

/// One balanced movement in a fleet's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingRecord {
    pub id: uuid::Uuid,
    pub org_id: OrgId,
    pub authorization_id: Option<AuthorizationId>,
    pub kind: String,
    pub from_bucket: String,
    pub to_bucket: String,
    pub amount: i64,
    pub at_us: i64,
}
