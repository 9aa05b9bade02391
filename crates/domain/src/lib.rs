//! Pure types and rules of Forecourt: ids, money, volume, products, roles, card states,
//! spending controls. No I/O, no async, no SQL, no HTTP: every decision here is a function
//! of its arguments, so it can be tested exhaustively and reused by every service.

pub mod atc;
pub mod authorize;
pub mod card;
pub mod controls;
pub mod decline;
pub mod fuzzing;
pub mod ids;
pub mod language;
pub mod luhn;
pub mod money;
pub mod payment_time;
pub mod product;
pub mod role;
pub mod terminal_request;
pub mod validate;

pub use card::{CardStatus, TransitionError};
pub use ids::*;
pub use language::Language;
pub use money::{Currency, Money, VolumeMl};
pub use product::Product;
pub use role::Role;
pub use validate::FieldError;
