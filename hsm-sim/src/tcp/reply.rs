//! The JSON payloads of frames: a [`Request`](crate::Request) from the client, a [`Reply`]
//! from the HSM.
//!
//! Errors travel as [`WireError`], a mirror of [`HsmError`] with adjacent tagging
//! (`{"error": "key_not_found", "detail": "…"}`): `HsmError`'s own internally tagged serde
//! cannot encode its string-carrying variants, and a wire format of our own also stays
//! stable if the in-memory type changes.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::HsmError;
use crate::keyblock::KeyUsage;
use crate::verbs::Response;

/// What the HSM answers to one request.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reply {
    Ok(Response),
    Err(WireError),
}

/// [`HsmError`] on the wire.
#[derive(Serialize, Deserialize)]
#[serde(tag = "error", content = "detail", rename_all = "snake_case")]
pub(crate) enum WireError {
    Crypto,
    KeyNotFound(String),
    UsageNotPermitted { label: String, usage: KeyUsage },
    InvalidRequest(String),
    Storage(String),
    LmkMismatch { expected: String, got: String },
    Unavailable(String),
}

impl From<Result<Response, HsmError>> for Reply {
    fn from(result: Result<Response, HsmError>) -> Self {
        match result {
            Ok(response) => Self::Ok(response),
            Err(e) => Self::Err(e.into()),
        }
    }
}

impl From<Reply> for Result<Response, HsmError> {
    fn from(reply: Reply) -> Self {
        match reply {
            Reply::Ok(response) => Ok(response),
            Reply::Err(e) => Err(e.into()),
        }
    }
}

impl From<HsmError> for WireError {
    fn from(e: HsmError) -> Self {
        match e {
            HsmError::Crypto => Self::Crypto,
            HsmError::KeyNotFound(m) => Self::KeyNotFound(m),
            HsmError::UsageNotPermitted { label, usage } => {
                Self::UsageNotPermitted { label, usage }
            }
            HsmError::InvalidRequest(m) => Self::InvalidRequest(m),
            HsmError::Storage(m) => Self::Storage(m),
            HsmError::LmkMismatch { expected, got } => Self::LmkMismatch { expected, got },
            HsmError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl From<WireError> for HsmError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Crypto => Self::Crypto,
            WireError::KeyNotFound(m) => Self::KeyNotFound(m),
            WireError::UsageNotPermitted { label, usage } => {
                Self::UsageNotPermitted { label, usage }
            }
            WireError::InvalidRequest(m) => Self::InvalidRequest(m),
            WireError::Storage(m) => Self::Storage(m),
            WireError::LmkMismatch { expected, got } => Self::LmkMismatch { expected, got },
            WireError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

/// JSON of `value`, in zeroizing memory since requests and replies may carry a clear PAN.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    serde_json::to_vec(value)
        .map(Zeroizing::new)
        .map_err(|e| HsmError::Unavailable(format!("cannot encode an HSM frame payload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_survives_the_wire() {
        let errors = [
            HsmError::Crypto,
            HsmError::KeyNotFound("k v2".into()),
            HsmError::UsageNotPermitted {
                label: "pan-data".into(),
                usage: KeyUsage::PanEncryption,
            },
            HsmError::InvalidRequest("bin".into()),
            HsmError::Storage("disk".into()),
            HsmError::LmkMismatch { expected: "AAAAAA".into(), got: "BBBBBB".into() },
            HsmError::Unavailable("down".into()),
        ];
        for e in errors {
            let json = to_json(&Reply::from(Err(e.clone()))).unwrap();
            let back: Reply = serde_json::from_slice(&json).unwrap();
            assert_eq!(Result::<Response, HsmError>::from(back).unwrap_err(), e);
        }
    }

    #[test]
    fn error_json_is_adjacently_tagged() {
        let json = to_json(&Reply::from(Err(HsmError::KeyNotFound("x".into())))).unwrap();
        assert_eq!(json.as_slice(), br#"{"err":{"error":"key_not_found","detail":"x"}}"#);
    }
}
