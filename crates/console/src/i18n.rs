//! The console's two languages. Every string a page shows is a key in [`MESSAGES`] with an
//! English and a Russian text; a unit test keeps the table complete, so a page never shows
//! a raw key in one language only.

/// The language a page is rendered in, chosen by the `fc_lang` cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
        }
    }

    /// Unknown codes fall back to English rather than failing the page.
    pub fn from_code(code: &str) -> Self {
        match code {
            "ru" => Self::Ru,
            _ => Self::En,
        }
    }

    /// The text of `key` in this language; the key itself if the table lacks it (the
    /// unit test makes that impossible for keys the code uses).
    pub fn t(self, key: &'static str) -> &'static str {
        match MESSAGES.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, ru)) => match self {
                Self::En => en,
                Self::Ru => ru,
            },
            None => key,
        }
    }
}

/// The label of an alert status code (`open`, `taken`, ...); unknown codes show as is.
pub fn alert_status(lang: Lang, status: &str) -> String {
    match status {
        "open" => lang.t("alert_status.open").to_owned(),
        "taken" => lang.t("alert_status.taken").to_owned(),
        "confirmed_fraud" => lang.t("alert_status.confirmed_fraud").to_owned(),
        "false_positive" => lang.t("alert_status.false_positive").to_owned(),
        other => other.to_owned(),
    }
}

/// The Russian text of a refusal code. English needs no table: the services word their
/// refusals in English, with the specifics, and the console shows them as they are.
pub fn refusal_ru(code: &str) -> Option<&'static str> {
    REFUSALS_RU.iter().find(|(c, _)| *c == code).map(|(_, ru)| *ru)
}

/// (code, Russian) for every refusal code the services and the console can answer with; a
/// unit test reads the sources and keeps it complete.
pub const REFUSALS_RU: &[(&str, &str)] = &[
    // Field validation (422).
    ("INVALID_VALUE", "недопустимое значение"),
    ("OUT_OF_RANGE", "значение вне допустимых границ"),
    ("INVALID_FORMAT", "неверный формат"),
    ("INVALID_SIGNATURE", "подпись не проходит проверку"),
    ("INVALID_CHALLENGE", "запрос подтверждения неизвестен, уже использован или истёк"),
    ("NOT_FOUND", "не найдено среди доступных вам"),
    ("IDEMPOTENCY_MISMATCH", "этот ключ идемпотентности уже использован с другим запросом"),
    // Refused changes (409).
    ("ALERT_MOVED", "Алерт изменился, пока вы его смотрели; обновите страницу."),
    ("ALERT_NOT_OPEN", "Алерт уже не открыт: его взял другой аналитик или он закрыт."),
    ("ALERT_RESOLVED", "Алерт уже закрыт."),
    ("ALREADY_COMPLETED", "Заправка уже завершена с другими значениями."),
    ("ALREADY_DEACTIVATED", "Уже отключено."),
    ("ALREADY_EXISTS", "Такое значение уже используется."),
    ("BINDING_UNCHANGED", "Карта уже привязана именно так."),
    ("CARD_CLOSED", "Закрытую карту нельзя перепривязать."),
    (
        "CONCURRENT_UPDATE",
        "Объект изменён другим запросом; обновите страницу и повторите.",
    ),
    ("GROUP_DEACTIVATED", "Депо отключено: в него нельзя ничего добавить."),
    (
        "GROUP_NOT_EMPTY",
        "В депо ещё есть вложенные депо, пользователи, машины или незакрытые карты: сначала переведите или отключите их.",
    ),
    ("IDEMPOTENCY_IN_PROGRESS", "Такой же запрос ещё выполняется; повторите позже."),
    ("INVALID_TRANSITION", "Из текущего статуса карту нельзя перевести в выбранный."),
    ("NOT_COMPLETABLE", "Завершить можно только одобренную заправку."),
    ("NOT_REVERSIBLE", "Заправка уже рассчитана или истекла."),
    // The console's own.
    ("FORM_TOO_LARGE", "Форма слишком большая."),
    ("UNREADABLE_FORM", "Форму не удалось прочитать."),
];

/// (key, English, Russian).
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("app.title", "Forecourt console", "Консоль Forecourt"),
    ("nav.dashboard", "Dashboard", "Сводка"),
    ("nav.cards", "Cards", "Карты"),
    ("nav.alerts", "Alerts", "Алерты"),
    ("nav.logout", "Log out", "Выйти"),
    ("login.title", "Sign in", "Вход"),
    ("login.email", "Email", "Эл. почта"),
    ("login.password", "Password", "Пароль"),
    ("login.submit", "Sign in", "Войти"),
    ("login.failed", "Email or password is wrong.", "Неверная почта или пароль."),
    ("lang.switch", "Language", "Язык"),
    ("error.not_found", "Not found", "Не найдено"),
    (
        "error.not_found.body",
        "There is no such page, or it is outside what you may see.",
        "Такой страницы нет или она вне вашей зоны доступа.",
    ),
    ("error.forbidden", "Not allowed", "Доступ запрещён"),
    (
        "error.forbidden.body",
        "Your role may not open this page.",
        "Вашей роли эта страница недоступна.",
    ),
    (
        "error.console_roles",
        "The console is for fleet owners, fleet admins and fraud analysts.",
        "Консоль предназначена для владельцев и администраторов автопарков и фрод-аналитиков.",
    ),
    ("error.csrf", "The form has expired", "Форма устарела"),
    (
        "error.csrf.body",
        "The form's security token is missing or wrong. Reload the page and try again.",
        "Токен безопасности формы отсутствует или неверен. Обновите страницу и повторите.",
    ),
    ("error.invalid", "The request was refused", "Запрос отклонён"),
    ("error.unavailable", "Try again shortly", "Повторите попытку позже"),
    (
        "error.internal",
        "Something went wrong; it has been logged.",
        "Что-то пошло не так; ошибка записана в журнал.",
    ),
    ("error.back", "Back to the console", "Назад в консоль"),
    (
        "error.method",
        "This address does not take that kind of request.",
        "Этот адрес не принимает такой запрос.",
    ),
    ("dash.title", "Dashboard", "Сводка"),
    ("dash.account", "Account", "Счёт"),
    ("dash.available", "Available", "Доступно"),
    ("dash.held", "Held", "Заблокировано"),
    ("dash.spent_today", "Spent today (UTC)", "Потрачено сегодня (UTC)"),
    ("dash.spent_month", "Spent this month (UTC)", "Потрачено за месяц (UTC)"),
    ("dash.chart", "Spend per day, last 30 days", "Расход по дням за 30 дней"),
    ("dash.latest_fills", "Latest fills", "Последние заправки"),
    ("dash.alerts", "Open fraud alerts on your cards", "Открытые фрод-алерты по вашим картам"),
    ("dash.alerts.none", "No open alerts.", "Открытых алертов нет."),
    (
        "dash.account_owner_only",
        "Only the fleet owner sees the account.",
        "Счёт видит только владелец автопарка.",
    ),
    ("fills.none", "No fills yet.", "Заправок пока нет."),
    ("fills.when", "When", "Когда"),
    ("fills.card", "Card", "Карта"),
    ("fills.status", "Status", "Статус"),
    ("fills.amount", "Amount", "Сумма"),
    ("fills.code", "Code", "Код"),
    ("cards.title", "Cards", "Карты"),
    ("cards.last4", "Number", "Номер"),
    ("cards.status", "Status", "Статус"),
    ("cards.driver", "Driver", "Водитель"),
    ("cards.vehicle", "Vehicle", "Автомобиль"),
    ("cards.group", "Depot", "Депо"),
    ("cards.expiry", "Expires", "Срок"),
    ("cards.none", "No cards.", "Карт нет."),
    ("cards.issue", "Issue a card", "Выпустить карту"),
    ("cards.issue.submit", "Issue", "Выпустить"),
    ("cards.nobody", "— none —", "— нет —"),
    ("cards.filter", "Filter", "Фильтр"),
    ("cards.all", "All", "Все"),
    ("cards.search", "Search: number, driver, depot", "Поиск: номер, водитель, депо"),
    ("card.title", "Card", "Карта"),
    ("card.binding", "Bind to a driver", "Привязать к водителю"),
    ("card.binding.submit", "Save binding", "Сохранить привязку"),
    ("card.status_change", "Change status", "Сменить статус"),
    ("card.reason", "Reason", "Причина"),
    ("card.status.submit", "Apply", "Применить"),
    ("card.controls", "Effective controls", "Действующие ограничения"),
    ("card.controls.source", "Set at", "Задано на уровне"),
    ("card.controls.none", "No limits apply.", "Ограничений нет."),
    ("card.limits", "Limits on this card", "Лимиты этой карты"),
    (
        "card.limits.hint",
        "Amounts in major units (e.g. 300.00), volumes in litres (e.g. 60 or 60.5); leave empty for no limit at card level.",
        "Суммы в основных единицах (например 300.00), объёмы в литрах (например 60 или 60.5); пусто — без лимита на уровне карты.",
    ),
    ("card.limits.submit", "Save limits", "Сохранить лимиты"),
    ("level.limits", "Own limits", "Собственные лимиты"),
    (
        "level.limits.locked",
        "Your own depot's limits are set by the fleet owner; you can tighten them on its drivers, vehicles, cards and child depots.",
        "Лимиты вашего депо устанавливает владелец автопарка; вы можете ужесточить их для водителей, машин, карт и вложенных депо.",
    ),
    (
        "level.limits.hint",
        "They bind every card under this level, together with the other levels' limits (the tightest applies). Amounts in major units (e.g. 300.00), volumes in litres (e.g. 60 or 60.5); leave empty for no limit at this level.",
        "Действуют на все карты этого уровня вместе с лимитами других уровней (применяется самый строгий). Суммы в основных единицах (например 300.00), объёмы в литрах (например 60 или 60.5); пусто — без лимита на этом уровне.",
    ),
    ("card.fills", "Recent fills", "Последние заправки"),
    ("card.timeline", "Audit timeline", "Журнал действий"),
    ("limit.per_authorization", "Per fill, amount", "За заправку, сумма"),
    ("limit.daily", "Per day, amount", "В день, сумма"),
    ("limit.daily_count", "Per day, fills", "В день, заправок"),
    ("limit.weekly", "Per week, amount", "В неделю, сумма"),
    ("limit.per_authorization_litres", "Per fill, litres", "За заправку, литров"),
    ("limit.daily_litres", "Per day, litres", "В день, литров"),
    ("limit.weekly_litres", "Per week, litres", "В неделю, литров"),
    ("limit.monthly_litres", "Per month, litres", "В месяц, литров"),
    ("limit.weekly_count", "Per week, fills", "В неделю, заправок"),
    ("limit.monthly_count", "Per month, fills", "В месяц, заправок"),
    ("limit.monthly", "Per month, amount", "В месяц, сумма"),
    ("limit.products", "Allowed products", "Разрешённые продукты"),
    ("limit.stations", "Allowed stations", "Разрешённые АЗС"),
    ("limit.blocked_stations", "Blocked stations", "Запрещённые АЗС"),
    ("limit.time_windows", "Time windows", "Окна времени"),
    ("status.active", "active", "активна"),
    ("status.suspended", "suspended", "приостановлена"),
    ("status.blocked", "blocked", "заблокирована"),
    ("status.closed", "closed", "закрыта"),
    ("alert_status.open", "open", "открыт"),
    ("alert_status.taken", "taken", "в работе"),
    ("alert_status.confirmed_fraud", "confirmed fraud", "мошенничество"),
    ("alert_status.false_positive", "false positive", "ложное срабатывание"),
    ("alerts.all_statuses", "all", "все"),
    ("alerts.title", "Alert queue", "Очередь алертов"),
    ("alerts.org", "Org id", "Id организации"),
    ("alerts.rule", "Rule", "Правило"),
    ("alerts.status", "Status", "Статус"),
    ("alerts.risk", "Risk", "Риск"),
    ("alerts.age", "Opened", "Открыт"),
    ("alerts.reason", "Why", "Причина"),
    ("alerts.none", "No alerts match.", "Нет подходящих алертов."),
    ("alerts.apply", "Apply filters", "Применить"),
    ("alert.title", "Alert", "Алерт"),
    ("alert.authorization", "The authorization", "Авторизация"),
    ("alert.checks", "Decision trace: limits", "Трассировка решения: лимиты"),
    ("alert.rules", "Decision trace: fraud rules", "Трассировка решения: фрод-правила"),
    ("alert.rule_hit", "Hit", "Сработало"),
    ("alert.rule_pass", "pass", "нет"),
    ("alert.observed", "Values seen", "Наблюдаемые значения"),
    ("alert.mode", "Mode", "Режим"),
    ("alert.action", "Action", "Действие"),
    ("alert.recent_fills", "The card's recent fills", "Последние заправки по карте"),
    ("alert.comments", "Comments", "Комментарии"),
    ("travel.title", "Impossible travel", "Невозможное перемещение"),
    ("travel.from", "From (the card's previous fill)", "Откуда (предыдущая заправка по карте)"),
    ("travel.to", "To (this fill)", "Куда (эта заправка)"),
    ("travel.distance", "Straight-line distance", "Расстояние по прямой"),
    ("travel.elapsed", "Time between the fills", "Время между заправками"),
    ("travel.speed", "Implied speed", "Требуемая скорость"),
    ("travel.max", "rule maximum", "максимум правила"),
    (
        "travel.no_previous",
        "previous fill not among the recent fills",
        "предыдущей заправки нет среди последних заправок",
    ),
    ("travel.no_time", "no time elapsed", "время не прошло"),
    ("unit.h", "h", "ч"),
    ("unit.min", "min", "мин"),
    ("unit.s", "s", "с"),
    ("alert.take", "Take", "Взять в работу"),
    ("alert.comment", "Add comment", "Добавить комментарий"),
    ("alert.resolve", "Resolve", "Закрыть"),
    ("alert.note", "Note", "Примечание"),
    (
        "alert.confirmed_fraud",
        "Confirmed fraud (blocks the card)",
        "Подтверждённое мошенничество (блокирует карту)",
    ),
    ("alert.false_positive", "False positive", "Ложное срабатывание"),
    ("alert.card", "Card", "Карта"),
    ("alert.related", "Other alerts on this card", "Другие алерты по этой карте"),
    (
        "alert.related_driver",
        "Alerts on this driver's fills with other cards",
        "Алерты по заправкам этого водителя с другими картами",
    ),
    (
        "alert.driver_unknown",
        "The driver of this fill is not known (no driver bound, or the card was re-bound since).",
        "Водитель этой заправки неизвестен (карта не привязана или перепривязана с тех пор).",
    ),
    (
        "alert.related_station",
        "Alerts on other cards' fills at this station",
        "Алерты по заправкам других карт на этой АЗС",
    ),
    ("rules.title", "Fraud rules of this fleet", "Фрод-правила этого автопарка"),
    ("rules.id", "Rule", "Правило"),
    ("rules.parameters", "Parameters", "Параметры"),
    ("rules.enabled", "Enabled", "Включено"),
    (
        "rules.last_7",
        "Last 7 days: hits / confirmed / false positives",
        "За 7 дней: срабатывания / подтверждено / ложные",
    ),
    (
        "rules.last_30",
        "Last 30 days: hits / confirmed / false positives",
        "За 30 дней: срабатывания / подтверждено / ложные",
    ),
    ("rules.save", "Save", "Сохранить"),
    (
        "rules.org_required",
        "Name the fleet: open the rules from an alert, or add ?org_id= to the address.",
        "Укажите автопарк: откройте правила со страницы алерта или добавьте ?org_id= в адрес.",
    ),
    ("alert.check", "Check", "Проверка"),
    ("alert.passed", "Passed", "Пройдена"),
    ("alert.detail", "Detail", "Подробности"),
    ("nav.drivers", "Drivers", "Водители"),
    ("nav.vehicles", "Vehicles", "Машины"),
    ("nav.groups", "Depots", "Депо"),
    ("dir.state", "State", "Состояние"),
    ("dir.search", "Search", "Поиск"),
    ("dir.state.active", "active", "активные"),
    ("dir.state.deactivated", "deactivated", "отключённые"),
    ("dir.status.invited", "invited", "приглашён"),
    ("dir.status.active", "active", "активен"),
    ("dir.status.deactivated", "deactivated", "отключён"),
    ("dir.none", "Nothing matches.", "Ничего не найдено."),
    ("dir.name", "Name", "Имя"),
    ("dir.email", "Email", "Эл. почта"),
    ("dir.created", "Created", "Создан"),
    ("dir.edit", "Edit", "Изменить"),
    ("dir.save", "Save", "Сохранить"),
    ("dir.deactivate", "Deactivate", "Отключить"),
    ("drivers.title", "Drivers", "Водители"),
    ("drivers.invite", "Invite a driver", "Пригласить водителя"),
    ("drivers.invite.submit", "Invite", "Пригласить"),
    ("drivers.invited", "Driver invited", "Водитель приглашён"),
    (
        "drivers.invite.once",
        "Give the driver this one-time invite token to set a password in the app. It is shown only now: it is not stored in readable form and cannot be shown again.",
        "Передайте водителю этот одноразовый токен приглашения, чтобы задать пароль в приложении. Он показан только сейчас: в открытом виде он не хранится и повторно показан не будет.",
    ),
    ("drivers.invite.expires", "Valid until", "Действует до"),
    ("drivers.open", "Open the driver's page", "Открыть страницу водителя"),
    ("drivers.back", "Back to drivers", "К списку водителей"),
    ("driver.title", "Driver", "Водитель"),
    ("driver.cards", "Cards bound to this driver", "Карты, привязанные к водителю"),
    ("driver.deactivated", "This driver is deactivated.", "Водитель отключён."),
    (
        "driver.deactivate.hint",
        "The driver can no longer sign in; their sessions and phone tokens stop now.",
        "Водитель больше не сможет войти; его сессии и токены телефона перестают действовать сразу.",
    ),
    ("vehicles.title", "Vehicles", "Машины"),
    ("vehicles.plate", "Plate", "Госномер"),
    ("vehicles.products", "Products", "Продукты"),
    ("vehicles.tank", "Tank, litres", "Бак, литров"),
    ("vehicles.create", "Add a vehicle", "Добавить машину"),
    ("vehicles.create.submit", "Add", "Добавить"),
    ("vehicle.title", "Vehicle", "Машина"),
    ("vehicle.deactivated", "This vehicle is deactivated.", "Машина отключена."),
    ("groups.title", "Depots", "Депо"),
    ("groups.parent", "Inside", "Входит в"),
    ("groups.top", "(top level)", "(верхний уровень)"),
    ("groups.create", "Add a depot", "Добавить депо"),
    ("groups.create.submit", "Add", "Добавить"),
    ("groups.rename", "Rename", "Переименовать"),
    ("group.title", "Depot", "Депо"),
    ("group.deactivated", "This depot is deactivated.", "Депо отключено."),
    (
        "group.deactivate.hint",
        "Only an empty depot can be deactivated: move or deactivate its drivers and vehicles, close its cards and deactivate its child depots first. It then takes nothing new.",
        "Отключить можно только пустое депо: сначала переведите или отключите его водителей и машины, закройте карты и отключите вложенные депо. После этого в него ничего нельзя добавить.",
    ),
    ("card.restrictions", "The card's products and stations", "Продукты и АЗС карты"),
    (
        "card.restrictions.hint",
        "Only on this card. Nothing ticked and blank lists: the card sets none (the depot's, driver's and vehicle's still apply). Station ids separated by commas.",
        "Только для этой карты. Ничего не отмечено и пустые списки: карта ничего не задаёт (ограничения депо, водителя и машины действуют). Id АЗС через запятую.",
    ),
    ("card.windows", "The card's time windows", "Окна времени карты"),
    (
        "card.windows.hint",
        "Only on this card: the days and hours fills are allowed, in the fleet's time zone. A window ending before it starts runs past midnight; 24:00 ends at the end of the day. Clear every row to remove the card's windows (the depot's, driver's and vehicle's still apply).",
        "Только для этой карты: дни и часы, когда разрешены заправки, по часовому поясу автопарка. Окно, которое кончается раньше начала, идёт через полночь; 24:00 — конец дня. Очистите все строки, чтобы убрать окна карты (окна депо, водителя и машины действуют).",
    ),
    ("card.windows.window", "Window", "Окно"),
    ("card.windows.from", "From (HH:MM)", "С (ЧЧ:ММ)"),
    ("card.windows.to", "To (HH:MM)", "До (ЧЧ:ММ)"),
    ("day.mon", "Mon", "Пн"),
    ("day.tue", "Tue", "Вт"),
    ("day.wed", "Wed", "Ср"),
    ("day.thu", "Thu", "Чт"),
    ("day.fri", "Fri", "Пт"),
    ("day.sat", "Sat", "Сб"),
    ("day.sun", "Sun", "Вс"),
    ("left.title", "Limits left", "Остаток лимитов"),
    ("left.day", "Today", "Сегодня"),
    ("left.week", "This week", "На этой неделе"),
    ("left.month", "This month", "В этом месяце"),
    ("left.amount", "Amount", "Сумма"),
    ("left.volume", "Volume, litres", "Объём, литров"),
    ("left.count", "Fills", "Заправки"),
    ("left.used", "used", "использовано"),
    ("left.of", "of", "из"),
    ("left.left", "left", "осталось"),
    ("left.none", "No period limits apply to this card.", "Для этой карты нет лимитов по периодам."),
    ("yes", "yes", "да"),
    ("no", "no", "нет"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_key_has_both_languages_once() {
        let mut seen = BTreeSet::new();
        for (key, en, ru) in MESSAGES {
            assert!(seen.insert(*key), "{key} is listed twice");
            assert!(!en.trim().is_empty(), "{key} has no English text");
            assert!(!ru.trim().is_empty(), "{key} has no Russian text");
        }
    }

    #[test]
    fn lookup_picks_the_language() {
        assert_eq!(Lang::En.t("nav.cards"), "Cards");
        assert_eq!(Lang::Ru.t("nav.cards"), "Карты");
        assert_eq!(Lang::from_code("ru"), Lang::Ru);
        assert_eq!(Lang::from_code("xx"), Lang::En);
    }

    /// The Rust sources under `crates/{name}/src`.
    fn sources_of(name: &str) -> Vec<String> {
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = vec![crates.join(name).join("src")];
        let mut sources = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).expect("read src") {
                    files.push(entry.expect("entry").path());
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(&path).expect("source"));
            }
        }
        assert!(!sources.is_empty(), "no sources under crates/{name}/src");
        sources
    }

    /// The first string literal of `text` that looks like a code (`GROUP_NOT_EMPTY`).
    fn first_code(text: &str) -> Option<&str> {
        text.split('"')
            .skip(1)
            .step_by(2)
            .take(3)
            .find(|s| s.len() > 3 && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
    }

    /// Every refusal code the services construct (`conflict(CODE, ..)`,
    /// `FieldError::new(field, CODE, ..)`, the two `FieldError` shorthands) and the
    /// console's own `Refusal::new(CODE, ..)` has a Russian text.
    #[test]
    fn every_refusal_code_has_a_russian_text() {
        let mut codes = BTreeSet::from(["INVALID_VALUE", "OUT_OF_RANGE"]);
        let mut sources = Vec::new();
        for name in ["domain", "issuing", "authorizer", "console"] {
            sources.extend(sources_of(name));
        }
        for source in &sources {
            for marker in ["conflict(", "FieldError::new(", "Refusal::new("] {
                for piece in source.split(marker).skip(1) {
                    let head: String = piece.chars().take(200).collect();
                    if let Some(code) = first_code(&head) {
                        codes.insert(Box::leak(code.to_owned().into_boxed_str()));
                    }
                }
            }
        }
        assert!(codes.contains("GROUP_NOT_EMPTY") && codes.contains("INVALID_FORMAT"), "{codes:?}");
        for code in codes {
            assert!(refusal_ru(code).is_some(), "refusal code {code} has no Russian text");
        }
        let mut seen = BTreeSet::new();
        for (code, ru) in REFUSALS_RU {
            assert!(seen.insert(*code) && !ru.trim().is_empty(), "{code}: listed once, with text");
        }
    }

    /// Every `t("...")` key in the console's sources is in the table.
    #[test]
    fn keys_used_in_the_sources_exist() {
        let sources = sources_of("console");
        let known: BTreeSet<&str> = MESSAGES.iter().map(|(k, _, _)| *k).collect();
        for source in &sources {
            for piece in source.split(".t(\"").skip(1) {
                let key = piece.split('"').next().unwrap_or_default();
                assert!(known.contains(key), "message key {key} is not in MESSAGES");
            }
        }
    }
}
