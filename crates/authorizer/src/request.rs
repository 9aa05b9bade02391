//! What a terminal sends: the wire types and their field rules live in
//! `domain::terminal_request`, pure, so the fuzzer reaches them without a database.

pub use domain::terminal_request::*;
