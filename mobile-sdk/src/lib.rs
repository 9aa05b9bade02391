//! The phone side of Forecourt: what a driver's wallet app links.
//!
//! Depends on `emv` and general crates only, never on a server crate (DESIGN §2), so it
//! builds for a phone on its own (`default-features = false` also drops the demo CLI's
//! HTTP client and runtime).
//!
//! - [`clock`]: a server-synchronised clock that refuses to give a time when it cannot be
//!   trusted (never synced, stale, or the phone's clock jumped), so payment data is never
//!   generated from a wrong clock (DESIGN §4, first field failure);
//! - [`countdown`]: how long generated payment data stays valid, for the countdown bar
//!   (second field failure);
//! - [`store`]: where the device key, tokens, LUKs and counters live ([`SecureStore`]);
//! - [`wallet`]: enrolment, provisioning, signed time, QR payment data, replenishment;
//! - [`hce`]: the NFC card, answering a terminal's APDUs.
//!
//! Secrets (device key, LUKs, token PAN, cryptograms, session tokens) are wiped when
//! dropped and never appear in `Debug` output or error messages.

pub mod clock;
pub mod countdown;
#[doc(hidden)]
pub mod fuzzing;
pub mod hce;
pub mod secret;
pub mod store;
pub mod wallet;

pub use clock::{
    ClockError, ClockPolicy, ClockSample, ClockSync, DeviceClock, ManualClock, SystemDeviceClock,
};
pub use countdown::{render_bar, PaymentWindow};
pub use hce::HceSession;
pub use secret::{SecretBytes, SecretText, TokenPan};
pub use store::{FileStore, MemoryStore, SecureStore, StoreError, StoredLuk, StoredToken};
pub use wallet::{SignedTime, TokenSummary, Wallet, WalletError};
