//! A fuel station terminal (`forecourt-terminal`): reads the phone's payment data (QR, or
//! NFC over the wallet's HCE socket) and runs pre-authorization → dispense → completion
//! (or reversal) against the server with signed requests; `load` benchmarks the server.
//!
//! Depends on `emv` and general crates only, never on a server crate (DESIGN §2), so it
//! builds on its own.

pub mod client;
pub mod flow;
pub mod identity;
pub mod inspect;
pub mod load;
pub mod nfc;
pub mod register;

pub use inspect::{inspect, InspectError, Inspection, MaskedToken};

/// Errors of the networked commands: a message for the operator.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;
