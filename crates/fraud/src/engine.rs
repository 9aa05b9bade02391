//! Runs a configured rule set on a features snapshot and turns the hits into one decision
//! with a full trace, which is stored with every authorization.

use crate::features::Features;
use crate::rules::{self, Hit, Rule, MAX_SCORE};
use domain::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest rule id, in characters (ASCII only, so also bytes).
pub const MAX_RULE_ID_CHARS: usize = 64;
/// Most rules one rule set may hold: each runs inside every authorization.
pub const MAX_RULES: usize = 64;

/// What an active hit does to the authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Decline and open an alert.
    Decline,
    /// Approve, flagged, and open an alert for an analyst to review.
    Review,
    /// Approve unflagged, but open an alert.
    Alert,
}

/// `Shadow` rules are evaluated and recorded but never act: how a new rule or new parameters
/// are tried on live traffic before they can decline anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Active,
    Shadow,
}

/// The fraud verdict. Ordered so the strictest wins: `Pass < Review < Decline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Review,
    Decline,
}

impl Action {
    /// An alert opens an alert but does not flag the authorization, so it stays a pass.
    pub fn outcome(self) -> Outcome {
        match self {
            Self::Decline => Outcome::Decline,
            Self::Review => Outcome::Review,
            Self::Alert => Outcome::Pass,
        }
    }
}

/// One configured rule: a stable id (what the trace, alerts and false-positive rates refer
/// to), the rule with its parameters, and what a hit does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub id: String,
    pub rule: Rule,
    pub action: Action,
    pub mode: Mode,
    pub enabled: bool,
}

/// One evaluated rule in the trace; `hit` is `None` when the rule did not fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceEntry {
    pub rule_id: String,
    pub action: Action,
    pub mode: Mode,
    pub hit: Option<Hit>,
}

impl TraceEntry {
    /// A hit of an active rule: it counts towards the outcome, the risk and the alerts.
    pub fn is_acting(&self) -> bool {
        self.mode == Mode::Active && self.hit.is_some()
    }
}

/// The engine's answer: the outcome, the risk (the highest score of the acting hits,
/// 0..=1000) and every enabled rule with what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub outcome: Outcome,
    pub risk: u16,
    pub trace: Vec<TraceEntry>,
}

impl Decision {
    /// The acting hits that must open an alert: every action does (decline, review, alert);
    /// shadow hits never do.
    pub fn alerts(&self) -> Vec<&TraceEntry> {
        self.trace.iter().filter(|e| e.is_acting()).collect()
    }
}

/// Evaluates every enabled rule, in order. Disabled rules are skipped and left out of the
/// trace; shadow hits are traced but change neither the outcome nor the risk.
pub fn evaluate(configs: &[RuleConfig], features: &Features) -> Decision {
    let trace: Vec<TraceEntry> = configs
        .iter()
        .filter(|c| c.enabled)
        .map(|c| TraceEntry {
            rule_id: c.id.clone(),
            action: c.action,
            mode: c.mode,
            hit: rules::evaluate(&c.rule, features),
        })
        .collect();
    let acting = || trace.iter().filter(|e| e.is_acting());
    let outcome = acting().map(|e| e.action.outcome()).max().unwrap_or(Outcome::Pass);
    let risk = acting().filter_map(|e| e.hit.as_ref()).map(|h| h.score).max().unwrap_or(0);
    Decision { outcome, risk: risk.min(MAX_SCORE), trace }
}

impl RuleConfig {
    fn new(id: &str, rule: Rule, action: Action, mode: Mode) -> Self {
        Self { id: id.to_owned(), rule, action, mode, enabled: true }
    }

    /// Reports the first invalid value, with its JSON path (`id`, `rule.window_secs`, ...).
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_rule_id(&self.id)?;
        self.rule.validate().map_err(|e| e.within("rule"))
    }
}

/// Validates a whole rule set: at most `MAX_RULES`, each valid, ids unique (the trace and
/// alerts refer to rules by id). Field paths read `rules[2].rule.max_kmh`.
pub fn validate_rule_set(configs: &[RuleConfig]) -> Result<(), FieldError> {
    if configs.len() > MAX_RULES {
        return Err(FieldError::out_of_range("rules", format!("must hold at most {MAX_RULES}")));
    }
    let mut seen = BTreeSet::new();
    for (i, config) in configs.iter().enumerate() {
        let path = format!("rules[{i}]");
        config.validate().map_err(|e| e.within(&path))?;
        if !seen.insert(config.id.as_str()) {
            let message = format!("rule id {:?} is used more than once", config.id);
            return Err(FieldError::invalid("id", message).within(&path));
        }
    }
    Ok(())
}

fn validate_rule_id(id: &str) -> Result<(), FieldError> {
    if id.is_empty() || id.len() > MAX_RULE_ID_CHARS {
        let message = format!("must be 1 to {MAX_RULE_ID_CHARS} characters");
        return Err(FieldError::out_of_range("id", message));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-');
    if !id.chars().all(allowed) {
        let message = "must contain only lower-case letters a-z, digits, '_' and '-'";
        return Err(FieldError::new("id", "INVALID_FORMAT", message));
    }
    Ok(())
}

/// The rule set a new issuer starts with, tuned for road fleets:
///
/// - `volume_over_tank` — more than the bound tank's capacity + 10 % (tanks and filler
///   necks take a little over nominal, pump presets round up): **review**. Controls
///   already cap the approved volume at the tank, so this flags intent rather than loss.
/// - `rapid_refills` — 3 fills within an hour: **review**. A vehicle cannot burn a full
///   tank in an hour; filling cans or a second vehicle can.
/// - `product_not_for_vehicle` — a fuel grade the bound vehicle does not take: **decline**.
///   Either a private car is being filled or the engine is about to be misfuelled.
/// - `impossible_travel` — faster than 250 km/h in a straight line since the previous fill
///   (farther than 2 km): **review**. Road vehicles cannot do it; a cloned card can.
/// - `outside_usual_hours` — with ≥ 30 fills of history, an hour holding ≤ 1 % of them:
///   **alert**, in **shadow** mode: shift patterns vary by fleet, so it is tuned on live
///   traffic before it may act.
/// - `unusual_amount` — with ≥ 10 fills of history, more than 3× the card's average:
///   **review**.
/// - `repeated_failures` — 3 cryptogram failures or limit declines within 15 minutes:
///   **decline**. Probing a card or a cloned payload fails repeatedly; drivers rarely do.
/// - `after_rebind_or_unblock` — a fill within 30 minutes of re-binding the card to a
///   device or unblocking it: **review**. Account take-over re-binds and spends at once.
pub fn default_rules() -> Vec<RuleConfig> {
    use Action::{Alert, Decline, Review};
    use Mode::{Active, Shadow};
    vec![
        RuleConfig::new(
            "volume_over_tank",
            Rule::VolumeOverTank { margin_permille: 100 },
            Review,
            Active,
        ),
        RuleConfig::new(
            "rapid_refills",
            Rule::RapidRefills { max_fills: 3, window_secs: 3_600 },
            Review,
            Active,
        ),
        RuleConfig::new("product_not_for_vehicle", Rule::ProductNotForVehicle {}, Decline, Active),
        RuleConfig::new(
            "impossible_travel",
            Rule::ImpossibleTravel { max_kmh: 250 },
            Review,
            Active,
        ),
        RuleConfig::new(
            "outside_usual_hours",
            Rule::OutsideUsualHours { min_history_fills: 30, max_share_permille: 10 },
            Alert,
            Shadow,
        ),
        RuleConfig::new(
            "unusual_amount",
            Rule::UnusualAmount { min_history_fills: 10, multiple_permille: 3_000 },
            Review,
            Active,
        ),
        RuleConfig::new(
            "repeated_failures",
            Rule::RepeatedFailures { max_failures: 3, window_secs: 900 },
            Decline,
            Active,
        ),
        RuleConfig::new(
            "after_rebind_or_unblock",
            Rule::AfterRebindOrUnblock { within_secs: 1_800 },
            Review,
            Active,
        ),
    ]
}

#[cfg(test)]
mod tests;
