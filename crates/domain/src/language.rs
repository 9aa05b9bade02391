//! The language a user reads the console in.

use serde::Serialize;
use std::str::FromStr;

/// A user's language, stored on the user (`users.language`, `'en'` or `'ru'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    En,
    Ru,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
        }
    }
}

impl FromStr for Language {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "en" => Ok(Self::En),
            "ru" => Ok(Self::Ru),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_others_are_refused() {
        for l in [Language::En, Language::Ru] {
            assert_eq!(l.as_str().parse::<Language>(), Ok(l));
        }
        assert_eq!("de".parse::<Language>(), Err(()));
        assert_eq!("RU".parse::<Language>(), Err(()));
    }
}
