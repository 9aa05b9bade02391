//! The phone side of Forecourt: what a driver's wallet app links.
//!
//! Depends on `emv` only, never on a server crate (DESIGN §2), so it builds for a phone on
//! its own. This first slice holds the two answers to the field failures (DESIGN §4):
//! - [`clock`]: a server-synchronised clock that refuses to give a time when it cannot be
//!   trusted (never synced, stale, or the phone's clock jumped), so payment data is never
//!   generated from a wrong clock;
//! - [`countdown`]: how long generated payment data stays valid, for the countdown bar.

pub mod clock;
pub mod countdown;

pub use clock::{
    ClockError, ClockPolicy, ClockSample, ClockSync, DeviceClock, ManualClock, SystemDeviceClock,
};
pub use countdown::{render_bar, PaymentWindow};
