//! The issuing service: fleets (orgs), groups, users, vehicles, cards, bindings, spending
//! controls, the audit log, and the authentication that guards them.
//!
//! Handlers in `server` call [`Issuing`] with a [`Principal`] and a typed request; every
//! method checks role and scope first, then validates, then writes through the
//! [`store::Store`] trait in one transaction together with its audit events. Out-of-scope
//! objects answer [`IssuingError::NotFound`], never "forbidden", so ids cannot be probed.

pub mod auth;
mod cards;
mod controls;
mod error;
mod groups;
mod idempotency;
mod orgs;
mod principal;
mod service;
mod users;
mod vehicles;
pub mod views;

pub use cards::{BindCard, ChangeCardStatus, IssueCard};
pub use controls::SubjectRef;
pub use error::{IssuingError, Result};
pub use groups::{CreateGroup, UpdateGroup};
pub use idempotency::{Created, IdempotencyKey};
pub use orgs::{CreateOrg, UpdateOrg};
pub use principal::Principal;
pub use service::{Issuing, IssuingConfig};
pub use users::{CreateUser, UpdateUser};
pub use vehicles::{CreateVehicle, UpdateVehicle};
