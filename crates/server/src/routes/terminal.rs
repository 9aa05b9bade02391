//! The terminal API (every request signed by the terminal, `docs/TERMINAL-API.md`) and the
//! operator's stations and terminals.

use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, path_id, read_body, ApiJson, Auth, RawId};
use crate::state::AppState;
use authorizer::views::{AuthorizationAnswer, StationView, TerminalCreatedView, TerminalView};
use authorizer::Gate;
use authorizer::{
    AuthorizeRequest, CompleteRequest, CreateStation, CreateTerminal, ReverseByReference,
    SignedRequest, TerminalAuthError,
};
use axum::extract::{FromRequest, OriginalUri, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use domain::decline::{approval_message, DeclineReason, Lang};
use domain::AuthorizationId;
use emv::terminal_auth as ta;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{NonceClaim, TerminalRecord, TerminalStatus};
use tokio::task::JoinError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stations", post(create_station).get(list_stations))
        .route("/stations/{id}/terminals", post(create_terminal))
        .route("/terminals/{id}/suspend", post(suspend_terminal))
        .route("/terminals/{id}/resume", post(resume_terminal))
        .route("/terminal/authorizations", post(authorize))
        .route("/terminal/authorizations/{id}/completion", post(complete))
        .route("/terminal/authorizations/{id}/reversal", post(reverse))
        .route("/terminal/reversals", post(reverse_by_reference))
}

/// A signed terminal request: the authenticated terminal, the JSON body and the body's
/// hash (the message's fingerprint for idempotent retries). Its nonce is recorded before
/// the handler runs.
pub struct Signed<T> {
    terminal: TerminalRecord,
    body: T,
    body_hash: String,
}

/// A [`Signed`] request whose nonce is not recorded yet: the handler's one write records it
/// (`Authorizer::authorize_gated`, `Authorizer::complete_deferred`), which saves the hot
/// path one commit per request.
pub struct SignedDeferred<T> {
    signed: Signed<T>,
    nonce: NonceClaim,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let SignedDeferred { signed, nonce } = SignedDeferred::from_request(req, state).await?;
        let stored = state.authorizer.settle_nonce(&nonce, false, Ok(())).await?;
        stored.map_err(terminal_refused)?;
        Ok(signed)
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for SignedDeferred<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (terminal_id, timestamp, nonce, signature) = {
            let header = |name: &str| {
                req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
            };
            (
                header(ta::TERMINAL_ID_HEADER),
                header(ta::TIMESTAMP_HEADER),
                header(ta::NONCE_HEADER),
                header(ta::SIGNATURE_HEADER),
            )
        };
        let method = req.method().as_str().to_owned();
        // The request target as the terminal signed it: nesting under /v1 strips the prefix
        // from `req.uri()`, the original stays in an extension.
        let uri = req
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| req.uri().clone(), |o| o.0.clone());
        let path =
            uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
        let bytes = read_body(req, state).await?;
        let signed = SignedRequest {
            terminal_id: &terminal_id,
            timestamp_ms: &timestamp,
            nonce: &nonce,
            signature_hex: &signature,
            method: &method,
            path_and_query: &path,
            body: &bytes,
        };
        let verified = state.authorizer.authenticate_deferred(&signed).await?;
        let (terminal, nonce) = verified.map_err(terminal_refused)?;
        tracing::Span::current().record("user_id", tracing::field::display(terminal.id));
        let body = parse_json(&bytes)?;
        let body_hash = hex::encode(Sha256::digest(&bytes));
        Ok(Self { signed: Signed { terminal, body, body_hash }, nonce })
    }
}

fn terminal_refused(e: TerminalAuthError) -> ApiError {
    let (status, code) = match e {
        TerminalAuthError::BadSignature => (StatusCode::UNAUTHORIZED, "TERMINAL_SIGNATURE_INVALID"),
        TerminalAuthError::Stale => (StatusCode::UNAUTHORIZED, "TERMINAL_REQUEST_STALE"),
        TerminalAuthError::Replayed => (StatusCode::UNAUTHORIZED, "TERMINAL_REQUEST_REPLAYED"),
        TerminalAuthError::Suspended => (StatusCode::FORBIDDEN, "TERMINAL_SUSPENDED"),
    };
    ApiError::new(status, code, e.to_string())
}

/// Terminal bodies that carry nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A pre-authorization always gets an authorization answer once the request is well formed
/// and signed: a dependency that is down or slow, or the deadline passing, answers 91; an
/// unexpected fault answers 96 (`docs/TERMINAL-API.md`, "When the issuer cannot answer").
async fn authorize(State(s): State<AppState>, req: Request) -> Response {
    let lang = driver_lang(
        req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""),
    );
    // Shed before any work: past the limit the database could not finish the request
    // before its deadline anyway, and queueing it would make every other one late too.
    let Ok(_pending) = s.pending_authorizations.clone().try_acquire_owned() else {
        tracing::debug!("too many pre-authorizations in progress; answered 91");
        return fault_answer(DeclineReason::IssuerUnavailable, lang);
    };
    let deadline = deadline_of(&s);
    let extracted = tokio::time::timeout_at(
        deadline.into(),
        SignedDeferred::<AuthorizeRequest>::from_request(req, &s),
    )
    .await;
    let signed = match extracted {
        Ok(Ok(signed)) => signed,
        Ok(Err(refused)) => return fault_or(refused, lang),
        Err(_) => {
            tracing::warn!("authorization deadline passed before the terminal was authenticated");
            return fault_answer(DeclineReason::IssuerUnavailable, lang);
        }
    };
    match run_gated(&s, signed, deadline).await {
        None => {
            tracing::warn!("authorization deadline passed; answered 91");
            fault_answer(DeclineReason::IssuerUnavailable, lang)
        }
        Some(Ok(Ok(Ok(answer)))) => Json(localise(answer, lang)).into_response(),
        Some(Ok(Ok(Err(replayed)))) => terminal_refused(replayed).into_response(),
        Some(Ok(Err(e))) => fault_or(ApiError::from(e), lang),
        Some(Err(e)) => {
            tracing::error!(error = %e, "authorization task failed");
            fault_answer(DeclineReason::SystemError, lang)
        }
    }
}

/// Runs the pipeline in a task of its own and waits for it until `deadline`: the deadline
/// stops the waiting, never a commit in flight (a dropped transaction future could still
/// commit on the database). `None`: the deadline won, the terminal is answered 91.
async fn run_gated(
    s: &AppState,
    request: SignedDeferred<AuthorizeRequest>,
    deadline: Instant,
) -> Option<Result<issuing::Result<Result<AuthorizationAnswer, TerminalAuthError>>, JoinError>> {
    let gate = Arc::new(Gate::until(deadline));
    let mut task = tokio::spawn({
        let (authorizer, gate) = (s.authorizer.clone(), gate.clone());
        async move {
            let SignedDeferred { signed, nonce } = request;
            let (terminal, hash, body) = (&signed.terminal, &signed.body_hash, &signed.body);
            authorizer.authorize_gated(terminal, &nonce, hash, body, &gate).await
        }
    });
    match tokio::time::timeout_at(deadline.into(), &mut task).await {
        Ok(joined) => Some(joined),
        Err(_) if gate.abandon() => None,
        // The answer was handed over just as the deadline fired: it is moments away.
        Err(_) => Some(task.await),
    }
}

fn deadline_of(s: &AppState) -> Instant {
    Instant::now() + Duration::from_millis(s.authorizer.config().authorization_deadline_ms)
}

/// A refusal of the request itself (signature, body) keeps its HTTP status; a dependency
/// failure becomes a decline the pump can show.
fn fault_or(e: ApiError, lang: Lang) -> Response {
    match e.status {
        StatusCode::SERVICE_UNAVAILABLE => fault_answer(DeclineReason::IssuerUnavailable, lang),
        StatusCode::INTERNAL_SERVER_ERROR => fault_answer(DeclineReason::SystemError, lang),
        _ => e.into_response(),
    }
}

/// 200 with a decline that nothing was stored for (the database may be the failure). Its
/// id is fresh and unknown to the server: a terminal reverses such a request by reference.
fn fault_answer(reason: DeclineReason, lang: Lang) -> Response {
    Json(AuthorizationAnswer {
        authorization_id: AuthorizationId::new(),
        approved: false,
        partial: false,
        response_code: reason.iso8583().to_owned(),
        reason: Some(reason.code().to_owned()),
        message: reason.driver_message_in(lang).to_owned(),
        approved_amount: 0,
        approved_volume_ml: 0,
        allowed_products: Vec::new(),
        hold_expires_at: None,
    })
    .into_response()
}

/// The answer's display text in the driver's language (stored answers are in English).
fn localise(mut answer: AuthorizationAnswer, lang: Lang) -> AuthorizationAnswer {
    if lang == Lang::En {
        return answer;
    }
    match answer.reason.as_deref().map(DeclineReason::from_code) {
        Some(Some(reason)) => answer.message = reason.driver_message_in(lang).to_owned(),
        Some(None) => {}
        None => answer.message = approval_message(answer.partial, lang).to_owned(),
    }
    answer
}

/// The driver's language from `Accept-Language` (RFC 9110 §12.5.4): of the languages we
/// speak (`ru`, `en`; `*` counts as `en`), the one with the highest q-value, the earlier on
/// a tie; `q=0` excludes; entries with a malformed q are ignored. Default `en`.
pub fn driver_lang(header: &str) -> Lang {
    let mut best: Option<(u16, Lang)> = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let tag = parts.next().unwrap_or_default().to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or_default();
        let lang = match primary {
            "ru" => Lang::Ru,
            "en" | "*" => Lang::En,
            _ => continue,
        };
        let Some(q) = parts.try_fold(1000_u16, |q, p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("q") => q_millis(v.trim()),
            _ => Some(q),
        }) else {
            continue;
        };
        if q > 0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map_or(Lang::En, |(_, lang)| lang)
}

/// A q-value (`0`, `0.5`, `1.000`: at most three decimals, at most 1) in thousandths.
fn q_millis(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u16 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let frac_millis = format!("{frac:0<3}").parse::<u16>().ok()?;
    let q = int * 1000 + frac_millis;
    (q <= 1000).then_some(q)
}

/// Completion and reversal within the same deadline. They are idempotent, so a dependency
/// that is down or slow answers 503 `DEPENDENCY_UNAVAILABLE` with `Retry-After`, and the
/// terminal sends them again (new signature, same values) until it gets a 2xx or a 4xx.
/// Cancelling one mid-commit is safe: it either landed, and the retry answers the same, or
/// it rolled back.
async fn within_deadline<T>(
    s: &AppState,
    work: impl Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    let deadline = deadline_of(s);
    match tokio::time::timeout_at(deadline.into(), work).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("terminal request deadline passed; answered 503");
            Err(ApiError::deadline_passed())
        }
    }
}

async fn complete(State(s): State<AppState>, RawId(id): RawId, req: Request) -> Response {
    within_deadline(&s, async {
        let SignedDeferred { signed, nonce } =
            SignedDeferred::<CompleteRequest>::from_request(req, &s).await?;
        let id = path_id("authorization_id", &id);
        // A malformed id writes nothing: the nonce is recorded alone, a replay refused.
        let completed = match id {
            Ok(id) => {
                s.authorizer.complete_deferred(&signed.terminal, &nonce, id, &signed.body).await
            }
            Err(bad) => {
                let recorded = s.authorizer.settle_nonce(&nonce, false, Ok(())).await?;
                recorded.map_err(terminal_refused)?;
                return Err(bad);
            }
        };
        Ok(Json(completed?.map_err(terminal_refused)?))
    })
    .await
    .into_response()
}

async fn reverse(State(s): State<AppState>, RawId(id): RawId, req: Request) -> Response {
    within_deadline(&s, async {
        let req = Signed::<Empty>::from_request(req, &s).await?;
        let id = path_id("authorization_id", &id)?;
        Ok(Json(s.authorizer.reverse(&req.terminal, id).await?))
    })
    .await
    .into_response()
}

/// 200 with the reversed authorization, or 202 when the original was never seen (the
/// reversal is remembered and the late original will be declined).
async fn reverse_by_reference(State(s): State<AppState>, req: Request) -> Response {
    within_deadline(&s, async {
        let req = Signed::<ReverseByReference>::from_request(req, &s).await?;
        let reversed = s.authorizer.reverse_by_reference(&req.terminal, &req.body).await?;
        let status = if reversed.is_some() { StatusCode::OK } else { StatusCode::ACCEPTED };
        Ok((status, Json(reversed)))
    })
    .await
    .into_response()
}

async fn create_station(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<CreateStation>,
) -> ApiResult<(StatusCode, Json<StationView>)> {
    Ok((StatusCode::CREATED, Json(s.authorizer.create_station(&who, &req).await?)))
}

async fn list_stations(
    State(s): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<Vec<StationView>>> {
    Ok(Json(s.authorizer.list_stations(&who).await?))
}

async fn create_terminal(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
    ApiJson(req): ApiJson<CreateTerminal>,
) -> ApiResult<(StatusCode, Json<TerminalCreatedView>)> {
    let station = path_id("station_id", &id)?;
    Ok((StatusCode::CREATED, Json(s.authorizer.create_terminal(&who, station, &req).await?)))
}

async fn suspend_terminal(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<TerminalView>> {
    Ok(Json(
        s.authorizer
            .set_terminal_status(&who, path_id("terminal_id", &id)?, TerminalStatus::Suspended)
            .await?,
    ))
}

async fn resume_terminal(
    State(s): State<AppState>,
    Auth(who): Auth,
    RawId(id): RawId,
) -> ApiResult<Json<TerminalView>> {
    Ok(Json(
        s.authorizer
            .set_terminal_status(&who, path_id("terminal_id", &id)?, TerminalStatus::Active)
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::{driver_lang, q_millis};
    use domain::decline::Lang;

    #[test]
    fn accept_language_picks_the_preferred_language_we_speak() {
        assert_eq!(driver_lang(""), Lang::En);
        assert_eq!(driver_lang("ru"), Lang::Ru);
        assert_eq!(driver_lang("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"), Lang::Ru);
        assert_eq!(driver_lang("en;q=0.5, ru;q=0.6"), Lang::Ru);
        assert_eq!(driver_lang("en, ru"), Lang::En, "a tie goes to the earlier");
        assert_eq!(driver_lang("ru;q=0.5, en"), Lang::En, "q defaults to 1");
        assert_eq!(driver_lang("RU-ru ; Q=0.8"), Lang::Ru, "case-insensitive, spaces");
        assert_eq!(driver_lang("de, fr;q=0.9"), Lang::En, "nothing we speak");
        assert_eq!(driver_lang("ru;q=0"), Lang::En, "q=0 excludes");
        assert_eq!(driver_lang("de, *;q=0.1, ru;q=0.05"), Lang::En, "* is English");
        assert_eq!(driver_lang("ru;q=2, en;q=0.1"), Lang::En, "a malformed q is ignored");
        assert_eq!(driver_lang("ru;q=abc"), Lang::En);
        assert_eq!(driver_lang(",,;q=1,ru;level=1"), Lang::Ru, "other parameters are ignored");
    }

    #[test]
    fn q_values_are_thousandths() {
        assert_eq!(q_millis("1"), Some(1000));
        assert_eq!(q_millis("1.000"), Some(1000));
        assert_eq!(q_millis("0.5"), Some(500));
        assert_eq!(q_millis("0.123"), Some(123));
        assert_eq!(q_millis("0"), Some(0));
        for bad in ["1.001", "0.1234", "2", "-0.5", "", ".5", "0.x", "01"] {
            assert_eq!(q_millis(bad), None, "{bad}");
        }
    }
}
