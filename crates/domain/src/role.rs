//! Who a user is to the platform.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Issuer staff: onboards fleets, stations, terminals; manages keys.
    Operator,
    /// Issuer staff: works the fraud queue across all fleets.
    FraudAnalyst,
    /// Fleet owner: everything inside one org.
    Owner,
    /// Fleet admin: everything inside one group subtree of one org.
    Admin,
    /// Driver: own cards, own devices, own fills.
    Driver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::FraudAnalyst => "fraud_analyst",
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Driver => "driver",
        }
    }

    /// Platform roles belong to the issuer, not to any fleet: they have no org.
    pub fn is_platform(self) -> bool {
        matches!(self, Self::Operator | Self::FraudAnalyst)
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Operator, Self::FraudAnalyst, Self::Owner, Self::Admin, Self::Driver]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}
