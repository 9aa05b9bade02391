//! A fuel station terminal (`forecourt-terminal`): reads the phone's payment data and, in
//! later slices, runs pre-authorization → dispense → completion against the server.
//!
//! Depends on `emv` only, never on a server crate (DESIGN §2), so it builds on its own.
//! This first slice reads and checks a QR payload ([`inspect()`]).

pub mod inspect;

pub use inspect::{inspect, InspectError, Inspection, MaskedToken};
