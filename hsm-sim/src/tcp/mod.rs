//! The HSM over TCP: `forecourt-hsm serve` runs the [`Engine`](crate::Engine) as its own
//! process and [`HsmClient::tcp`](crate::HsmClient::tcp) talks to it, so callers use the same
//! typed helpers whichever way the HSM runs. The protocol is specified in `docs/HSM.md`.
//!
//! - [`psk`]: the pre-shared key both ends hold.
//! - `wire`: length-prefixed frames on a byte stream, with a size limit.
//! - `handshake`: mutual proof of the PSK over fresh nonces, giving a per-connection session.
//! - `session`: seals and opens frame bodies (header, JSON payload, HMAC tag), enforcing
//!   direction, session id, sequence numbers and clock skew.
//! - [`server`] / [`client`]: one task per connection; a pool of authenticated connections.
//!
//! Frames are authenticated, not encrypted: the transport is meant for loopback (the server
//! refuses other addresses unless told otherwise), where a reader of the traffic already
//! controls the host.

pub mod client;
mod error;
mod handshake;
pub mod psk;
mod reply;
pub mod server;
mod session;
mod wire;

pub use client::TcpClientConfig;
pub use psk::Psk;
pub use server::{serve, ServerLimits};

/// Largest frame body accepted or sent, in bytes. A length prefix above it closes the
/// connection before anything is allocated, so a peer cannot make us buffer gigabytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Largest difference, in milliseconds, between a frame's timestamp and our clock. Both ends
/// normally share a host; a frame held back longer than this is treated as a replay.
pub const MAX_CLOCK_SKEW_MS: u64 = 30_000;
