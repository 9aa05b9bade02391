//! Spending controls: limits and restrictions set at org, group, driver, vehicle or card
//! level, and the effective control of a card, which is the tightest of its whole chain.
//! Money is integer minor units of the org's currency, volume integer millilitres, time
//! integer minutes: no floats, so two services computing the same chain agree exactly.

use crate::money::{positive_amount, positive_volume};
use crate::{FieldError, Product};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use uuid::Uuid;

/// Smallest transaction count a daily / weekly / monthly limit may allow.
pub const MIN_COUNT_PER_PERIOD: i64 = 1;
/// Largest transaction count a daily / weekly / monthly limit may allow.
pub const MAX_COUNT_PER_PERIOD: i64 = 1000;
/// Longest station id, in characters (all ASCII, so also bytes).
pub const MAX_STATION_ID_CHARS: usize = 64;
/// Most station ids one allowed or blocked list may hold.
pub const MAX_STATIONS_PER_LIST: usize = 1000;
/// Most time windows one level may set: four per day of the week.
pub const MAX_TIME_WINDOWS: usize = 28;
/// Minutes in a day; also the value of the end time "24:00".
pub const MINUTES_PER_DAY: u16 = 1440;
/// Minutes in a week: minute-of-week values run over `0..MINUTES_PER_WEEK`, Monday 00:00 = 0.
pub const MINUTES_PER_WEEK: u16 = 7 * MINUTES_PER_DAY;

// ---------------------------------------------------------------------------------------
// Days and times
// ---------------------------------------------------------------------------------------

/// A day of the week as written in controls: `mon` .. `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Self::Mon, Self::Tue, Self::Wed, Self::Thu, Self::Fri, Self::Sat, Self::Sun];

    /// Days since Monday, 0..=6.
    pub fn index(self) -> u16 {
        self as u16
    }

    /// The day after; Sunday is followed by Monday.
    pub fn next(self) -> Self {
        Self::from_index(self.index() + 1)
    }

    /// Wraps modulo 7 so callers need no bounds check.
    fn from_index(index: u16) -> Self {
        Self::ALL[usize::from(index % 7)]
    }
}

impl From<time::Weekday> for Weekday {
    fn from(day: time::Weekday) -> Self {
        Self::from_index(u16::from(day.number_days_from_monday()))
    }
}

impl From<Weekday> for time::Weekday {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Mon => Self::Monday,
            Weekday::Tue => Self::Tuesday,
            Weekday::Wed => Self::Wednesday,
            Weekday::Thu => Self::Thursday,
            Weekday::Fri => Self::Friday,
            Weekday::Sat => Self::Saturday,
            Weekday::Sun => Self::Sunday,
        }
    }
}

/// A wall-clock time written "HH:MM", held as minutes since midnight. "24:00" (= 1440) is
/// representable so a window can end at the end of the day; `validate` refuses it as a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    pub const MIDNIGHT: Self = Self(0);
    pub const END_OF_DAY: Self = Self(MINUTES_PER_DAY);

    /// `None` above 1440 (past "24:00").
    pub fn from_minutes(minutes: u16) -> Option<Self> {
        (minutes <= MINUTES_PER_DAY).then_some(Self(minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {0:?}: expected \"HH:MM\" (two digits, a colon, two digits) \
     from 00:00 to 23:59, or 24:00 as an end time"
)]
pub struct ClockTimeError(String);

impl FromStr for ClockTime {
    type Err = ClockTimeError;
    fn from_str(s: &str) -> Result<Self, ClockTimeError> {
        parse_hh_mm(s).map(Self).ok_or_else(|| ClockTimeError(s.to_owned()))
    }
}

/// Strict on purpose: "6:00", "06:00:00" or " 06:00" are more likely typos than intent.
fn parse_hh_mm(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let digit = |i: usize| b[i].is_ascii_digit().then(|| u16::from(b[i] - b'0'));
    let hours = digit(0)? * 10 + digit(1)?;
    let minutes = digit(3)? * 10 + digit(4)?;
    let valid = (hours < 24 && minutes < 60) || (hours == 24 && minutes == 0);
    valid.then_some(hours * 60 + minutes)
}

impl TryFrom<String> for ClockTime {
    type Error = ClockTimeError;
    fn try_from(s: String) -> Result<Self, ClockTimeError> {
        s.parse()
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        t.to_string()
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

// ---------------------------------------------------------------------------------------
// Controls as set at one level
// ---------------------------------------------------------------------------------------

/// Limits on a single authorization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerAuthorization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_ml: Option<i64>,
}

/// Limits on the total over a day, week or month (in the org's time zone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_ml: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

/// Allowed hours on some days, in station local time. `end < start` runs past midnight into
/// the next day (Sunday into Monday).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    pub days: Vec<Weekday>,
    pub start: ClockTime,
    pub end: ClockTime,
}

/// The controls one level sets. `None` means this level does not restrict that aspect, so
/// `Controls::default()` restricts nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_authorization: Option<PerAuthorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<PeriodLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<PeriodLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<PeriodLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_products: Option<Vec<Product>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_stations: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_stations: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_windows: Option<Vec<TimeWindow>>,
}

impl Controls {
    /// Reports the first invalid value, with its JSON path.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(limits) = &self.per_authorization {
            limits.validate().map_err(|e| e.within("per_authorization"))?;
        }
        let periods =
            [("daily", &self.daily), ("weekly", &self.weekly), ("monthly", &self.monthly)];
        for (name, limits) in periods {
            if let Some(limits) = limits {
                limits.validate().map_err(|e| e.within(name))?;
            }
        }
        if let Some(products) = &self.allowed_products {
            validate_allowed_products(products)?;
        }
        self.validate_stations()?;
        if let Some(windows) = &self.time_windows {
            validate_time_windows(windows)?;
        }
        Ok(())
    }

    fn validate_stations(&self) -> Result<(), FieldError> {
        if let Some(allowed) = &self.allowed_stations {
            if allowed.is_empty() {
                return Err(nothing_allowed("allowed_stations", "station"));
            }
            validate_station_list("allowed_stations", allowed)?;
        }
        if let Some(blocked) = &self.blocked_stations {
            validate_station_list("blocked_stations", blocked)?;
        }
        match (&self.allowed_stations, &self.blocked_stations) {
            (Some(allowed), Some(blocked)) => reject_station_in_both(allowed, blocked),
            _ => Ok(()),
        }
    }
}

impl PerAuthorization {
    fn validate(&self) -> Result<(), FieldError> {
        if let Some(amount) = self.amount {
            positive_amount("amount", amount)?;
        }
        if let Some(volume) = self.volume_ml {
            positive_volume("volume_ml", volume)?;
        }
        Ok(())
    }
}

impl PeriodLimits {
    fn validate(&self) -> Result<(), FieldError> {
        if let Some(amount) = self.amount {
            positive_amount("amount", amount)?;
        }
        if let Some(volume) = self.volume_ml {
            positive_volume("volume_ml", volume)?;
        }
        if let Some(count) = self.count {
            if !(MIN_COUNT_PER_PERIOD..=MAX_COUNT_PER_PERIOD).contains(&count) {
                return Err(FieldError::out_of_range(
                    "count",
                    format!(
                        "must be a number of transactions between {MIN_COUNT_PER_PERIOD} \
                         and {MAX_COUNT_PER_PERIOD}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl TimeWindow {
    fn validate(&self) -> Result<(), FieldError> {
        if self.days.is_empty() {
            return Err(FieldError::invalid("days", "must list at least one day"));
        }
        if self.start >= ClockTime::END_OF_DAY {
            return Err(FieldError::out_of_range("start", "must be between 00:00 and 23:59"));
        }
        if self.start == self.end {
            return Err(FieldError::invalid(
                "end",
                "must differ from start (an end before the start runs past midnight)",
            ));
        }
        Ok(())
    }
}

/// An empty allow-list would silently make the card unusable; that is what suspending the
/// card is for, and a suspension shows up as such in the app and the decline reason.
fn nothing_allowed(field: &str, what: &str) -> FieldError {
    FieldError::invalid(
        field,
        format!(
            "must list at least one {what}; to allow nothing, suspend the card instead, \
             and to allow every {what}, omit {field}"
        ),
    )
}

fn validate_allowed_products(products: &[Product]) -> Result<(), FieldError> {
    if products.is_empty() {
        return Err(nothing_allowed("allowed_products", "product"));
    }
    Ok(())
}

fn validate_station_list(field: &str, ids: &[String]) -> Result<(), FieldError> {
    if ids.len() > MAX_STATIONS_PER_LIST {
        return Err(FieldError::out_of_range(
            field,
            format!("must list at most {MAX_STATIONS_PER_LIST} stations"),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        validate_station_id(&format!("{field}[{i}]"), id)?;
    }
    Ok(())
}

fn validate_station_id(field: &str, id: &str) -> Result<(), FieldError> {
    if id.is_empty() {
        return Err(FieldError::invalid(field, "must not be empty"));
    }
    if id.chars().count() > MAX_STATION_ID_CHARS {
        return Err(FieldError::out_of_range(
            field,
            format!("must be at most {MAX_STATION_ID_CHARS} characters"),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if !id.chars().all(allowed) {
        return Err(FieldError::new(
            field,
            "INVALID_FORMAT",
            "must contain only letters A-Z a-z, digits, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// Both at once is contradictory: the block would win, so the allow entry only misleads.
fn reject_station_in_both(allowed: &[String], blocked: &[String]) -> Result<(), FieldError> {
    let allowed: BTreeSet<&str> = allowed.iter().map(String::as_str).collect();
    match blocked.iter().find(|id| allowed.contains(id.as_str())) {
        Some(id) => Err(FieldError::invalid(
            "blocked_stations",
            format!("station {id:?} is also in allowed_stations; list it in only one of them"),
        )),
        None => Ok(()),
    }
}

fn validate_time_windows(windows: &[TimeWindow]) -> Result<(), FieldError> {
    if windows.is_empty() {
        return Err(FieldError::invalid(
            "time_windows",
            "must list at least one window; to allow any time, omit time_windows",
        ));
    }
    if windows.len() > MAX_TIME_WINDOWS {
        return Err(FieldError::out_of_range(
            "time_windows",
            format!("must list at most {MAX_TIME_WINDOWS} windows"),
        ));
    }
    for (i, window) in windows.iter().enumerate() {
        window.validate().map_err(|e| e.within(&format!("time_windows[{i}]")))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The effective control of a chain of levels
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Org,
    Group,
    Driver,
    Vehicle,
    Card,
}

impl Level {
    pub const ALL: [Level; 5] = [Self::Org, Self::Group, Self::Driver, Self::Vehicle, Self::Card];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Org => "org",
            Self::Group => "group",
            Self::Driver => "driver",
            Self::Vehicle => "vehicle",
            Self::Card => "card",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|l| l.as_str() == s).ok_or(())
    }
}

/// Which level (and which org / group / driver / vehicle / card) a control came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LevelRef {
    pub level: Level,
    pub id: Uuid,
}

/// An effective numeric limit and the level that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: LevelRef,
}

/// An effective set and every level that contributed to it, in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcedSet<T> {
    pub value: BTreeSet<T>,
    pub sources: Vec<LevelRef>,
}

/// Allowed hours on one day; never crosses midnight (`end` may be "24:00").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayWindow {
    pub day: Weekday,
    pub start: ClockTime,
    pub end: ClockTime,
}

/// Effective time windows, Monday first, sorted and non-overlapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourcedWindows {
    pub value: Vec<DayWindow>,
    pub sources: Vec<LevelRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EffectivePerAuthorization {
    pub amount: Option<Sourced<i64>>,
    pub volume_ml: Option<Sourced<i64>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EffectivePeriod {
    pub amount: Option<Sourced<i64>>,
    pub volume_ml: Option<Sourced<i64>>,
    pub count: Option<Sourced<i64>>,
}

/// The tightest control of a chain. `None` everywhere (the default) restricts nothing; an
/// empty allowed set or window list is a real result and allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub per_authorization: EffectivePerAuthorization,
    pub daily: EffectivePeriod,
    pub weekly: EffectivePeriod,
    pub monthly: EffectivePeriod,
    pub allowed_products: Option<SourcedSet<Product>>,
    pub allowed_stations: Option<SourcedSet<String>>,
    pub blocked_stations: Option<SourcedSet<String>>,
    pub time_windows: Option<SourcedWindows>,
}

/// One level of a chain: who set the controls, and the controls.
pub type ChainLink<'a> = (LevelRef, &'a Controls);

/// Combines a chain ordered from broadest (org, then groups root to leaf) to narrowest
/// (driver, vehicle, card) into the tightest control of the whole chain.
pub fn effective(chain: &[ChainLink<'_>]) -> Effective {
    Effective {
        per_authorization: EffectivePerAuthorization {
            amount: tightest(chain, |c| c.per_authorization?.amount),
            volume_ml: tightest(chain, |c| c.per_authorization?.volume_ml),
        },
        daily: effective_period(chain, |c| c.daily),
        weekly: effective_period(chain, |c| c.weekly),
        monthly: effective_period(chain, |c| c.monthly),
        allowed_products: combine_sets(chain, |c| c.allowed_products.as_deref(), intersect_into),
        allowed_stations: combine_sets(chain, |c| c.allowed_stations.as_deref(), intersect_into),
        blocked_stations: combine_sets(chain, |c| c.blocked_stations.as_deref(), union_into),
        time_windows: effective_windows(chain),
    }
}

impl Effective {
    pub fn allows_product(&self, product: Product) -> bool {
        self.allowed_products.as_ref().is_none_or(|set| set.value.contains(&product))
    }

    pub fn allows_station(&self, station_id: &str) -> bool {
        let blocked = self.blocked_stations.as_ref().is_some_and(|s| s.value.contains(station_id));
        let listed = self.allowed_stations.as_ref().is_none_or(|s| s.value.contains(station_id));
        !blocked && listed
    }

    /// `minute_of_day` is station local time; 1440 and above is never allowed.
    pub fn allows_time(&self, weekday: time::Weekday, minute_of_day: u16) -> bool {
        let Some(windows) = &self.time_windows else { return true };
        let day = Weekday::from(weekday);
        windows.value.iter().any(|w| {
            w.day == day && w.start.minutes() <= minute_of_day && minute_of_day < w.end.minutes()
        })
    }
}

fn effective_period(
    chain: &[ChainLink<'_>],
    period: impl Fn(&Controls) -> Option<PeriodLimits>,
) -> EffectivePeriod {
    EffectivePeriod {
        amount: tightest(chain, |c| period(c)?.amount),
        volume_ml: tightest(chain, |c| period(c)?.volume_ml),
        count: tightest(chain, |c| period(c)?.count),
    }
}

/// The smallest limit any level sets. Only a strictly smaller value moves the source, so a
/// tie keeps the broadest level: a narrower level repeating a limit does not own it.
fn tightest(
    chain: &[ChainLink<'_>],
    limit: impl Fn(&Controls) -> Option<i64>,
) -> Option<Sourced<i64>> {
    let mut best: Option<Sourced<i64>> = None;
    for (source, controls) in chain {
        let Some(value) = limit(controls) else { continue };
        if best.is_none_or(|b| value < b.value) {
            best = Some(Sourced { value, source: *source });
        }
    }
    best
}

fn combine_sets<T: Ord + Clone>(
    chain: &[ChainLink<'_>],
    list: impl Fn(&Controls) -> Option<&[T]>,
    combine: fn(&mut BTreeSet<T>, BTreeSet<T>),
) -> Option<SourcedSet<T>> {
    let mut acc: Option<SourcedSet<T>> = None;
    for (source, controls) in chain {
        let Some(items) = list(controls) else { continue };
        let items: BTreeSet<T> = items.iter().cloned().collect();
        match &mut acc {
            None => acc = Some(SourcedSet { value: items, sources: vec![*source] }),
            Some(set) => {
                combine(&mut set.value, items);
                set.sources.push(*source);
            }
        }
    }
    acc
}

fn intersect_into<T: Ord>(acc: &mut BTreeSet<T>, items: BTreeSet<T>) {
    acc.retain(|x| items.contains(x));
}

fn union_into<T: Ord>(acc: &mut BTreeSet<T>, items: BTreeSet<T>) {
    acc.extend(items);
}

// ---------------------------------------------------------------------------------------
// Time windows as minute-of-week intervals
// ---------------------------------------------------------------------------------------

/// Half-open minute-of-week intervals within `0..MINUTES_PER_WEEK`.
type Intervals = Vec<Range<u16>>;

fn effective_windows(chain: &[ChainLink<'_>]) -> Option<SourcedWindows> {
    let mut acc: Option<(Intervals, Vec<LevelRef>)> = None;
    for (source, controls) in chain {
        let Some(windows) = &controls.time_windows else { continue };
        let mine = week_intervals(windows);
        acc = Some(match acc {
            None => (mine, vec![*source]),
            Some((current, mut sources)) => {
                sources.push(*source);
                (intersect_intervals(&current, &mine), sources)
            }
        });
    }
    acc.map(|(intervals, sources)| SourcedWindows { value: day_windows(&intervals), sources })
}

/// One level's windows as sorted, merged, non-overlapping intervals.
fn week_intervals(windows: &[TimeWindow]) -> Intervals {
    let mut raw = Vec::new();
    for window in windows {
        for day in &window.days {
            push_window(&mut raw, *day, window.start, window.end);
        }
    }
    merge_intervals(raw)
}

/// Adds one day's window, splitting it where it wraps past Sunday midnight into Monday.
fn push_window(out: &mut Intervals, day: Weekday, start: ClockTime, end: ClockTime) {
    // validate() refuses these; if an unvalidated one slips through, it allows nothing
    // rather than a guess.
    if start == end || start >= ClockTime::END_OF_DAY {
        return;
    }
    let base = day.index() * MINUTES_PER_DAY;
    let from = base + start.minutes();
    let overnight = if end < start { MINUTES_PER_DAY } else { 0 };
    let to = base + overnight + end.minutes();
    if to > MINUTES_PER_WEEK {
        out.push(from..MINUTES_PER_WEEK);
        out.push(0..to - MINUTES_PER_WEEK);
    } else {
        out.push(from..to);
    }
}

/// Touching intervals merge too, so Mon 20:00-24:00 + Tue 00:00-06:00 become one.
fn merge_intervals(mut raw: Intervals) -> Intervals {
    raw.sort_by_key(|r| (r.start, r.end));
    let mut out: Intervals = Vec::with_capacity(raw.len());
    for r in raw {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

fn intersect_intervals(a: &[Range<u16>], b: &[Range<u16>]) -> Intervals {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        let (start, end) = (x.start.max(y.start), x.end.min(y.end));
        if start < end {
            out.push(start..end);
        }
        // Drop whichever ends first: it cannot overlap anything further in the other list.
        if x.end <= y.end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Cuts intervals at midnight so each piece is a single day's window.
fn day_windows(intervals: &[Range<u16>]) -> Vec<DayWindow> {
    let mut out = Vec::new();
    for r in intervals {
        let mut from = r.start;
        while from < r.end {
            let day = from / MINUTES_PER_DAY;
            let base = day * MINUTES_PER_DAY;
            let to = (base + MINUTES_PER_DAY).min(r.end);
            out.push(DayWindow {
                day: Weekday::from_index(day),
                start: ClockTime(from - base),
                end: ClockTime(to - base),
            });
            from = to;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::Weekday as W;

    fn t(s: &str) -> ClockTime {
        s.parse().unwrap()
    }

    fn window(days: &[Weekday], start: &str, end: &str) -> TimeWindow {
        TimeWindow { days: days.to_vec(), start: t(start), end: t(end) }
    }

    fn level(level: Level, n: u128) -> LevelRef {
        LevelRef { level, id: Uuid::from_u128(n) }
    }

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    const FULL_JSON: &str = r#"{
        "per_authorization": {"amount": 15000, "volume_ml": 120000},
        "daily":   {"amount": 30000, "volume_ml": 200000, "count": 3},
        "weekly":  {"amount": 100000, "volume_ml": 800000, "count": 15},
        "monthly": {"amount": 400000, "volume_ml": 3000000, "count": 60},
        "allowed_products": ["diesel", "adblue"],
        "allowed_stations": ["st-001"],
        "blocked_stations": ["st-666"],
        "time_windows": [{"days": ["mon","tue","wed","thu","fri"], "start": "06:00", "end": "22:00"}]
    }"#;

    fn full() -> Controls {
        serde_json::from_str(FULL_JSON).unwrap()
    }

    fn field_of(c: &Controls) -> String {
        c.validate().unwrap_err().field
    }

    #[test]
    fn validate_accepts_full_example_and_default() {
        assert_eq!(full().validate(), Ok(()));
        assert_eq!(Controls::default().validate(), Ok(()));
    }

    #[test]
    fn validate_numeric_limits_with_paths() {
        let mut c = full();
        c.per_authorization = Some(PerAuthorization { amount: Some(0), volume_ml: None });
        assert_eq!(field_of(&c), "per_authorization.amount");
        c.per_authorization = Some(PerAuthorization { amount: Some(1), volume_ml: Some(-5) });
        assert_eq!(field_of(&c), "per_authorization.volume_ml");
        c = full();
        c.daily = Some(PeriodLimits {
            amount: Some(crate::money::MAX_AMOUNT_MINOR + 1),
            ..Default::default()
        });
        assert_eq!(field_of(&c), "daily.amount");
        c = full();
        c.weekly = Some(PeriodLimits { count: Some(0), ..Default::default() });
        let e = c.validate().unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("weekly.count", "OUT_OF_RANGE"));
        c.weekly =
            Some(PeriodLimits { count: Some(MAX_COUNT_PER_PERIOD + 1), ..Default::default() });
        assert_eq!(field_of(&c), "weekly.count");
        c.weekly = Some(PeriodLimits { count: Some(MAX_COUNT_PER_PERIOD), ..Default::default() });
        assert_eq!(c.validate(), Ok(()));
        c.monthly = Some(PeriodLimits { volume_ml: Some(0), ..Default::default() });
        assert_eq!(field_of(&c), "monthly.volume_ml");
    }

    #[test]
    fn validate_reports_first_problem_in_field_order() {
        let mut c = full();
        c.daily = Some(PeriodLimits { count: Some(0), ..Default::default() });
        c.time_windows = Some(vec![]);
        assert_eq!(field_of(&c), "daily.count");
    }

    #[test]
    fn validate_empty_allowed_products_says_suspend() {
        let mut c = full();
        c.allowed_products = Some(vec![]);
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "allowed_products");
        assert!(e.message.contains("suspend the card"), "{}", e.message);
        c.allowed_stations = Some(vec![]);
        c.allowed_products = None;
        assert_eq!(field_of(&c), "allowed_stations");
    }

    #[test]
    fn validate_station_ids() {
        let mut c = full();
        c.allowed_stations = Some(strings(&["ok-1", ""]));
        assert_eq!(field_of(&c), "allowed_stations[1]");
        c.allowed_stations = Some(vec!["a".repeat(MAX_STATION_ID_CHARS)]);
        assert_eq!(c.validate(), Ok(()));
        c.allowed_stations = Some(vec!["a".repeat(MAX_STATION_ID_CHARS + 1)]);
        assert_eq!(field_of(&c), "allowed_stations[0]");
        c.allowed_stations = Some(strings(&["A.b_c-9"]));
        c.blocked_stations = Some(strings(&["x", "y", "st 1"]));
        let e = c.validate().unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("blocked_stations[2]", "INVALID_FORMAT"));
        c.blocked_stations = Some(strings(&["stació"]));
        assert_eq!(field_of(&c), "blocked_stations[0]");
        c.blocked_stations = Some((0..=MAX_STATIONS_PER_LIST).map(|i| format!("s{i}")).collect());
        assert_eq!(field_of(&c), "blocked_stations");
        c.blocked_stations = Some(vec![]);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn validate_station_in_both_lists() {
        let mut c = full();
        c.allowed_stations = Some(strings(&["st-001", "st-002"]));
        c.blocked_stations = Some(strings(&["st-666", "st-002"]));
        let e = c.validate().unwrap_err();
        assert_eq!(e.field, "blocked_stations");
        assert!(e.message.contains("st-002"), "{}", e.message);
    }

    #[test]
    fn validate_time_windows() {
        let mut c = full();
        c.time_windows = Some(vec![]);
        assert_eq!(field_of(&c), "time_windows");
        let ok = window(&[Weekday::Mon], "06:00", "22:00");
        c.time_windows = Some(vec![ok.clone(); MAX_TIME_WINDOWS]);
        assert_eq!(c.validate(), Ok(()));
        c.time_windows = Some(vec![ok.clone(); MAX_TIME_WINDOWS + 1]);
        assert_eq!(field_of(&c), "time_windows");
        c.time_windows = Some(vec![ok.clone(), window(&[], "06:00", "22:00")]);
        assert_eq!(field_of(&c), "time_windows[1].days");
        c.time_windows = Some(vec![ok.clone(), window(&[Weekday::Sun], "24:00", "06:00")]);
        assert_eq!(field_of(&c), "time_windows[1].start");
        c.time_windows = Some(vec![ok.clone(), window(&[Weekday::Sun], "07:00", "07:00")]);
        assert_eq!(field_of(&c), "time_windows[1].end");
        c.time_windows = Some(vec![ok, window(&[Weekday::Sun], "22:00", "06:00")]);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn serde_round_trip_full_controls() {
        let c = full();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Controls>(&json).unwrap(), c);
        assert_eq!(c.time_windows.as_ref().unwrap()[0].end, t("22:00"));
        assert!(json.contains(r#""start":"06:00""#), "{json}");
        assert_eq!(serde_json::to_string(&Controls::default()).unwrap(), "{}");
        let end_of_day: TimeWindow =
            serde_json::from_str(r#"{"days":["sun"],"start":"18:30","end":"24:00"}"#).unwrap();
        assert_eq!(serde_json::to_value(&end_of_day).unwrap()["end"], "24:00");
    }

    #[test]
    fn serde_rejects_unknown_fields_and_bad_values() {
        for bad in [
            r#"{"daily_limit": 5}"#,
            r#"{"daily": {"amount": 5, "currency": "EUR"}}"#,
            r#"{"per_authorization": {"count": 1}}"#,
            r#"{"time_windows": [{"days": ["mon"], "start": "06:00", "end": "07:00", "tz": "x"}]}"#,
            r#"{"time_windows": [{"days": ["monday"], "start": "06:00", "end": "07:00"}]}"#,
            r#"{"allowed_products": ["kerosene"]}"#,
            r#"{"daily": {"amount": "100"}}"#,
            r#"{"daily": {"amount": 1.5}}"#,
        ] {
            assert!(serde_json::from_str::<Controls>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clock_time_parse_is_strict() {
        assert_eq!(t("00:00").minutes(), 0);
        assert_eq!(t("23:59").minutes(), 1439);
        assert_eq!(t("24:00"), ClockTime::END_OF_DAY);
        for bad in [
            "25:00", "24:01", "12:60", "6:00", "06:0", "06-00", " 06:00", "06:00:00", "", "ab:cd",
            "+6:00",
        ] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad}");
        }
        let json = r#"{"days": ["mon"], "start": "25:00", "end": "07:00"}"#;
        let msg = serde_json::from_str::<TimeWindow>(json).unwrap_err().to_string();
        assert!(msg.contains("\"25:00\"") && msg.contains("HH:MM"), "{msg}");
        assert_eq!(ClockTime::from_minutes(1441), None);
        assert_eq!(ClockTime::from_minutes(605).unwrap().to_string(), "10:05");
    }

    #[test]
    fn weekday_conversions() {
        for day in Weekday::ALL {
            assert_eq!(Weekday::from(time::Weekday::from(day)), day);
        }
        assert_eq!(Weekday::Sun.next(), Weekday::Mon);
        assert_eq!(Weekday::from(W::Sunday).index(), 6);
    }

    #[test]
    fn effective_numeric_min_with_source() {
        let org = Controls {
            daily: Some(PeriodLimits {
                amount: Some(50_000),
                count: Some(5),
                ..Default::default()
            }),
            per_authorization: Some(PerAuthorization { amount: Some(20_000), volume_ml: None }),
            ..Default::default()
        };
        let card = Controls {
            daily: Some(PeriodLimits {
                amount: Some(30_000),
                volume_ml: Some(100_000),
                count: Some(9),
            }),
            ..Default::default()
        };
        let (o, d, k) = (level(Level::Org, 1), level(Level::Driver, 2), level(Level::Card, 3));
        let e = effective(&[(o, &org), (d, &Controls::default()), (k, &card)]);
        assert_eq!(e.daily.amount, Some(Sourced { value: 30_000, source: k }));
        assert_eq!(e.daily.count, Some(Sourced { value: 5, source: o }));
        assert_eq!(e.daily.volume_ml, Some(Sourced { value: 100_000, source: k }));
        assert_eq!(e.per_authorization.amount, Some(Sourced { value: 20_000, source: o }));
        assert_eq!(e.per_authorization.volume_ml, None);
        assert_eq!(e.weekly, EffectivePeriod::default());
        assert_eq!(e.monthly.count, None);
    }

    #[test]
    fn effective_tie_goes_to_broadest() {
        let same = Controls {
            monthly: Some(PeriodLimits { count: Some(10), ..Default::default() }),
            ..Default::default()
        };
        let (g1, g2, k) = (level(Level::Group, 1), level(Level::Group, 2), level(Level::Card, 3));
        let e = effective(&[(g1, &Controls::default()), (g2, &same), (k, &same)]);
        assert_eq!(e.monthly.count, Some(Sourced { value: 10, source: g2 }));
    }

    #[test]
    fn effective_sets_intersect_and_union() {
        use Product::*;
        let org = Controls {
            allowed_products: Some(vec![Diesel, Adblue, CarWash]),
            allowed_stations: Some(strings(&["a", "b", "c"])),
            blocked_stations: Some(strings(&["x"])),
            ..Default::default()
        };
        let vehicle = Controls {
            allowed_products: Some(vec![Diesel, Adblue, Petrol95]),
            blocked_stations: Some(strings(&["b", "y"])),
            ..Default::default()
        };
        let card =
            Controls { allowed_stations: Some(strings(&["b", "c", "d"])), ..Default::default() };
        let (o, v, k) = (level(Level::Org, 1), level(Level::Vehicle, 2), level(Level::Card, 3));
        let e = effective(&[(o, &org), (v, &vehicle), (k, &card)]);
        let products = e.allowed_products.as_ref().unwrap();
        assert_eq!(products.value, BTreeSet::from([Diesel, Adblue]));
        assert_eq!(products.sources, vec![o, v]);
        let stations = e.allowed_stations.as_ref().unwrap();
        assert_eq!(stations.value, BTreeSet::from(["b".to_owned(), "c".to_owned()]));
        assert_eq!(stations.sources, vec![o, k]);
        let blocked = e.blocked_stations.as_ref().unwrap();
        assert_eq!(blocked.value, ["b", "x", "y"].map(String::from).into());
        assert_eq!(blocked.sources, vec![o, v]);
        assert!(e.allows_product(Diesel) && !e.allows_product(CarWash) && !e.allows_product(Shop));
        assert!(e.allows_station("c"));
        assert!(!e.allows_station("b"), "blocked wins over allowed");
        assert!(!e.allows_station("a") && !e.allows_station("d") && !e.allows_station("x"));
    }

    #[test]
    fn effective_empty_intersection_allows_nothing() {
        let a = Controls { allowed_products: Some(vec![Product::Diesel]), ..Default::default() };
        let b = Controls { allowed_products: Some(vec![Product::Lpg]), ..Default::default() };
        let e = effective(&[(level(Level::Org, 1), &a), (level(Level::Card, 2), &b)]);
        assert_eq!(e.allowed_products.as_ref().unwrap().value, BTreeSet::new());
        assert!(Product::ALL.iter().all(|p| !e.allows_product(*p)));
    }

    #[test]
    fn empty_chain_allows_everything() {
        let e = effective(&[]);
        assert_eq!(e, Effective::default());
        assert!(
            e.allows_product(Product::Shop)
                && e.allows_station("any")
                && e.allows_time(W::Sunday, 0)
        );
        let e = effective(&[(level(Level::Org, 1), &Controls::default())]);
        assert_eq!(e, Effective::default());
    }

    fn with_windows(windows: Vec<TimeWindow>) -> Controls {
        Controls { time_windows: Some(windows), ..Default::default() }
    }

    fn single(c: &Controls) -> Effective {
        effective(&[(level(Level::Card, 9), c)])
    }

    #[test]
    fn windows_wrap_past_midnight() {
        let e = single(&with_windows(vec![window(&[Weekday::Mon], "22:00", "06:00")]));
        assert!(!e.allows_time(W::Monday, 21 * 60 + 59));
        assert!(e.allows_time(W::Monday, 22 * 60));
        assert!(e.allows_time(W::Monday, 1439));
        assert!(e.allows_time(W::Tuesday, 0));
        assert!(e.allows_time(W::Tuesday, 5 * 60 + 59));
        assert!(!e.allows_time(W::Tuesday, 6 * 60));
        assert!(!e.allows_time(W::Monday, 3 * 60), "Monday early morning is Sunday night's");
        assert!(!e.allows_time(W::Monday, MINUTES_PER_DAY));
        let value = &e.time_windows.as_ref().unwrap().value;
        assert_eq!(
            value,
            &vec![
                DayWindow { day: Weekday::Mon, start: t("22:00"), end: t("24:00") },
                DayWindow { day: Weekday::Tue, start: t("00:00"), end: t("06:00") },
            ]
        );
    }

    #[test]
    fn windows_sunday_wraps_to_monday() {
        let e = single(&with_windows(vec![window(&[Weekday::Sun], "23:00", "01:00")]));
        assert!(e.allows_time(W::Sunday, 23 * 60 + 30));
        assert!(e.allows_time(W::Monday, 0));
        assert!(e.allows_time(W::Monday, 59));
        assert!(!e.allows_time(W::Monday, 60));
        assert!(!e.allows_time(W::Sunday, 30), "wraps forward into Monday, not Sunday morning");
        let value = &e.time_windows.as_ref().unwrap().value;
        assert_eq!(value[0], DayWindow { day: Weekday::Mon, start: t("00:00"), end: t("01:00") });
        assert_eq!(value[1], DayWindow { day: Weekday::Sun, start: t("23:00"), end: t("24:00") });
    }

    #[test]
    fn windows_merge_overlaps_and_serialize_as_day_windows() {
        let c = with_windows(vec![
            window(&[Weekday::Tue], "10:00", "12:00"),
            window(&[Weekday::Tue, Weekday::Tue], "11:00", "14:00"),
            window(&[Weekday::Mon], "20:00", "00:00"),
        ]);
        assert_eq!(week_intervals(c.time_windows.as_ref().unwrap()), vec![1200..1440, 2040..2280]);
        let e = single(&c);
        let json = serde_json::to_value(e.time_windows.as_ref().unwrap()).unwrap();
        assert_eq!(
            json["value"][0],
            serde_json::json!({"day": "mon", "start": "20:00", "end": "24:00"})
        );
        assert_eq!(
            json["value"][1],
            serde_json::json!({"day": "tue", "start": "10:00", "end": "14:00"})
        );
        assert_eq!(json["sources"][0]["level"], "card");
    }

    #[test]
    fn windows_intersection_of_two_levels() {
        let org = with_windows(vec![window(&Weekday::ALL, "06:00", "22:00")]);
        let card = with_windows(vec![
            window(&[Weekday::Mon], "20:00", "08:00"),
            window(&[Weekday::Sat], "12:00", "13:00"),
        ]);
        let (o, k) = (level(Level::Org, 1), level(Level::Card, 2));
        let e = effective(&[(o, &org), (k, &card)]);
        let windows = e.time_windows.as_ref().unwrap();
        assert_eq!(windows.sources, vec![o, k]);
        assert_eq!(
            windows.value,
            vec![
                DayWindow { day: Weekday::Mon, start: t("20:00"), end: t("22:00") },
                DayWindow { day: Weekday::Tue, start: t("06:00"), end: t("08:00") },
                DayWindow { day: Weekday::Sat, start: t("12:00"), end: t("13:00") },
            ]
        );
        let disjoint = with_windows(vec![window(&[Weekday::Sun], "01:00", "02:00")]);
        let e = effective(&[(o, &org), (k, &disjoint)]);
        assert_eq!(e.time_windows.as_ref().unwrap().value, vec![]);
        assert!(!e.allows_time(W::Sunday, 90), "empty intersection allows no time");
    }

    #[test]
    fn effective_serializes_none_as_null() {
        let json = serde_json::to_value(effective(&[])).unwrap();
        assert_eq!(json["daily"]["amount"], serde_json::Value::Null);
        assert_eq!(json["time_windows"], serde_json::Value::Null);
        let c = Controls {
            per_authorization: Some(PerAuthorization { amount: Some(7), volume_ml: None }),
            ..Default::default()
        };
        let json = serde_json::to_value(single(&c)).unwrap();
        assert_eq!(json["per_authorization"]["amount"]["value"], 7);
        assert_eq!(
            json["per_authorization"]["amount"]["source"]["id"],
            Uuid::from_u128(9).to_string()
        );
    }

    // ---- property tests ----------------------------------------------------------------

    /// Direct reading of one level's windows, independent of the interval code.
    fn oracle_allows(windows: Option<&[TimeWindow]>, day: Weekday, minute: u16) -> bool {
        let Some(windows) = windows else { return true };
        windows.iter().any(|w| {
            let (s, e) = (w.start.minutes(), w.end.minutes());
            w.days.iter().any(|&d| {
                if s < e {
                    d == day && s <= minute && minute < e
                } else {
                    (d == day && minute >= s) || (d.next() == day && minute < e)
                }
            })
        })
    }

    fn limit() -> impl Strategy<Value = Option<i64>> {
        // A narrow range so ties between levels are common.
        proptest::option::of(1i64..20)
    }

    fn period() -> impl Strategy<Value = Option<PeriodLimits>> {
        proptest::option::of(
            (limit(), limit(), limit()).prop_map(|(amount, volume_ml, count)| PeriodLimits {
                amount,
                volume_ml,
                count,
            }),
        )
    }

    fn clock(max: u16) -> impl Strategy<Value = ClockTime> {
        prop_oneof![Just(0u16), Just(max), 0..=max].prop_map(ClockTime)
    }

    fn time_window() -> impl Strategy<Value = TimeWindow> {
        let days = proptest::collection::vec(proptest::sample::select(Weekday::ALL.to_vec()), 1..4);
        (days, clock(MINUTES_PER_DAY - 1), clock(MINUTES_PER_DAY))
            .prop_filter("start != end", |(_, s, e)| s != e)
            .prop_map(|(days, start, end)| TimeWindow { days, start, end })
    }

    fn controls() -> impl Strategy<Value = Controls> {
        let per_auth = proptest::option::of(
            (limit(), limit())
                .prop_map(|(amount, volume_ml)| PerAuthorization { amount, volume_ml }),
        );
        let windows = proptest::option::of(proptest::collection::vec(time_window(), 1..4));
        (per_auth, period(), period(), period(), windows).prop_map(
            |(per_authorization, daily, weekly, monthly, time_windows)| Controls {
                per_authorization,
                daily,
                weekly,
                monthly,
                time_windows,
                ..Default::default()
            },
        )
    }

    type Getter = (fn(&Effective) -> Option<Sourced<i64>>, fn(&Controls) -> Option<i64>);

    const NUMERIC: [Getter; 8] = [
        (|e| e.per_authorization.amount, |c| c.per_authorization?.amount),
        (|e| e.per_authorization.volume_ml, |c| c.per_authorization?.volume_ml),
        (|e| e.daily.amount, |c| c.daily?.amount),
        (|e| e.daily.count, |c| c.daily?.count),
        (|e| e.weekly.volume_ml, |c| c.weekly?.volume_ml),
        (|e| e.weekly.count, |c| c.weekly?.count),
        (|e| e.monthly.amount, |c| c.monthly?.amount),
        (|e| e.monthly.volume_ml, |c| c.monthly?.volume_ml),
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn effective_is_tightest_of_every_level(levels in proptest::collection::vec(controls(), 1..5)) {
            let chain: Vec<ChainLink<'_>> = levels
                .iter()
                .enumerate()
                .map(|(i, c)| (level(Level::Group, i as u128 + 1), c))
                .collect();
            for c in &levels {
                prop_assert_eq!(c.validate(), Ok(()));
            }
            let eff = effective(&chain);
            for (of_effective, of_level) in NUMERIC {
                // min_by_key keeps the first of equal minima: the broadest level.
                let expected = chain
                    .iter()
                    .filter_map(|(r, c)| of_level(c).map(|value| Sourced { value, source: *r }))
                    .min_by_key(|s| s.value);
                prop_assert_eq!(of_effective(&eff), expected);
            }
            let singles: Vec<Effective> = chain.iter().map(|l| effective(std::slice::from_ref(l))).collect();
            for day in Weekday::ALL {
                for minute in 0..MINUTES_PER_DAY {
                    let mut all = true;
                    for (one, c) in singles.iter().zip(&levels) {
                        let allowed = one.allows_time(day.into(), minute);
                        prop_assert_eq!(allowed, oracle_allows(c.time_windows.as_deref(), day, minute));
                        all &= allowed;
                    }
                    prop_assert_eq!(eff.allows_time(day.into(), minute), all, "{:?} {}", day, minute);
                }
            }
            if let Some(windows) = &eff.time_windows {
                prop_assert!(windows.value.iter().all(|w| w.start < w.end));
                prop_assert!(windows.value.windows(2).all(|p| (p[0].day, p[0].end) <= (p[1].day, p[1].start)));
            }
        }
    }
}
