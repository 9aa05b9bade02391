//! Fraud rules (DESIGN §6): a pure engine the authorizer runs inside every authorization on
//! a snapshot of features it loaded beforehand. No I/O, no async, no SQL, no floats: the same
//! snapshot and rules always give the same decision, so a stored trace can be replayed.

pub mod engine;
pub mod features;
pub mod geo;
pub mod rules;

pub use engine::{
    default_rules, evaluate, validate_rule_set, Action, Decision, Mode, Outcome, RuleConfig,
    TraceEntry,
};
pub use features::{CardHistory, Features, LastFill, Vehicle};
pub use geo::{distance_m, GeoPoint};
pub use rules::{Hit, Rule};
