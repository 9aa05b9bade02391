//! The acceptance network: stations and their terminals (issuer operators register them),
//! and the authentication of every terminal request before any other work.

use crate::views::{StationView, TerminalCreatedView, TerminalView};
use crate::{now_us, Authorizer};
use domain::{validate, FieldError, Product, Role, StationId, TerminalId};
use issuing::{IssuingError, Principal, Result};
use serde::Deserialize;
use store::{
    AuthorizerStore, NonceClaim, StationRecord, Store, StoreError, TerminalRecord, TerminalStatus,
};

pub const MAX_STATION_NAME_CHARS: usize = 120;
/// Micro-degrees bound of a latitude / longitude.
const MAX_LAT_E6: i64 = 90_000_000;
const MAX_LON_E6: i64 = 180_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStation {
    pub name: String,
    pub merchant_id: String,
    pub lat_e6: i64,
    pub lon_e6: i64,
    pub time_zone: String,
    pub products: Vec<Product>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTerminal {
    pub label: String,
}

/// A terminal request as received: the headers of `emv::terminal_auth` and the raw body.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    pub terminal_id: &'a str,
    pub timestamp_ms: &'a str,
    pub nonce: &'a str,
    pub signature_hex: &'a str,
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

/// Why a terminal request was refused before it was read. Deliberately coarse towards the
/// caller: which check failed goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TerminalAuthError {
    #[error("the request is not signed, or the signature does not verify")]
    BadSignature,
    #[error("the request's timestamp is outside the accepted window")]
    Stale,
    #[error("this nonce was already used")]
    Replayed,
    #[error("the terminal is suspended")]
    Suspended,
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    pub async fn create_station(
        &self,
        who: &Principal,
        req: &CreateStation,
    ) -> Result<StationView> {
        who.require(&[Role::Operator], "only platform operators register stations")?;
        if !(-MAX_LAT_E6..=MAX_LAT_E6).contains(&req.lat_e6) {
            return Err(
                FieldError::out_of_range("lat_e6", "micro-degrees, -90000000 to 90000000").into()
            );
        }
        if !(-MAX_LON_E6..=MAX_LON_E6).contains(&req.lon_e6) {
            return Err(FieldError::out_of_range(
                "lon_e6",
                "micro-degrees, -180000000 to 180000000",
            )
            .into());
        }
        if req.products.is_empty() {
            return Err(FieldError::invalid("products", "name what the station sells").into());
        }
        let station = StationRecord {
            id: StationId::new(),
            name: validate::text("name", &req.name, MAX_STATION_NAME_CHARS)?,
            merchant_id: validate::text("merchant_id", &req.merchant_id, 40)?,
            lat_e6: req.lat_e6,
            lon_e6: req.lon_e6,
            time_zone: validate::time_zone("time_zone", &req.time_zone)?,
            products: req.products.clone(),
            created_us: now_us(),
        };
        self.store().create_station(&station).await?;
        Ok(StationView::from(&station))
    }

    pub async fn list_stations(&self, who: &Principal) -> Result<Vec<StationView>> {
        who.require(&[Role::Operator, Role::FraudAnalyst], "stations are the issuer's")?;
        Ok(self.store().list_stations().await?.iter().map(StationView::from).collect())
    }

    /// Registers a terminal; its signing secret is shown in this answer only.
    pub async fn create_terminal(
        &self,
        who: &Principal,
        station: StationId,
        req: &CreateTerminal,
    ) -> Result<TerminalCreatedView> {
        who.require(&[Role::Operator], "only platform operators register terminals")?;
        let station = match self.store().get_station(station).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(IssuingError::NotFound("station")),
            Err(e) => return Err(e.into()),
        };
        let id = TerminalId::new();
        let (secret, wrapped) = self.hsm.generate_terminal_secret(&id.to_string()).await?;
        let terminal = TerminalRecord {
            id,
            station_id: station.id,
            label: validate::text("label", &req.label, 60)?,
            secret_wrapped: wrapped,
            status: TerminalStatus::Active,
            created_us: now_us(),
            version: 1,
        };
        self.store().create_terminal(&terminal).await?;
        Ok(TerminalCreatedView {
            terminal: TerminalView::from(&terminal),
            secret: hex::encode(secret.as_slice()),
        })
    }

    pub async fn set_terminal_status(
        &self,
        who: &Principal,
        id: TerminalId,
        status: TerminalStatus,
    ) -> Result<TerminalView> {
        who.require(&[Role::Operator], "only platform operators manage terminals")?;
        let mut terminal = match self.store().get_terminal(id).await {
            Ok(t) => t,
            Err(StoreError::NotFound) => return Err(IssuingError::NotFound("terminal")),
            Err(e) => return Err(e.into()),
        };
        terminal.status = status;
        self.store().set_terminal_status(&terminal).await?;
        Ok(TerminalView::from(&terminal))
    }

    /// Authenticates a terminal request: known terminal, fresh timestamp, signature verified
    /// by the HSM, active terminal — in that order, before anything else. The nonce is
    /// returned unrecorded: the caller records it in the request's own write
    /// (`AuthorizationCommit::nonce`), or alone ([`Self::settle_nonce`]) when the request
    /// writes nothing, always before it answers; a nonce seen before is a replay.
    pub async fn authenticate_deferred(
        &self,
        req: &SignedRequest<'_>,
    ) -> Result<Result<(TerminalRecord, NonceClaim), TerminalAuthError>> {
        use TerminalAuthError::*;
        let Ok(id) = req.terminal_id.parse::<TerminalId>() else { return Ok(Err(BadSignature)) };
        let terminal = match self.store().get_terminal(id).await {
            Ok(t) => t,
            Err(StoreError::NotFound) => return Ok(Err(BadSignature)),
            Err(e) => return Err(e.into()),
        };
        let now_ms = now_us() / 1_000;
        let Some(timestamp_ms) = emv::terminal_auth::parse_timestamp(req.timestamp_ms) else {
            return Ok(Err(Stale));
        };
        if !emv::terminal_auth::fresh(now_ms, timestamp_ms) {
            return Ok(Err(Stale));
        }
        let mac = emv::terminal_auth::parse_signature(req.signature_hex);
        let Some(mac) = mac.filter(|_| emv::terminal_auth::valid_nonce(req.nonce)) else {
            return Ok(Err(BadSignature));
        };
        let message = emv::terminal_auth::canonical_request(
            req.method,
            req.path_and_query,
            req.terminal_id,
            timestamp_ms,
            req.nonce,
            req.body,
        );
        if !self
            .hsm
            .verify_terminal_mac(req.terminal_id, &terminal.secret_wrapped, &message, &mac)
            .await?
        {
            tracing::warn!(terminal_id = %id, "terminal signature refused");
            return Ok(Err(BadSignature));
        }
        if terminal.status != TerminalStatus::Active {
            return Ok(Err(Suspended));
        }
        let nonce = NonceClaim { terminal: id, nonce: req.nonce.to_owned(), now_us: now_us() };
        Ok(Ok((terminal, nonce)))
    }

    /// Ends a request whose nonce was deferred: `written` says whether the request's own
    /// write recorded it. A nonce no write carried is recorded alone now; seen before, the
    /// request is a replay and its outcome is withheld (it wrote nothing: every write of a
    /// deferred request carries the nonce). A write refused for the nonce is a replay too.
    ///
    /// One exception: a write that failed with its database unreachable may still have
    /// committed, nonce and all (the connection died during `COMMIT`). Its nonce then
    /// looks seen, by the request itself, so that failure stands as the answer (a
    /// retryable 503, or 91 for a pre-authorization): the terminal's retry, with a fresh
    /// nonce, gets the first answer. No successful answer is ever given for a seen nonce.
    pub async fn settle_nonce<T>(
        &self,
        nonce: &NonceClaim,
        written: bool,
        outcome: Result<T>,
    ) -> Result<Result<T, TerminalAuthError>> {
        if matches!(&outcome, Err(e) if is_nonce_seen(e)) {
            return Ok(Err(TerminalAuthError::Replayed));
        }
        if written {
            return outcome.map(Ok);
        }
        let (t, n) = (nonce.terminal, nonce.nonce.as_str());
        match self.store().remember_nonce(t, n, nonce.now_us).await {
            Ok(false) if matches!(&outcome, Err(e) if may_have_committed(e)) => outcome.map(Ok),
            Ok(false) => Ok(Err(TerminalAuthError::Replayed)),
            Ok(true) => outcome.map(Ok),
            // The outcome stands when it is a failure already; an answer is not given
            // without its nonce recorded.
            Err(e) => outcome.and(Err(e.into())).map(Ok),
        }
    }

    /// Forgets the nonces no fresh request can carry any more, in batches of
    /// `nonce_sweep_batch_size` until none is left; returns how many. Run periodically.
    pub async fn forget_old_nonces(&self) -> Result<u64> {
        let seen_before_us = now_us() - NONCE_MEMORY_US;
        // At least one per statement, or a zero would never end the loop.
        let batch = self.config.nonce_sweep_batch_size.max(1);
        let mut forgot = 0;
        loop {
            let n = self.store().forget_nonces(seen_before_us, batch).await?;
            forgot += n;
            if n < batch.unsigned_abs() {
                return Ok(forgot);
            }
        }
    }
}

/// How long a nonce is remembered: twice the freshness skew. A request is fresh for at
/// most ±`MAX_CLOCK_SKEW_MS` around its timestamp, so a nonce older than this can only
/// come on a request the timestamp check refuses (`docs/TERMINAL-API.md`, step 5).
pub const NONCE_MEMORY_US: i64 = emv::terminal_auth::MAX_CLOCK_SKEW_MS * 2 * 1_000;

/// A deferred request's write failed: a nonce seen before becomes [`NONCE_SEEN`], which
/// [`Authorizer::settle_nonce`] answers as the replay refusal; the rest map as usual.
pub(crate) fn write_failed(e: StoreError) -> IssuingError {
    match e {
        StoreError::Duplicate("nonce") => {
            IssuingError::conflict(NONCE_SEEN, "the request's nonce was already used")
        }
        e => e.into(),
    }
}

/// A failure that leaves unknown whether the request's write committed.
fn may_have_committed(e: &IssuingError) -> bool {
    matches!(e, IssuingError::Unavailable(_) | IssuingError::Internal(_))
}

fn is_nonce_seen(e: &IssuingError) -> bool {
    matches!(e, IssuingError::Conflict { code: NONCE_SEEN, .. })
}

/// The code a deferred request's write carries when its nonce was seen before; never
/// answered as such.
const NONCE_SEEN: &str = "NONCE_SEEN";
