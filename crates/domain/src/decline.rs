//! The decline taxonomy: one machine-readable reason per rule, each with its ISO 8583
//! response code and a short message a driver can act on. `docs/DECLINES.md` is the table.

use serde::Serialize;

/// Why an authorization was not (fully) approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeclineReason {
    CryptogramInvalid,
    CryptogramExpired,
    ClockSkew,
    Replayed,
    KeyExhausted,
    TokenInactive,
    CardBlocked,
    CardSuspended,
    CardClosed,
    CardExpired,
    ProductNotAllowed,
    StationNotAllowed,
    OutsideTimeWindow,
    LimitPerAuthAmount,
    LimitPerAuthVolume,
    LimitDailyAmount,
    LimitDailyVolume,
    LimitDailyCount,
    LimitWeeklyAmount,
    LimitWeeklyVolume,
    LimitWeeklyCount,
    LimitMonthlyAmount,
    LimitMonthlyVolume,
    LimitMonthlyCount,
    TankCapacity,
    InsufficientFunds,
    FraudSuspected,
    /// A reversal for this message arrived first: the original is refused.
    ReversedBeforeOriginal,
    /// The same (terminal, STAN, time) came with a different request.
    DuplicateTransmission,
    IssuerUnavailable,
    SystemError,
}

impl DeclineReason {
    pub const ALL: [DeclineReason; 31] = [
        Self::CryptogramInvalid,
        Self::CryptogramExpired,
        Self::ClockSkew,
        Self::Replayed,
        Self::KeyExhausted,
        Self::TokenInactive,
        Self::CardBlocked,
        Self::CardSuspended,
        Self::CardClosed,
        Self::CardExpired,
        Self::ProductNotAllowed,
        Self::StationNotAllowed,
        Self::OutsideTimeWindow,
        Self::LimitPerAuthAmount,
        Self::LimitPerAuthVolume,
        Self::LimitDailyAmount,
        Self::LimitDailyVolume,
        Self::LimitDailyCount,
        Self::LimitWeeklyAmount,
        Self::LimitWeeklyVolume,
        Self::LimitWeeklyCount,
        Self::LimitMonthlyAmount,
        Self::LimitMonthlyVolume,
        Self::LimitMonthlyCount,
        Self::TankCapacity,
        Self::InsufficientFunds,
        Self::FraudSuspected,
        Self::ReversedBeforeOriginal,
        Self::DuplicateTransmission,
        Self::IssuerUnavailable,
        Self::SystemError,
    ];

    pub fn code(self) -> &'static str {
        use DeclineReason::*;
        match self {
            CryptogramInvalid => "CRYPTOGRAM_INVALID",
            CryptogramExpired => "CRYPTOGRAM_EXPIRED",
            ClockSkew => "CLOCK_SKEW",
            Replayed => "REPLAYED",
            KeyExhausted => "KEY_EXHAUSTED",
            TokenInactive => "TOKEN_INACTIVE",
            CardBlocked => "CARD_BLOCKED",
            CardSuspended => "CARD_SUSPENDED",
            CardClosed => "CARD_CLOSED",
            CardExpired => "CARD_EXPIRED",
            ProductNotAllowed => "PRODUCT_NOT_ALLOWED",
            StationNotAllowed => "STATION_NOT_ALLOWED",
            OutsideTimeWindow => "OUTSIDE_TIME_WINDOW",
            LimitPerAuthAmount => "LIMIT_PER_AUTH_AMOUNT",
            LimitPerAuthVolume => "LIMIT_PER_AUTH_VOLUME",
            LimitDailyAmount => "LIMIT_DAILY_AMOUNT",
            LimitDailyVolume => "LIMIT_DAILY_VOLUME",
            LimitDailyCount => "LIMIT_DAILY_COUNT",
            LimitWeeklyAmount => "LIMIT_WEEKLY_AMOUNT",
            LimitWeeklyVolume => "LIMIT_WEEKLY_VOLUME",
            LimitWeeklyCount => "LIMIT_WEEKLY_COUNT",
            LimitMonthlyAmount => "LIMIT_MONTHLY_AMOUNT",
            LimitMonthlyVolume => "LIMIT_MONTHLY_VOLUME",
            LimitMonthlyCount => "LIMIT_MONTHLY_COUNT",
            TankCapacity => "TANK_CAPACITY",
            InsufficientFunds => "INSUFFICIENT_FUNDS",
            FraudSuspected => "FRAUD_SUSPECTED",
            ReversedBeforeOriginal => "REVERSED_BEFORE_ORIGINAL",
            DuplicateTransmission => "DUPLICATE_TRANSMISSION",
            IssuerUnavailable => "ISSUER_UNAVAILABLE",
            SystemError => "SYSTEM_ERROR",
        }
    }

    /// ISO 8583 response code (field 39).
    pub fn iso8583(self) -> &'static str {
        use DeclineReason::*;
        match self {
            CryptogramInvalid => "63",
            CryptogramExpired | ClockSkew | KeyExhausted => "05",
            Replayed | DuplicateTransmission | ReversedBeforeOriginal => "94",
            TokenInactive | CardBlocked | CardSuspended | CardClosed => "62",
            CardExpired => "54",
            ProductNotAllowed | OutsideTimeWindow => "57",
            StationNotAllowed => "58",
            LimitPerAuthAmount | LimitPerAuthVolume | LimitDailyAmount | LimitDailyVolume
            | LimitWeeklyAmount | LimitWeeklyVolume | LimitMonthlyAmount | LimitMonthlyVolume
            | TankCapacity => "61",
            LimitDailyCount | LimitWeeklyCount | LimitMonthlyCount => "65",
            InsufficientFunds => "51",
            FraudSuspected => "59",
            IssuerUnavailable => "91",
            SystemError => "96",
        }
    }

    /// What the pump's display tells the driver.
    pub fn driver_message(self) -> &'static str {
        use DeclineReason::*;
        match self {
            CryptogramInvalid => "Payment data not recognised. Open the app and try again.",
            CryptogramExpired => "The code expired. Show the new code in the app.",
            ClockSkew => {
                "Your phone's clock is wrong. Connect to the internet so the app can sync."
            }
            Replayed => "This code was already used. Show a new code.",
            KeyExhausted => "Payment keys used up. Open the app online to refresh them.",
            TokenInactive => "This phone is not enabled for the card. Contact your fleet manager.",
            CardBlocked => "Card blocked. Contact your fleet manager.",
            CardSuspended => "Card paused by your fleet. Contact your fleet manager.",
            CardClosed => "Card closed. Contact your fleet manager.",
            CardExpired => "Card expired. Contact your fleet manager.",
            ProductNotAllowed => "This product is not allowed on your card.",
            StationNotAllowed => "Your card cannot be used at this station.",
            OutsideTimeWindow => "Your card cannot be used at this time.",
            LimitPerAuthAmount | LimitPerAuthVolume => "Above your card's limit per fill.",
            LimitDailyAmount | LimitDailyVolume | LimitDailyCount => "Daily limit reached.",
            LimitWeeklyAmount | LimitWeeklyVolume | LimitWeeklyCount => "Weekly limit reached.",
            LimitMonthlyAmount | LimitMonthlyVolume | LimitMonthlyCount => "Monthly limit reached.",
            TankCapacity => "More than the vehicle's tank holds.",
            InsufficientFunds => "Fleet account balance too low. Contact your fleet manager.",
            FraudSuspected => "Declined for your protection. Contact your fleet manager.",
            ReversedBeforeOriginal | DuplicateTransmission => "Transaction error. Please retry.",
            IssuerUnavailable | SystemError => "Service unavailable. Please try again shortly.",
        }
    }
}

/// The language of what a driver reads on the pump's display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl DeclineReason {
    /// The reason named by its machine-readable code (`LIMIT_DAILY_AMOUNT`, ...).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The driver's message in `lang`.
    pub fn driver_message_in(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.driver_message(),
            Lang::Ru => self.driver_message_ru(),
        }
    }

    /// What the pump's display tells the driver, in Russian.
    pub fn driver_message_ru(self) -> &'static str {
        use DeclineReason::*;
        match self {
            CryptogramInvalid => "Платёжные данные не распознаны. Откройте приложение и повторите.",
            CryptogramExpired => "Срок действия кода истёк. Покажите новый код из приложения.",
            ClockSkew => {
                "Часы телефона неверны. Подключитесь к интернету, чтобы приложение их сверило."
            }
            Replayed => "Этот код уже использован. Покажите новый код.",
            KeyExhausted => {
                "Платёжные ключи закончились. Откройте приложение в сети, чтобы их обновить."
            }
            TokenInactive => "Этот телефон не подключён к карте. Обратитесь к менеджеру автопарка.",
            CardBlocked => "Карта заблокирована. Обратитесь к менеджеру автопарка.",
            CardSuspended => "Карта приостановлена автопарком. Обратитесь к менеджеру автопарка.",
            CardClosed => "Карта закрыта. Обратитесь к менеджеру автопарка.",
            CardExpired => "Срок действия карты истёк. Обратитесь к менеджеру автопарка.",
            ProductNotAllowed => "Этот вид топлива или услуги не разрешён по вашей карте.",
            StationNotAllowed => "Карту нельзя использовать на этой АЗС.",
            OutsideTimeWindow => "Карту нельзя использовать в это время.",
            LimitPerAuthAmount | LimitPerAuthVolume => "Превышен лимит карты на одну заправку.",
            LimitDailyAmount | LimitDailyVolume | LimitDailyCount => "Дневной лимит исчерпан.",
            LimitWeeklyAmount | LimitWeeklyVolume | LimitWeeklyCount => "Недельный лимит исчерпан.",
            LimitMonthlyAmount | LimitMonthlyVolume | LimitMonthlyCount => {
                "Месячный лимит исчерпан."
            }
            TankCapacity => "Больше, чем вмещает бак автомобиля.",
            InsufficientFunds => {
                "Недостаточно средств на счёте автопарка. Обратитесь к менеджеру автопарка."
            }
            FraudSuspected => "Отклонено в целях безопасности. Обратитесь к менеджеру автопарка.",
            ReversedBeforeOriginal | DuplicateTransmission => "Ошибка операции. Повторите попытку.",
            IssuerUnavailable | SystemError => "Сервис недоступен. Повторите попытку чуть позже.",
        }
    }
}

/// The display text of an approval (`partial`: approved for part of the amount).
pub fn approval_message(partial: bool, lang: Lang) -> &'static str {
    match (lang, partial) {
        (Lang::En, false) => "Approved.",
        (Lang::En, true) => "Approved for part of the amount.",
        (Lang::Ru, false) => "Одобрено.",
        (Lang::Ru, true) => "Одобрено на часть суммы.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_russian_message_and_round_trips_its_code() {
        for r in DeclineReason::ALL {
            let ru = r.driver_message_ru();
            assert!(!ru.is_empty() && ru != r.driver_message(), "{}", r.code());
            assert!(ru.chars().any(|c| ('а'..='я').contains(&c)), "{} is not Russian", r.code());
            assert_eq!(r.driver_message_in(Lang::Ru), ru);
            assert_eq!(r.driver_message_in(Lang::En), r.driver_message());
            assert_eq!(DeclineReason::from_code(r.code()), Some(r));
        }
        assert_eq!(DeclineReason::from_code("NOPE"), None);
    }

    #[test]
    fn codes_are_unique_and_iso_codes_from_the_design_list() {
        let allowed =
            ["05", "51", "54", "57", "58", "59", "61", "62", "63", "65", "91", "94", "96"];
        let mut seen = std::collections::BTreeSet::new();
        for r in DeclineReason::ALL {
            assert!(seen.insert(r.code()), "{} twice", r.code());
            assert!(allowed.contains(&r.iso8583()), "{}", r.code());
            assert!(!r.driver_message().is_empty());
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.code()));
        }
    }
}

#[cfg(test)]
mod doc_tests {
    use super::DeclineReason;

    #[test]
    fn the_published_table_lists_every_reason() {
        let doc = include_str!("../../../docs/DECLINES.md");
        for r in DeclineReason::ALL {
            let row = format!(
                "| `{}` | {} | {} | {} |",
                r.code(),
                r.iso8583(),
                r.driver_message(),
                r.driver_message_ru()
            );
            assert!(doc.contains(&row), "docs/DECLINES.md lacks or misstates: {row}");
        }
    }
}
