//! Persistence for Forecourt behind the [`Store`] trait.
//!
//! Services depend on the trait and the record types here, never on sqlx. One SQL
//! implementation, [`SqlStore`], serves both databases: the backend is picked from the
//! database URL (`sqlite:` or `postgres:`), and the few places where the dialects differ live
//! in `sql/dialect.rs`. Every mutating method is one transaction that also writes its audit
//! events and idempotency record, so nothing is ever half-written.

mod authorizer;
mod error;
mod fraud;
mod records;
mod sql;
mod traits;

pub use authorizer::*;
pub use error::StoreError;
pub use fraud::*;
pub use records::*;
pub use sql::{Backend, SqlStore};
pub use traits::Store;
