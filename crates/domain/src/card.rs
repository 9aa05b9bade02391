//! The card's life: which status changes are allowed, and why others are not.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// Usable at the pump.
    Active,
    /// Paused by the fleet (driver on leave, vehicle in the shop); can be resumed.
    Suspended,
    /// Stopped for cause (lost phone, fraud). Only an owner may unblock it.
    Blocked,
    /// Gone for good. No transition leaves this state.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the card is already {0}")]
    Unchanged(&'static str),
    #[error("a closed card cannot change status")]
    Closed,
    #[error("a card cannot go from {from} to {to}")]
    NotAllowed { from: &'static str, to: &'static str },
}

impl CardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Blocked => "blocked",
            Self::Closed => "closed",
        }
    }

    /// Checks one status change. Blocked → suspended is refused because a suspension could
    /// then be lifted by an admin, side-stepping the owner-only unblock.
    pub fn transition(self, to: CardStatus) -> Result<CardStatus, TransitionError> {
        use CardStatus::*;
        match (self, to) {
            (from, to) if from == to => Err(TransitionError::Unchanged(from.as_str())),
            (Closed, _) => Err(TransitionError::Closed),
            (Active, Suspended | Blocked | Closed)
            | (Suspended, Active | Blocked | Closed)
            | (Blocked, Active | Closed) => Ok(to),
            (from, to) => Err(TransitionError::NotAllowed { from: from.as_str(), to: to.as_str() }),
        }
    }

    /// Whether leaving `self` for `to` needs the owner (not a depot admin): unblocking.
    pub fn needs_owner(self, to: CardStatus) -> bool {
        self == CardStatus::Blocked && to == CardStatus::Active
    }
}

impl FromStr for CardStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Active, Self::Suspended, Self::Blocked, Self::Closed]
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::CardStatus::*;
    use super::*;

    #[test]
    fn allowed_and_refused_transitions() {
        let all = [Active, Suspended, Blocked, Closed];
        let allowed = [
            (Active, Suspended),
            (Active, Blocked),
            (Active, Closed),
            (Suspended, Active),
            (Suspended, Blocked),
            (Suspended, Closed),
            (Blocked, Active),
            (Blocked, Closed),
        ];
        for from in all {
            for to in all {
                let ok = from.transition(to).is_ok();
                assert_eq!(ok, allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
        assert_eq!(Closed.transition(Active), Err(TransitionError::Closed));
        assert_eq!(Active.transition(Active), Err(TransitionError::Unchanged("active")));
        assert!(Blocked.needs_owner(Active));
        assert!(!Suspended.needs_owner(Active));
    }
}
