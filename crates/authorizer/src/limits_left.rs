//! What is left of a card's period limits today, this week and this month: the usage
//! counters the pipeline checks (`card_usage`, keyed by the periods of the org's time zone,
//! computed exactly as the pipeline computes them) next to the card's effective limits. For
//! the console's card page; read-only.

use crate::pipeline::local;
use crate::{now_us, Authorizer};
use domain::authorize::{self, Usage};
use domain::controls::EffectivePeriod;
use domain::{CardId, Currency};
use issuing::{IssuingError, Principal, Result};
use serde::Serialize;
use store::{AuthorizerStore, Store};
use time::OffsetDateTime;

/// Used so far against a limit (`None`: no limit of that kind applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gauge {
    pub used: i64,
    pub limit: Option<i64>,
}

impl Gauge {
    /// What may still be spent; never below zero (a late completion can overshoot).
    pub fn left(&self) -> Option<i64> {
        self.limit.map(|l| l.saturating_sub(self.used).max(0))
    }

    /// The used share in whole percent, 0..=100, integer arithmetic only.
    pub fn percent_used(&self) -> Option<i64> {
        let limit = self.limit?;
        if limit <= 0 {
            return Some(100);
        }
        let used = i128::from(self.used.max(0));
        let pct = (used * 100 / i128::from(limit)).min(100);
        Some(i64::try_from(pct).unwrap_or(100))
    }
}

/// One period: its key (`D2026-11-23`, `W2026-48`, `M2026-11`) and the three measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodLeft {
    pub key: String,
    pub amount: Gauge,
    pub volume_ml: Gauge,
    pub count: Gauge,
}

/// Day, week and month, in that order, in the fleet's currency (minor units).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitsLeft {
    pub card_id: CardId,
    pub currency: Currency,
    pub day: PeriodLeft,
    pub week: PeriodLeft,
    pub month: PeriodLeft,
}

fn period(key: String, used: Usage, limits: &EffectivePeriod) -> PeriodLeft {
    PeriodLeft {
        key,
        amount: Gauge { used: used.amount_minor, limit: limits.amount.as_ref().map(|l| l.value) },
        volume_ml: Gauge {
            used: used.volume_ml,
            limit: limits.volume_ml.as_ref().map(|l| l.value),
        },
        count: Gauge { used: used.count, limit: limits.count.as_ref().map(|l| l.value) },
    }
}

impl<S: Store + AuthorizerStore> Authorizer<S> {
    /// Used and left of the card's daily, weekly and monthly limits now. The caller must be
    /// able to read the card as `GET /v1/cards/{id}` requires (404 otherwise, the same as a
    /// made-up id).
    pub async fn card_limits_left(&self, who: &Principal, card: CardId) -> Result<LimitsLeft> {
        let card = self.issuing.visible_card(who, card).await?;
        let org = self.store().get_org(card.org_id).await?;
        let (_, controls) = self.issuing.effective_of(&card).await?;
        let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_us()) * 1_000)
            .map_err(|_| IssuingError::Internal("clock".into()))?;
        let periods = authorize::period_keys(local(now, &org.time_zone).date());
        let usage = self.store().card_usage(card.id, &periods).await?;
        let [day, week, month] = periods;
        Ok(LimitsLeft {
            card_id: card.id,
            currency: org.currency,
            day: period(day, usage.day, &controls.daily),
            week: period(week, usage.week, &controls.weekly),
            month: period(month, usage.month, &controls.monthly),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Gauge;

    #[test]
    fn left_and_percent_are_integers_and_clamped() {
        let g = Gauge { used: 5_000, limit: Some(30_000) };
        assert_eq!((g.left(), g.percent_used()), (Some(25_000), Some(16)));
        let over = Gauge { used: 31_000, limit: Some(30_000) };
        assert_eq!((over.left(), over.percent_used()), (Some(0), Some(100)));
        let none = Gauge { used: 7, limit: None };
        assert_eq!((none.left(), none.percent_used()), (None, None));
    }
}
