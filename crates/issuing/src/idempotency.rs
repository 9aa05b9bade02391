//! `Idempotency-Key` on create requests: the same key with the same request returns the
//! first answer; the same key with another request is refused.
//!
//! The record is written in the same transaction as the object it created, so an answer is
//! remembered exactly when the object exists. Two concurrent requests with one key race on
//! the record's primary key; the loser rolls back and replays the winner's answer.

use crate::error::{IssuingError, Result};
use crate::principal::Principal;
use crate::service::{now_us, to_json};
use domain::FieldError;
use serde::Serialize;
use store::{IdempotencyRecord, Store, StoreError};

pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// HTTP status of a successful create.
const CREATED: u16 = 201;

/// The key a client sent, with a hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    request_hash: String,
}

impl IdempotencyKey {
    /// `request_hash` must cover method, path and body (the server computes it).
    pub fn new(key: &str, request_hash: String) -> Result<Self, FieldError> {
        let ok = (1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&key.len())
            && key.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(FieldError::invalid(
                "Idempotency-Key",
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"),
            ));
        }
        Ok(Self { key: key.to_owned(), request_hash })
    }
}

/// The answer to a create: made now, or replayed from the first request with this key.
#[derive(Debug)]
pub enum Created<T> {
    Fresh(T),
    Replayed { status: u16, body: String },
}

/// Looks the key up before doing any work.
pub async fn replay<S: Store, T>(
    store: &S,
    actor: &Principal,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Created<T>>> {
    let Some(key) = key else { return Ok(None) };
    match store.get_idempotency(actor.user_id, &key.key).await? {
        None => Ok(None),
        Some(rec) if rec.request_hash == key.request_hash => {
            Ok(Some(Created::Replayed { status: rec.status, body: rec.body }))
        }
        Some(_) => Err(IssuingError::IdempotencyMismatch),
    }
}

/// The record to write with the created object, holding its response body.
pub fn record<T: Serialize>(
    actor: &Principal,
    key: Option<&IdempotencyKey>,
    response: &T,
) -> Result<Option<IdempotencyRecord>> {
    key.map(|k| {
        Ok(IdempotencyRecord {
            actor_id: actor.user_id,
            key: k.key.clone(),
            org_id: actor.org_id,
            request_hash: k.request_hash.clone(),
            status: CREATED,
            body: to_json(response)?,
            created_us: now_us(),
        })
    })
    .transpose()
}

/// Runs a create; if a concurrent request with the same key won the race, answers with
/// its result instead.
pub async fn settle<S: Store, T>(
    store: &S,
    actor: &Principal,
    key: Option<&IdempotencyKey>,
    created: std::result::Result<T, StoreError>,
) -> Result<Created<T>> {
    match created {
        Ok(value) => Ok(Created::Fresh(value)),
        Err(StoreError::IdempotencyKeyTaken) => replay(store, actor, key)
            .await?
            .ok_or_else(|| IssuingError::Internal("idempotency record vanished".into())),
        Err(other) => Err(other.into()),
    }
}
