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

pub use cards::{expiry_month, BindCard, ChangeCardStatus, IssueCard};
pub use controls::{control_subjects, effective_from_stored, SubjectRef};
pub use error::{IssuingError, Result};
pub use groups::{CreateGroup, UpdateGroup};
pub use idempotency::{
    record as idempotency_record, replay as replay_idempotent, settle as settle_idempotent,
    Created, IdempotencyKey,
};
pub use orgs::{CreateOrg, UpdateOrg};
pub use principal::Principal;
pub use service::{EventExt, Issuing, IssuingConfig};

/// An audit event by `actor` at `at_us`, for services built on top of issuing (tokens).
pub fn audit_event(
    actor: &Principal,
    org: Option<domain::OrgId>,
    subject_type: &'static str,
    subject_id: uuid::Uuid,
    action: &str,
    at_us: i64,
) -> store::AuditEvent {
    service::Audit { actor, at_us }.on(org, subject_type, subject_id, action)
}
pub use users::{CreateUser, UpdateMe, UpdateUser};
pub use vehicles::{CreateVehicle, UpdateVehicle};
