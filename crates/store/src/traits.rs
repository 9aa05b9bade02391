use crate::records::*;
use crate::StoreError;
use domain::{CardId, DeviceId, GroupId, OrgId, SessionId, TokenId, UserId, VehicleId};
use std::future::Future;

type R<T> = Result<T, StoreError>;

/// Everything the services persist. Each mutating method is one transaction: it writes its
/// rows, the given [`Effects`] (audit events, idempotency record) and nothing else, or
/// nothing at all. Updates take the `version` the caller read and fail with
/// [`StoreError::VersionConflict`] if the row moved since.
///
/// Reads of fleet data are keyed by `org_id`: a caller cannot read another org's rows by
/// guessing an id.
pub trait Store: Clone + Send + Sync + 'static {
    // --- orgs -------------------------------------------------------------------------
    /// Creates an org together with its first owner.
    fn create_org(
        &self,
        org: &OrgRecord,
        owner: &UserRecord,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn get_org(&self, id: OrgId) -> impl Future<Output = R<OrgRecord>> + Send;
    fn list_orgs(&self) -> impl Future<Output = R<Vec<OrgRecord>>> + Send;
    fn update_org(&self, org: &OrgRecord, fx: Effects) -> impl Future<Output = R<()>> + Send;

    // --- groups -----------------------------------------------------------------------
    fn create_group(&self, group: &GroupRecord, fx: Effects) -> impl Future<Output = R<()>> + Send;
    fn get_group(&self, org: OrgId, id: GroupId) -> impl Future<Output = R<GroupRecord>> + Send;
    fn list_groups(
        &self,
        org: OrgId,
        scope: &Scope,
    ) -> impl Future<Output = R<Vec<GroupRecord>>> + Send;
    fn update_group(&self, group: &GroupRecord, fx: Effects) -> impl Future<Output = R<()>> + Send;
    /// Deactivates the group at `group.version` if it holds nothing live; otherwise
    /// changes nothing and says what it still holds.
    fn deactivate_group(
        &self,
        group: &GroupRecord,
        fx: Effects,
    ) -> impl Future<Output = R<Result<(), GroupContents>>> + Send;

    // --- users ------------------------------------------------------------------------
    fn create_user(&self, user: &UserRecord, fx: Effects) -> impl Future<Output = R<()>> + Send;
    /// Any user by id, staff included; callers check the org.
    fn get_user(&self, id: UserId) -> impl Future<Output = R<UserRecord>> + Send;
    fn get_user_by_email(&self, email: &str) -> impl Future<Output = R<UserRecord>> + Send;
    fn get_user_by_invite(&self, invite_hash: &str) -> impl Future<Output = R<UserRecord>> + Send;
    fn list_users(
        &self,
        org: Option<OrgId>,
        scope: &Scope,
        filter: &UserFilter,
    ) -> impl Future<Output = R<Vec<UserRecord>>> + Send;
    /// Writes every mutable field of the user (name, group, status, password, invite).
    fn update_user(&self, user: &UserRecord, fx: Effects) -> impl Future<Output = R<()>> + Send;

    // --- sessions ---------------------------------------------------------------------
    fn create_session(
        &self,
        session: &SessionRecord,
        refresh: &RefreshTokenRecord,
    ) -> impl Future<Output = R<()>> + Send;
    fn get_session(&self, id: SessionId) -> impl Future<Output = R<SessionRecord>> + Send;
    /// Uses the refresh token `presented_hash` once and stores `next_hash` in its place, in
    /// the same session.
    fn rotate_refresh(
        &self,
        presented_hash: &str,
        next_hash: &str,
        next_expires_us: i64,
        now_us: i64,
    ) -> impl Future<Output = R<RefreshOutcome>> + Send;
    fn revoke_session(&self, id: SessionId, now_us: i64) -> impl Future<Output = R<()>> + Send;
    fn revoke_user_sessions(&self, user: UserId, now_us: i64)
        -> impl Future<Output = R<()>> + Send;

    // --- vehicles ---------------------------------------------------------------------
    fn create_vehicle(
        &self,
        vehicle: &VehicleRecord,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn get_vehicle(
        &self,
        org: OrgId,
        id: VehicleId,
    ) -> impl Future<Output = R<VehicleRecord>> + Send;
    fn list_vehicles(
        &self,
        org: OrgId,
        scope: &Scope,
    ) -> impl Future<Output = R<Vec<VehicleRecord>>> + Send;
    fn update_vehicle(
        &self,
        vehicle: &VehicleRecord,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;

    // --- cards ------------------------------------------------------------------------
    /// Inserts the card and, if it is bound, its first binding.
    fn create_card(
        &self,
        card: &CardRecord,
        binding: Option<&BindingRecord>,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn get_card(&self, org: OrgId, id: CardId) -> impl Future<Output = R<CardRecord>> + Send;
    /// A card by id in any org: for issuer staff (fraud analysts), never for fleet users.
    fn get_card_any_org(&self, id: CardId) -> impl Future<Output = R<CardRecord>> + Send;
    fn list_cards(
        &self,
        org: OrgId,
        scope: &Scope,
        filter: &CardFilter,
    ) -> impl Future<Output = R<Vec<CardRecord>>> + Send;
    /// Writes the card's status, reason, group and binding columns. With `binding`, the open
    /// binding period is closed at `binding.bound_us` and the new one opened.
    fn update_card(
        &self,
        card: &CardRecord,
        binding: Option<&BindingRecord>,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn list_bindings(
        &self,
        org: OrgId,
        card: CardId,
    ) -> impl Future<Output = R<Vec<BindingRecord>>> + Send;

    // --- controls ---------------------------------------------------------------------
    fn get_controls(
        &self,
        org: OrgId,
        subjects: &[(ControlLevel, uuid::Uuid)],
    ) -> impl Future<Output = R<Vec<ControlsRecord>>> + Send;
    /// Inserts (`version == 0`) or replaces (`version` as read) one level's controls.
    fn put_controls(
        &self,
        record: &ControlsRecord,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;

    // --- devices and tokens ------------------------------------------------------------
    fn create_challenge(&self, challenge: &ChallengeRecord) -> impl Future<Output = R<()>> + Send;
    /// Uses a challenge once: true if it existed for `user`, was unused and unexpired.
    fn consume_challenge(
        &self,
        challenge_hash: &str,
        user: UserId,
        now_us: i64,
    ) -> impl Future<Output = R<bool>> + Send;
    fn create_device(
        &self,
        device: &DeviceRecord,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn get_device(&self, org: OrgId, id: DeviceId) -> impl Future<Output = R<DeviceRecord>> + Send;
    /// The device and its holder's status in one read (a token's standing, per payment).
    fn get_device_with_holder(
        &self,
        org: OrgId,
        id: DeviceId,
    ) -> impl Future<Output = R<(DeviceRecord, UserStatus)>> + Send;
    fn list_devices(
        &self,
        org: OrgId,
        user: UserId,
    ) -> impl Future<Output = R<Vec<DeviceRecord>>> + Send;
    /// Revokes the device and deletes its tokens, in one transaction.
    fn revoke_device(
        &self,
        device: &DeviceRecord,
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn create_token(
        &self,
        token: &TokenRecord,
        luks: &[LukRecord],
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn get_token(&self, org: OrgId, id: TokenId) -> impl Future<Output = R<TokenRecord>> + Send;
    /// The token whose PAN has this fingerprint, in any org (the terminal knows no org).
    fn get_token_by_fingerprint(
        &self,
        fingerprint: &[u8],
    ) -> impl Future<Output = R<TokenRecord>> + Send;
    /// The token whose PAN has this fingerprint and its LUK `key_index`, in one read
    /// (`None`: no such token; `Some((token, None))`: no such LUK).
    fn get_token_with_luk(
        &self,
        fingerprint: &[u8],
        key_index: [u8; 6],
    ) -> impl Future<Output = R<Option<(TokenRecord, Option<LukRecord>)>>> + Send;
    /// A token's card, and its device with the holder's status, in one read (the token's
    /// standing, per payment).
    fn get_card_with_device(
        &self,
        org: OrgId,
        card: CardId,
        device: DeviceId,
    ) -> impl Future<Output = R<(CardRecord, DeviceRecord, UserStatus)>> + Send;
    fn list_card_tokens(
        &self,
        org: OrgId,
        card: CardId,
    ) -> impl Future<Output = R<Vec<TokenRecord>>> + Send;
    /// Adds LUKs (replenishment) and stores the token's next LUK sequence number, guarded by
    /// the token's version.
    fn add_luks(
        &self,
        token: &TokenRecord,
        luks: &[LukRecord],
        fx: Effects,
    ) -> impl Future<Output = R<()>> + Send;
    fn list_luks(&self, token: TokenId) -> impl Future<Output = R<Vec<LukRecord>>> + Send;
    fn get_luk(
        &self,
        token: TokenId,
        key_index: [u8; 6],
    ) -> impl Future<Output = R<LukRecord>> + Send;
    /// Records one use of a cryptogram in one transaction: moves the token's replay window
    /// past `claim.atc` under the token row's lock and spends one use of the LUK's budget
    /// (the same step the authorizer's commit takes).
    fn claim_cryptogram(
        &self,
        claim: &crate::CryptogramClaim,
    ) -> impl Future<Output = R<Result<(), crate::CommitRefusal>>> + Send;

    // --- audit and idempotency --------------------------------------------------------
    fn list_card_events(
        &self,
        org: OrgId,
        card: CardId,
    ) -> impl Future<Output = R<Vec<AuditEvent>>> + Send;
    fn list_subject_events(
        &self,
        org: Option<OrgId>,
        subject: uuid::Uuid,
    ) -> impl Future<Output = R<Vec<AuditEvent>>> + Send;
    fn get_idempotency(
        &self,
        actor: UserId,
        key: &str,
    ) -> impl Future<Output = R<Option<IdempotencyRecord>>> + Send;
}
