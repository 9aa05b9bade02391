//! Why the wallet refused. Messages are written so an app can show them to the driver,
//! and never carry a key, a PAN, a cryptogram or a server answer's contents.

use crate::clock::ClockError;
use crate::store::StoreError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The synchronised clock cannot be trusted (never synced, stale, jumped, restarted);
    /// the variant says which. Cured by syncing.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// No key with uses left at the synchronised time: replenish (online) first.
    #[error("No payment keys left on this phone; connect to get new ones")]
    NeedsReplenish,
    #[error("No card is set up on this phone yet")]
    NoToken,
    #[error("This phone holds no such card token")]
    UnknownToken,
    /// The token's 16-bit transaction counter is used up (after 65535 payments).
    #[error("This card's payment counter is used up; set the card up again")]
    AtcExhausted,
    #[error("The time answer was not for the request this phone sent")]
    TimeNonce,
    #[error("The time answer is not signed by the server's time key")]
    TimeSignature,
    #[error("The time answer is signed by a different key than the one this phone trusts")]
    TimeKeyMismatch,
    /// A provisioning or replenishment answer is malformed; names the field only.
    #[error("The server's card answer is malformed ({0})")]
    Provisioning(&'static str),
    #[error("The server's key batch is not for this phone")]
    Batch,
    #[error("The phone's random number generator failed")]
    Random,
    /// Payment data could not be encoded (a bug, or terminal data out of range).
    #[error("Payment data could not be built ({0})")]
    Encoding(&'static str),
    #[error("Secure storage: {0}")]
    Store(StoreError),
}

impl From<StoreError> for WalletError {
    fn from(e: StoreError) -> WalletError {
        match e {
            StoreError::Batch => WalletError::Batch,
            StoreError::AtcExhausted => WalletError::AtcExhausted,
            StoreError::UnknownToken => WalletError::UnknownToken,
            StoreError::KeyExhausted => WalletError::NeedsReplenish,
            StoreError::Random => WalletError::Random,
            other => WalletError::Store(other),
        }
    }
}
