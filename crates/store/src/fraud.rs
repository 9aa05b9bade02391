//! What the fraud part persists: per-org rule overrides, the per-card feature row the rules
//! read on the hot path, and the review queue (alerts and their comments). The methods live
//! on [`crate::AuthorizerStore`] because the feature row and the alerts are written inside
//! the authorization's own transaction.

use domain::{AuthorizationId, CardId, OrgId, UserId};
use uuid::Uuid;

/// One org's override of one rule; `config` is a `fraud::RuleConfig` as JSON (the store
/// does not depend on the rule engine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FraudRuleRecord {
    pub org_id: OrgId,
    pub rule_id: String,
    pub config: String,
    pub updated_us: i64,
}

/// The card's history as the rules need it, rewritten on every authorization of the card.
/// Times are unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardFeaturesRecord {
    pub card_id: Option<CardId>,
    pub org_id: Option<OrgId>,
    pub recent_fills: Vec<i64>,
    pub last_fill_s: Option<i64>,
    /// Micro-degrees of the previous fill's station.
    pub last_station: Option<(i64, i64)>,
    pub usual_hours: Vec<u32>,
    pub amount_sum: i64,
    pub amount_count: i64,
    /// Cryptogram failures.
    pub failure_times: Vec<i64>,
    /// Limit declines.
    pub decline_times: Vec<i64>,
}

/// What one authorization adds to its card's feature row. The commit applies it to the row
/// it reads under the row's lock, so concurrent fills of one card never lose an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureUpdate {
    pub card_id: CardId,
    pub org_id: OrgId,
    pub event: FeatureEvent,
    /// How many times each list keeps (the rule engine's bound, passed in so the store does
    /// not depend on it).
    pub keep: usize,
    /// Buckets of the usual-hours histogram.
    pub hours: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureEvent {
    /// An approved fill at a station-local hour, at a station (micro-degrees).
    Fill {
        time_s: i64,
        hour: u8,
        amount_minor: i64,
        station: (i64, i64),
    },
    LimitDecline {
        time_s: i64,
    },
    CryptogramFailure {
        time_s: i64,
    },
}

impl CardFeaturesRecord {
    pub fn apply(&mut self, u: &FeatureUpdate) {
        self.usual_hours.resize(u.hours, 0);
        match u.event {
            FeatureEvent::Fill { time_s, hour, amount_minor, station } => {
                push_bounded(&mut self.recent_fills, time_s, u.keep);
                // Commits may land out of order; the previous fill is the newest one.
                if self.last_fill_s.is_none_or(|last| time_s >= last) {
                    self.last_fill_s = Some(time_s);
                    self.last_station = Some(station);
                }
                if let Some(slot) = self.usual_hours.get_mut(usize::from(hour)) {
                    *slot = slot.saturating_add(1);
                }
                self.amount_sum = self.amount_sum.saturating_add(amount_minor);
                self.amount_count = self.amount_count.saturating_add(1);
            }
            FeatureEvent::LimitDecline { time_s } => {
                push_bounded(&mut self.decline_times, time_s, u.keep)
            }
            FeatureEvent::CryptogramFailure { time_s } => {
                push_bounded(&mut self.failure_times, time_s, u.keep)
            }
        }
    }
}

/// Keeps the newest `max` times: the rules look back over bounded windows only.
fn push_bounded(times: &mut Vec<i64>, time_s: i64, max: usize) {
    times.push(time_s);
    times.sort_unstable();
    let excess = times.len().saturating_sub(max);
    times.drain(..excess);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Open,
    Taken,
    ConfirmedFraud,
    FalsePositive,
}

impl AlertStatus {
    pub const ALL: [Self; 4] = [Self::Open, Self::Taken, Self::ConfirmedFraud, Self::FalsePositive];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Taken => "taken",
            Self::ConfirmedFraud => "confirmed_fraud",
            Self::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_resolved(self) -> bool {
        matches!(self, Self::ConfirmedFraud | Self::FalsePositive)
    }
}

/// One acting rule hit on one authorization, for an analyst to work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: Uuid,
    pub org_id: OrgId,
    pub authorization_id: AuthorizationId,
    pub card_id: CardId,
    pub rule_id: String,
    pub risk: i64,
    pub status: AlertStatus,
    pub assignee_id: Option<UserId>,
    pub created_us: i64,
    pub resolved_us: Option<i64>,
    pub reason: String,
    /// The values the rule saw (JSON).
    pub observed: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCommentRecord {
    pub id: Uuid,
    pub alert_id: Uuid,
    pub org_id: OrgId,
    pub author_id: UserId,
    pub body: String,
    pub at_us: i64,
}

/// Which alerts a queue shows; `None` is "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub org_id: Option<OrgId>,
    pub rule_id: Option<String>,
}

/// How one rule's alerts since some time ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleStatsRecord {
    pub rule_id: String,
    pub hits: i64,
    pub confirmed: i64,
    pub false_positives: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(event: FeatureEvent) -> FeatureUpdate {
        FeatureUpdate { card_id: CardId::new(), org_id: OrgId::new(), event, keep: 3, hours: 24 }
    }

    #[test]
    fn a_fill_updates_history_and_lists_keep_the_newest() {
        let mut row = CardFeaturesRecord::default();
        for time_s in [40, 10, 30, 20] {
            let station = (time_s, 2);
            let event = FeatureEvent::Fill { time_s, hour: 7, amount_minor: 1_000, station };
            row.apply(&update(event));
        }
        assert_eq!(row.recent_fills, [20, 30, 40]);
        assert_eq!((row.amount_sum, row.amount_count, row.usual_hours[7]), (4_000, 4, 4));
        assert_eq!((row.last_fill_s, row.last_station), (Some(40), Some((40, 2))));
        row.apply(&update(FeatureEvent::LimitDecline { time_s: 50 }));
        row.apply(&update(FeatureEvent::CryptogramFailure { time_s: 60 }));
        assert_eq!((row.decline_times, row.failure_times), (vec![50], vec![60]));
    }

    #[test]
    fn an_hour_out_of_range_is_ignored() {
        let mut row = CardFeaturesRecord::default();
        let event = FeatureEvent::Fill { time_s: 1, hour: 200, amount_minor: 1, station: (0, 0) };
        row.apply(&update(event));
        assert_eq!(row.usual_hours.iter().sum::<u32>(), 0);
        assert_eq!(row.amount_count, 1);
    }
}
