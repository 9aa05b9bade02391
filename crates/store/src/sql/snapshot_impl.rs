//! The authorizer's decision snapshot in one trip to the database: everything a decision
//! on a card reads that depends only on the card (`batch.rs` sends it as one query on
//! SQLite). The card's usage is read apart: its period keys need the org's time zone.

use super::batch::{Batch, Done};
use super::rows::{self, ORG_COLS, VEHICLE_COLS, VEHICLE_FROM};
use super::store_impl::{controls_sql, id_str};
use super::{fraud_impl, SqlStore};
use crate::{CardRecord, ControlLevel, DecisionInputs, StoreError};

type R<T> = Result<T, StoreError>;

impl SqlStore {
    pub(super) async fn decision_inputs_impl(
        &self,
        card: &CardRecord,
        subjects: &[(ControlLevel, uuid::Uuid)],
    ) -> R<DecisionInputs> {
        let (org, card_id) = (id_str(card.org_id), id_str(card.id));
        let mut b = Batch::new();
        let org_at =
            b.push(format!("SELECT {ORG_COLS} FROM orgs WHERE id = $1"), vec![org.clone().into()]);
        let controls_at = (!subjects.is_empty()).then(|| {
            let mut values = vec![org.clone().into()];
            for (level, subject) in subjects {
                values.push(level.as_str().into());
                values.push(id_str(subject).into());
            }
            b.push(controls_sql(subjects.len()), values)
        });
        let vehicle_at = card.vehicle_id.map(|v| {
            let sql = format!(
                "SELECT {VEHICLE_COLS} FROM {VEHICLE_FROM} WHERE v.org_id = $1 AND v.id = $2"
            );
            b.push(sql, vec![org.clone().into(), id_str(v).into()])
        });
        let account_at =
            b.push("SELECT * FROM accounts WHERE org_id = $1", vec![org.clone().into()]);
        let features_at = b.push(fraud_impl::FEATURES_SQL, vec![card_id.clone().into()]);
        let rules_at = b.push(fraud_impl::FRAUD_RULES_SQL, vec![org.clone().into()]);
        let events_at = b.push(fraud_impl::REBIND_UNBLOCK_SQL, vec![org.into(), card_id.into()]);
        let done = self.read(b).await?;
        let (rebind_us, unblock_us) = fraud_impl::rebind_unblock(one(&done, events_at)?)?;
        Ok(DecisionInputs {
            org: rows::org(one(&done, org_at)?)?,
            controls: match controls_at {
                Some(at) => done[at].rows.iter().map(rows::controls).collect::<R<_>>()?,
                None => Vec::new(),
            },
            vehicle: vehicle_at.map(|at| rows::vehicle(one(&done, at)?)).transpose()?,
            account: optional(&done, account_at)
                .map(super::authorizer_impl::account)
                .transpose()?,
            features: optional(&done, features_at).map(fraud_impl::features).transpose()?,
            fraud_rules: done[rules_at]
                .rows
                .iter()
                .map(fraud_impl::fraud_rule)
                .collect::<R<_>>()?,
            rebind_us,
            unblock_us,
        })
    }
}

fn one(done: &[Done], at: usize) -> R<&super::batch::Row> {
    done[at].rows.first().ok_or(StoreError::NotFound)
}

fn optional(done: &[Done], at: usize) -> Option<&super::batch::Row> {
    done[at].rows.first()
}
