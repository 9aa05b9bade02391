//! Wire formats shared by the phone, the terminal and the server.
//!
//! Everything here is a pure function of bytes: no I/O, no keys, no clocks. Every parser
//! reads untrusted input, so none of them may panic; `fuzz/` hammers them and the
//! [`fuzzing`] checks replay its corpus in the normal test suite.

pub mod apdu;
pub mod cryptogram;
pub mod fuzzing;
pub mod gpo;
pub mod luk_batch;
pub mod payment;
pub mod qr;
pub mod tags;
pub mod terminal_auth;
pub mod tlv;

pub use tlv::{Tag, Tlv, TlvError, Value};
