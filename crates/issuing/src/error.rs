use domain::FieldError;
use thiserror::Error;

/// Every way an issuing request can fail. The server maps each variant to one HTTP status
/// and a stable machine-readable code; messages never carry secrets or internals.
#[derive(Debug, Error)]
pub enum IssuingError {
    #[error("{0}")]
    Invalid(FieldError),
    /// The object does not exist *or* is outside the caller's scope: the two are
    /// indistinguishable on purpose, so ids cannot be probed.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller's role may never do this, whatever the object.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A business rule refused the change (`code` is specific: `INVALID_TRANSITION`, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    /// A dependency (the HSM) cannot be reached right now: retry later.
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
    /// A dependency (database, HSM) failed; details go to the log, not to the caller.
    #[error("internal error")]
    Internal(String),
}

impl IssuingError {
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
}

impl From<FieldError> for IssuingError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

impl From<store::StoreError> for IssuingError {
    fn from(e: store::StoreError) -> Self {
        use store::StoreError::*;
        match e {
            NotFound => Self::NotFound("object"),
            VersionConflict => Self::conflict(
                "CONCURRENT_UPDATE",
                "the object was changed by another request; read it again and retry",
            ),
            Duplicate(what) => {
                Self::conflict("ALREADY_EXISTS", format!("{what} is already in use"))
            }
            IdempotencyKeyTaken => Self::conflict("IDEMPOTENCY_IN_PROGRESS", "retry the request"),
            GroupDeactivated => crate::users::group_deactivated(),
            other if other.is_unavailable() => {
                tracing::warn!(cause = ?std::error::Error::source(&other), "database unavailable");
                Self::Unavailable("the database")
            }
            // The driver's message names the failure (constraint, SQLSTATE), never a bound
            // value: safe for the log, and the log is the only place it goes.
            other => match std::error::Error::source(&other) {
                Some(source) => Self::Internal(format!("store: {other}: {source}")),
                None => Self::Internal(format!("store: {other}")),
            },
        }
    }
}

impl From<hsm_sim::HsmError> for IssuingError {
    fn from(e: hsm_sim::HsmError) -> Self {
        // HsmError messages are already free of key material.
        match e {
            hsm_sim::HsmError::Unavailable(why) => {
                tracing::warn!(%why, "HSM unavailable");
                Self::Unavailable("the HSM")
            }
            other => Self::Internal(format!("hsm: {other}")),
        }
    }
}

pub type Result<T, E = IssuingError> = std::result::Result<T, E>;

/// Maps "row not found" to a not-found error naming the object kind.
pub(crate) trait NotFoundAs<T> {
    fn or_not_found(self, what: &'static str) -> Result<T>;
}

impl<T> NotFoundAs<T> for Result<T, store::StoreError> {
    fn or_not_found(self, what: &'static str) -> Result<T> {
        self.map_err(|e| match e {
            store::StoreError::NotFound => IssuingError::NotFound(what),
            other => other.into(),
        })
    }
}
