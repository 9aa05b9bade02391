//! The phone's server-synchronised clock (DESIGN §4, first field failure).
//!
//! Phones whose wall clock was off produced payment data the authorizer refused. So the
//! SDK never uses the wall clock as the time: it records the server time once
//! ([`ClockSync::record`], from `GET /v1/time`) and from then on counts forward on the
//! device's *monotonic* clock, which the user and the network cannot change. The wall
//! clock is only used as a tripwire: if it moved differently from the monotonic clock
//! since the sync, someone changed it and the SDK asks for a new sync rather than guess.

mod device;
mod sync;

pub use device::{ClockSample, DeviceClock, ManualClock, SystemDeviceClock};
pub use sync::{ClockError, ClockPolicy, ClockSync};
