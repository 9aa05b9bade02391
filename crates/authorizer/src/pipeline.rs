//! `POST /v1/terminal/authorizations`: authenticate (done by the caller) → parse → check
//! the cryptogram → load the snapshot → decide (pure, `domain::authorize`) → commit
//! atomically → answer. A commit refused for a stale snapshot decides again.

use crate::request::AuthorizeRequest;
use crate::screening::{self, Fill};
use crate::views::AuthorizationAnswer;
use crate::{now_us, Authorizer};
use domain::authorize::{self, Decision, Outcome, Snapshot};
use domain::controls::Effective;
use domain::decline::DeclineReason;
use domain::{AuthorizationId, Product};
use issuing::{IssuingError, Result};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Instant;
use store::{
    AuthStatus, AuthorizationCommit, AuthorizationRecord, AuthorizerStore, CardRecord,
    CommitRefusal, NonceClaim, PeriodLimits, StationRecord, Store, TerminalRecord, VehicleRecord,
};
use time::OffsetDateTime;
use time_tz::OffsetDateTimeExt;
use tokens::{Checked, CryptogramDecline};

/// What one decision asks the commit to write.
struct Decided {
    record: AuthorizationRecord,
    limits: [PeriodLimits; 3],
    features: Option<store::FeatureUpdate>,
    alerts: Vec<store::AlertRecord>,
}

/// The fields every authorization record shares, known before the decision.
struct Draft<'a> {
    terminal: &'a TerminalRecord,
    station: &'a StationRecord,
    req: &'a AuthorizeRequest,
    request_hash: &'a str,
    now_us: i64,
    /// The request's nonce when its recording was deferred to this write.
    nonce: Option<&'a NonceClaim>,
    /// Set once a commit carrying `nonce` landed.
    nonce_written: &'a AtomicBool,
}

/// The race between an authorization and its caller's deadline. Whoever settles the gate
/// first decides what the terminal learns: the pipeline delivering its answer, or the caller
/// abandoning it and answering 91. An approval committed after the caller gave up is kept
/// unless the terminal already sent its timeout reversal (then it is released here).
#[derive(Debug)]
pub struct Gate {
    deadline: Option<Instant>,
    state: AtomicU8,
}

const PENDING: u8 = 0;
const DELIVERED: u8 = 1;
const ABANDONED: u8 = 2;

impl Gate {
    /// No commit starts after `deadline`.
    pub fn until(deadline: Instant) -> Self {
        Self { deadline: Some(deadline), state: AtomicU8::new(PENDING) }
    }

    fn unbounded() -> Self {
        Self { deadline: None, state: AtomicU8::new(PENDING) }
    }

    /// The caller gives up waiting. True when no answer was delivered before: the caller
    /// answers 91 itself. False: the pipeline's answer is ready, wait for it.
    pub fn abandon(&self) -> bool {
        self.state.compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// The pipeline's answer will reach the terminal, unless the caller gave up first.
    fn deliver(&self) -> bool {
        self.state.compare_exchange(PENDING, DELIVERED, Ordering::AcqRel, Ordering::Acquire)
            != Err(ABANDONED)
    }

    /// Past the deadline: starting a commit now would only write what nobody hears.
    fn expired(&self) -> Result<()> {
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                Err(IssuingError::Unavailable("the issuer within the authorization deadline"))
            }
            _ => Ok(()),
        }
    }
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    pub async fn authorize(
        &self,
        terminal: &TerminalRecord,
        request_hash: &str,
        req: &AuthorizeRequest,
    ) -> Result<AuthorizationAnswer> {
        let written = AtomicBool::new(false);
        self.run(terminal, (None, &written), request_hash, req, &Gate::unbounded()).await
    }

    /// [`Self::authorize`] racing the caller's deadline through `gate`, for a request whose
    /// nonce was not recorded yet ([`Self::authenticate_deferred`]): the commit records it,
    /// in the same transaction, so a fill costs one commit less; a request that writes
    /// nothing records it alone before answering, and a replay is refused as one. A commit,
    /// once started, is never cancelled here: the caller runs this in its own task and
    /// stops only waiting for it (`docs/TERMINAL-API.md`, "Deadlines").
    pub async fn authorize_gated(
        &self,
        terminal: &TerminalRecord,
        nonce: &NonceClaim,
        request_hash: &str,
        req: &AuthorizeRequest,
        gate: &Gate,
    ) -> Result<Result<AuthorizationAnswer, crate::TerminalAuthError>> {
        let written = AtomicBool::new(false);
        let outcome = self.run(terminal, (Some(nonce), &written), request_hash, req, gate).await;
        self.settle_nonce(nonce, written.load(Ordering::Acquire), outcome).await
    }

    async fn run(
        &self,
        terminal: &TerminalRecord,
        (nonce, nonce_written): (Option<&NonceClaim>, &AtomicBool),
        request_hash: &str,
        req: &AuthorizeRequest,
        gate: &Gate,
    ) -> Result<AuthorizationAnswer> {
        req.validate()?;
        let lookup =
            self.store().authorization_lookup(terminal, &req.stan, &req.transmitted_at).await?;
        if let Some(first) = lookup.first {
            return Ok(replay(&first, request_hash));
        }
        let station = lookup.station;
        let now_us = now_us();
        let draft =
            Draft { terminal, station: &station, req, request_hash, now_us, nonce, nonce_written };
        if lookup.early_reversed {
            return self.decline(&draft, None, DeclineReason::ReversedBeforeOriginal).await;
        }
        let Some(data) = req.payment_data() else {
            return self.decline(&draft, None, DeclineReason::CryptogramInvalid).await;
        };
        for _ in 0..self.config.max_commit_attempts {
            let checked = match self.tokens.check(&data, draft.now_us / 1_000).await? {
                Ok(checked) => checked,
                Err(decline) => return self.cryptogram_failed(&draft, &data, decline).await,
            };
            let d = self.decide(&draft, &checked).await?;
            let commit = AuthorizationCommit {
                record: d.record,
                nonce: draft.nonce.cloned(),
                claim: Some(checked.claim),
                limits: d.limits,
                features: d.features,
                alerts: d.alerts,
            };
            gate.expired()?;
            match self.commit(&draft, &commit).await? {
                Ok(()) => return self.settle_gate(gate, &commit.record).await,
                Err(CommitRefusal::Duplicate) => return self.replay_stored(&draft).await,
                Err(CommitRefusal::BudgetSpent) => {
                    return self.decline(&draft, None, DeclineReason::KeyExhausted).await
                }
                Err(CommitRefusal::Replayed) => {
                    return self.decline(&draft, None, DeclineReason::Replayed).await
                }
                Err(CommitRefusal::Funds | CommitRefusal::Limit) => {
                    tracing::debug!(stan = %req.stan, "snapshot went stale; deciding again");
                }
            }
        }
        Err(IssuingError::Internal("authorization contended past the retry limit".into()))
    }

    /// Hands over a committed answer. When the caller already told the terminal 91 and the
    /// terminal's timeout reversal came in before this commit landed (it was remembered as
    /// an early reversal, which the commit does not see), the hold is released now; a later
    /// reversal finds the authorization itself.
    async fn settle_gate(
        &self,
        gate: &Gate,
        record: &AuthorizationRecord,
    ) -> Result<AuthorizationAnswer> {
        if gate.deliver() || record.status != AuthStatus::Approved {
            return answer_of(record);
        }
        let (terminal, stan, at) = (record.terminal_id, &record.stan, &record.transmitted_at);
        if self.store().early_reversal_exists(terminal, stan, at).await? {
            self.store().release_authorization(record.id, AuthStatus::Reversed, now_us()).await?;
            tracing::warn!(authorization_id = %record.id, "approval landed after its deadline and its timeout reversal; released");
        } else {
            tracing::warn!(authorization_id = %record.id, "approval landed after its deadline; the hold stands until reversed or expired");
        }
        answer_of(record)
    }

    /// Loads the snapshot and decides, limits first, then fraud rules on what the limits
    /// approved; returns what the commit writes and the limits the database re-checks.
    async fn decide(&self, draft: &Draft<'_>, checked: &Checked) -> Result<Decided> {
        let card = &checked.card;
        let inputs = self.store().decision_inputs(card, &issuing::control_subjects(card)).await?;
        let org = &inputs.org;
        let (_, controls) = issuing::effective_from_stored(card, &inputs.controls)?;
        let vehicle = inputs.vehicle.clone();
        let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(draft.now_us) * 1_000)
            .map_err(|_| IssuingError::Internal("clock".into()))?;
        let org_local = local(now, &org.time_zone);
        let station_local = local(now, &draft.station.time_zone);
        let periods = authorize::period_keys(org_local.date());
        let account = match &inputs.account {
            Some(account) => *account,
            None => self.store().account(card.org_id, org.currency.code()).await?,
        };
        let snapshot = Snapshot {
            card_status: card.status,
            card_expired: card.expiry
                < format!("{:04}-{:02}", org_local.year(), u8::from(org_local.month())),
            controls: &controls,
            station_id: &draft.station.id.to_string(),
            local_weekday: station_local.weekday(),
            local_minute_of_day: u16::from(station_local.hour()) * 60
                + u16::from(station_local.minute()),
            usage: self.store().card_usage(card.id, &periods).await?,
            tank_capacity_ml: tank_capacity(vehicle.as_ref(), draft.req),
            available_minor: account.available,
            credit_limit_minor: account.credit_limit,
        };
        let mut decision = authorize::decide(&request_of(draft.req), &snapshot);
        let fill = Fill {
            card,
            vehicle: vehicle.as_ref(),
            station: draft.station,
            now_us: draft.now_us,
            local_hour: station_local.hour(),
            local_weekday: station_local.weekday(),
            amount_minor: requested_amount(draft.req),
            volume_ml: requested_volume(draft.req),
            product: screened_product(draft.req, &decision),
        };
        let (features, screened) = screen_decision(&fill, &inputs, &mut decision)?;
        let fraud = screened.as_ref().map(|s| &s.decision);
        let record = self.record(draft, Some(checked), Some(card), &decision, periods, fraud)?;
        let alerts = fraud.map(|f| screening::alerts_of(f, &record)).unwrap_or_default();
        Ok(Decided { record, limits: limits_of(&controls), features, alerts })
    }

    fn record(
        &self,
        draft: &Draft<'_>,
        checked: Option<&Checked>,
        card: Option<&CardRecord>,
        decision: &Decision,
        periods: [String; 3],
        fraud: Option<&fraud::Decision>,
    ) -> Result<AuthorizationRecord> {
        let id = AuthorizationId::new();
        let hold_expires_us = draft.now_us + self.config.hold_ttl_secs * 1_000_000;
        let (status, reason, amount, volume, products) = match &decision.outcome {
            Outcome::Approved(a) => {
                (AuthStatus::Approved, None, a.amount_minor, a.volume_ml, a.products.clone())
            }
            Outcome::Declined { reason } => (AuthStatus::Declined, Some(*reason), 0, 0, Vec::new()),
        };
        let partial = decision.approval().is_some_and(|a| a.partial);
        let answer = AuthorizationAnswer {
            authorization_id: id,
            approved: status == AuthStatus::Approved,
            partial,
            response_code: response_code(reason, partial).to_owned(),
            reason: reason.map(|r| r.code().to_owned()),
            message: reason
                .map_or(
                    if partial { "Approved for part of the amount." } else { "Approved." },
                    DeclineReason::driver_message,
                )
                .to_owned(),
            approved_amount: amount,
            approved_volume_ml: volume,
            allowed_products: products,
            hold_expires_at: (status == AuthStatus::Approved)
                .then(|| issuing::views::rfc3339(hold_expires_us)),
        };
        let trace = json!({
            "checks": decision.checks,
            "fraud": fraud,
            "cryptogram": checked.map(|c| json!({"atc": c.payment.atc, "cdcvm": c.payment.cdcvm, "generated_at_ms": c.payment.generated_at_ms})),
        });
        Ok(AuthorizationRecord {
            id,
            org_id: checked.map(|c| c.payment.org_id),
            card_id: card.map(|c| c.id),
            token_id: checked.map(|c| c.payment.token_id),
            terminal_id: draft.terminal.id,
            station_id: draft.station.id,
            stan: draft.req.stan.clone(),
            transmitted_at: draft.req.transmitted_at.clone(),
            request_hash: draft.request_hash.to_owned(),
            entry_mode: draft.req.entry_mode_str().to_owned(),
            status,
            response_code: answer.response_code.clone(),
            reason: answer.reason.clone(),
            requested_amount: requested_amount(draft.req),
            approved_amount: amount,
            approved_volume_ml: volume,
            held_amount: amount,
            final_amount: None,
            final_volume_ml: None,
            product: None,
            periods,
            hold_expires_us,
            created_us: draft.now_us,
            settled_us: None,
            response: serde_json::to_string(&answer)
                .map_err(|e| IssuingError::Internal(e.to_string()))?,
            trace: trace.to_string(),
            version: 1,
        })
    }

    /// Declines failed payment data. Failures that point at a forged or cloned payload are
    /// counted against the named token's card for `RepeatedFailures`; expired data and clock
    /// skew are not: they are the two field failures of honest phones (DESIGN §1).
    async fn cryptogram_failed(
        &self,
        draft: &Draft<'_>,
        data: &tokens::PaymentData,
        decline: CryptogramDecline,
    ) -> Result<AuthorizationAnswer> {
        let suspicious =
            matches!(decline, CryptogramDecline::CryptogramInvalid | CryptogramDecline::Replayed);
        let features = if suspicious { self.tokens.named_card(data).await? } else { None };
        let features = features.map(|card| screening::cryptogram_failure(card, draft.now_us));
        self.decline_with(draft, None, cryptogram_reason(decline), features).await
    }

    /// Stores and answers a decline made before or without a decision. `checked` (when the
    /// cryptogram was good) only names the token and fleet in the record.
    async fn decline(
        &self,
        draft: &Draft<'_>,
        checked: Option<&Checked>,
        reason: DeclineReason,
    ) -> Result<AuthorizationAnswer> {
        self.decline_with(draft, checked, reason, None).await
    }

    async fn decline_with(
        &self,
        draft: &Draft<'_>,
        checked: Option<&Checked>,
        reason: DeclineReason,
        features: Option<store::FeatureUpdate>,
    ) -> Result<AuthorizationAnswer> {
        let decision = Decision { outcome: Outcome::Declined { reason }, checks: Vec::new() };
        let periods = [String::new(), String::new(), String::new()];
        let record = self.record(draft, checked, None, &decision, periods, None)?;
        let commit = AuthorizationCommit {
            record,
            nonce: draft.nonce.cloned(),
            claim: None,
            limits: [PeriodLimits::default(); 3],
            features,
            alerts: Vec::new(),
        };
        match self.commit(draft, &commit).await? {
            Ok(()) => answer_of(&commit.record),
            Err(CommitRefusal::Duplicate) => self.replay_stored(draft).await,
            Err(other) => {
                Err(IssuingError::Internal(format!("a decline could not be stored: {other:?}")))
            }
        }
    }

    /// The one place a pre-authorization commits: notes that the deferred nonce landed
    /// with it, and turns a nonce seen before into the replay refusal.
    async fn commit(
        &self,
        draft: &Draft<'_>,
        commit: &AuthorizationCommit,
    ) -> Result<std::result::Result<(), CommitRefusal>> {
        match self.store().commit_authorization(commit).await {
            Ok(Ok(())) => {
                draft.nonce_written.store(commit.nonce.is_some(), Ordering::Release);
                Ok(Ok(()))
            }
            Ok(Err(refusal)) => Ok(Err(refusal)),
            Err(e) => Err(crate::network::write_failed(e)),
        }
    }

    async fn replay_stored(&self, draft: &Draft<'_>) -> Result<AuthorizationAnswer> {
        let first = self
            .store()
            .find_authorization(draft.terminal.id, &draft.req.stan, &draft.req.transmitted_at)
            .await?;
        let first = first
            .ok_or_else(|| IssuingError::Internal("duplicate authorization vanished".into()))?;
        Ok(replay(&first, draft.request_hash))
    }
}

/// Runs the fraud rules on an approval (a decline already stops the fill; screening it
/// would only open noise alerts), turns a fraud decline into 59, and says what this
/// authorization adds to the card's features.
fn screen_decision(
    fill: &Fill<'_>,
    inputs: &store::DecisionInputs,
    decision: &mut Decision,
) -> Result<(Option<store::FeatureUpdate>, Option<screening::Screened>)> {
    match decision.outcome {
        Outcome::Approved(_) => {
            let screened = screening::screen(fill, inputs)?;
            if screened.decision.outcome == fraud::Outcome::Decline {
                let reason = DeclineReason::FraudSuspected;
                decision.outcome = Outcome::Declined { reason };
                return Ok((None, Some(screened)));
            }
            Ok((Some(screening::approval(fill)), Some(screened)))
        }
        Outcome::Declined { reason } if reason.code().starts_with("LIMIT_") => {
            Ok((Some(screening::limit_decline(fill.card, fill.now_us)), None))
        }
        Outcome::Declined { .. } => Ok((None, None)),
    }
}

/// A retry gets the first answer; a different request under the same identity is refused
/// (94) without being stored.
fn replay(first: &AuthorizationRecord, request_hash: &str) -> AuthorizationAnswer {
    if first.request_hash == request_hash {
        if let Ok(answer) = serde_json::from_str(&first.response) {
            return answer;
        }
    }
    let reason = DeclineReason::DuplicateTransmission;
    AuthorizationAnswer {
        authorization_id: first.id,
        approved: false,
        partial: false,
        response_code: reason.iso8583().to_owned(),
        reason: Some(reason.code().to_owned()),
        message: reason.driver_message().to_owned(),
        approved_amount: 0,
        approved_volume_ml: 0,
        allowed_products: Vec::<Product>::new(),
        hold_expires_at: None,
    }
}

fn answer_of(record: &AuthorizationRecord) -> Result<AuthorizationAnswer> {
    serde_json::from_str(&record.response).map_err(|e| IssuingError::Internal(e.to_string()))
}

fn response_code(reason: Option<DeclineReason>, partial: bool) -> &'static str {
    match (reason, partial) {
        (Some(r), _) => r.iso8583(),
        (None, true) => "10",
        (None, false) => "00",
    }
}

fn cryptogram_reason(d: CryptogramDecline) -> DeclineReason {
    match d {
        CryptogramDecline::CryptogramInvalid => DeclineReason::CryptogramInvalid,
        CryptogramDecline::CryptogramExpired => DeclineReason::CryptogramExpired,
        CryptogramDecline::ClockSkew => DeclineReason::ClockSkew,
        CryptogramDecline::Replayed => DeclineReason::Replayed,
        CryptogramDecline::KeyExhausted => DeclineReason::KeyExhausted,
        CryptogramDecline::TokenInactive => DeclineReason::TokenInactive,
        CryptogramDecline::CardSuspended => DeclineReason::CardSuspended,
        CryptogramDecline::CardBlocked => DeclineReason::CardBlocked,
        CryptogramDecline::CardClosed => DeclineReason::CardClosed,
    }
}

fn request_of(req: &AuthorizeRequest) -> authorize::Request {
    authorize::Request {
        amount_minor: req.amount,
        volume_ml: req.volume_ml,
        price_milli_minor_per_litre: req.unit_price,
        offered_products: req.products.clone(),
        partial_supported: req.partial_supported,
    }
}

/// The requested volume, or what the requested amount buys at the pump price.
fn requested_volume(req: &AuthorizeRequest) -> i64 {
    req.volume_ml
        .unwrap_or_else(|| authorize::volume_for_amount(req.amount.unwrap_or(0), req.unit_price))
}

/// The product the rules judge: the first fuel the decision allowed (what the pump will
/// most likely dispense), else the first offered.
fn screened_product(req: &AuthorizeRequest, decision: &Decision) -> Product {
    let allowed = decision.approval().map(|a| a.products.as_slice()).unwrap_or_default();
    allowed
        .iter()
        .chain(&req.products)
        .copied()
        .find(|p| p.is_fuel())
        .or_else(|| req.products.first().copied())
        .unwrap_or(Product::Diesel)
}

fn requested_amount(req: &AuthorizeRequest) -> i64 {
    req.amount
        .unwrap_or_else(|| authorize::amount_for_volume(req.volume_ml.unwrap_or(0), req.unit_price))
}

/// The per-period limits the commit re-checks in the database.
fn limits_of(c: &Effective) -> [PeriodLimits; 3] {
    let of = |p: &domain::controls::EffectivePeriod| PeriodLimits {
        amount: p.amount.as_ref().map(|l| l.value),
        volume_ml: p.volume_ml.as_ref().map(|l| l.value),
        fills: p.count.as_ref().map(|l| l.value),
    };
    [of(&c.daily), of(&c.weekly), of(&c.monthly)]
}

/// `now` in a named time zone (UTC if the name is unknown, which validation prevents).
/// The fleet's days, weeks and months everywhere (limits, windows, the console's
/// dashboard) come from this one function: exported as [`crate::local_time`].
pub fn local(now: OffsetDateTime, zone: &str) -> OffsetDateTime {
    match time_tz::timezones::get_by_name(zone) {
        Some(tz) => now.to_timezone(tz),
        None => now,
    }
}

/// The bound vehicle's tank, when fuel is offered: AdBlue and car washes do not fill it.
fn tank_capacity(vehicle: Option<&VehicleRecord>, req: &AuthorizeRequest) -> Option<i64> {
    let vehicle = vehicle?;
    req.products.iter().any(|p| p.is_fuel()).then_some(vehicle.tank_capacity_ml)
}

#[cfg(test)]
mod gate_tests {
    use super::Gate;
    use std::time::{Duration, Instant};

    #[test]
    fn the_first_to_settle_the_gate_decides() {
        let gate = Gate::until(Instant::now() + Duration::from_secs(60));
        assert!(gate.deliver(), "the answer goes out");
        assert!(!gate.abandon(), "too late to give up: wait for the answer");
        assert!(gate.deliver(), "delivering twice is harmless");

        let gate = Gate::until(Instant::now() + Duration::from_secs(60));
        assert!(gate.abandon(), "the caller answers 91");
        assert!(!gate.deliver(), "the pipeline's answer reaches nobody");
        assert!(!gate.abandon());
    }

    #[test]
    fn no_commit_starts_after_the_deadline() {
        assert!(Gate::until(Instant::now() + Duration::from_secs(60)).expired().is_ok());
        assert!(Gate::until(Instant::now()).expired().is_err());
        assert!(Gate::unbounded().expired().is_ok());
    }
}
