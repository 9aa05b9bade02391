//! `hsm_sim`: a software stand-in for a payment HSM.
//!
//! - [`lmk`]: the local master key, split into components held by different custodians.
//! - [`keyblock`] / [`keystore`]: keys wrapped under the LMK with an authenticated header,
//!   persisted atomically in `<dir>/keystore.json`.
//! - [`Engine`]: opens the store and executes verbs ([`Request`] → [`Response`]).
//! - [`HsmClient`]: the async handle services hold; the transport (in-process, or [`tcp`] to
//!   `forecourt-hsm serve`) is hidden behind it.
//!
//! Master keys and clear keys never leave this crate. The clear PAN leaves only through
//! `DecryptPan`, as a [`Pan`] that cannot be printed or serialized in clear by accident.

mod client;
mod client_verbs;
mod cryptogram_ops;
mod demo;
mod engine;
mod error;
mod fsutil;
mod hexser;
mod kdf;
pub mod keyblock;
pub mod keystore;
pub mod labels;
pub mod lmk;
mod material;
mod pan;
mod pan_ops;
mod sign_ops;
pub mod tcp;
mod terminal_ops;
mod verbs;

pub use client::HsmClient;
pub use demo::DEMO_COMPONENTS_FILE;
pub use engine::Engine;
pub use error::HsmError;
pub use keyblock::{KeyAlgorithm, KeyUsage};
pub use keystore::{init, InitReport};
pub use lmk::Component;
pub use pan::Pan;
pub use tcp::{Psk, TcpClientConfig};
pub use verbs::{
    HealthReport, IssuedPan, IssuerKeyInfo, LukSpec, Request, Response, TerminalSecret,
};
