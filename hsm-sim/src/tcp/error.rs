//! Why a connection was closed. These never reach callers as such: the client turns them into
//! [`HsmError::Unavailable`](crate::HsmError::Unavailable), the server logs them. Messages name
//! what was wrong with a frame, never its content.

use thiserror::Error;

use super::MAX_FRAME_BYTES;

#[derive(Debug, Error)]
pub(crate) enum ProtocolError {
    #[error("connection closed by peer")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    #[error("frame failed its MAC check")]
    BadMac,
    #[error("frame sequence number {got} where {expected} was due (replayed or reordered)")]
    Sequence { expected: u64, got: u64 },
    #[error("frame timestamp is {0} ms off this clock")]
    ClockSkew(u64),
    #[error("peer did not prove the pre-shared key")]
    NotAuthenticated,
    #[error("timed out")]
    Timeout,
}
