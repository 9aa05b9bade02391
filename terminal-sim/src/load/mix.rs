//! What each fill of the run is, and when it starts: the traffic mix (QR or NFC; completed,
//! reversed or declined), spread evenly and deterministically over the fill numbers, and
//! the open-loop schedule of `--rate`.

use std::time::Duration;

/// How the phone's payment data reaches the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Qr,
    Nfc,
}

/// How the fill ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Pre-authorization, dispense, completion.
    Complete,
    /// Pre-authorization, then a reversal (the driver cancelled).
    Reverse,
    /// A product the card does not allow: the issuer declines it (57).
    Decline,
}

/// Shares of the traffic, in percent of all fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub nfc_percent: u64,
    pub reversal_percent: u64,
    pub decline_percent: u64,
}

/// Whether item `n` (from 0) is one of `num` in every `den`, spread evenly: exactly
/// `⌊k·num/den⌋` of the first `k` items are (a Bresenham line, no randomness).
pub fn spread(n: u64, num: u64, den: u64) -> bool {
    if den == 0 || num == 0 {
        return false;
    }
    let num = num.min(den);
    (n + 1) * num / den > n * num / den
}

impl Mix {
    /// Refuses shares that do not add up.
    pub fn new(
        nfc_percent: u64,
        reversal_percent: u64,
        decline_percent: u64,
    ) -> Result<Mix, String> {
        if nfc_percent > 100 {
            return Err("--nfc-percent must be 0 to 100".into());
        }
        if reversal_percent + decline_percent > 100 {
            return Err("--reversal-percent and --decline-percent add up to more than 100".into());
        }
        Ok(Mix { nfc_percent, reversal_percent, decline_percent })
    }

    /// Fill `n`'s entry mode.
    pub fn entry(&self, n: u64) -> Entry {
        if spread(n, self.nfc_percent, 100) {
            Entry::Nfc
        } else {
            Entry::Qr
        }
    }

    /// Fill `n`'s ending. Declines are spread over all fills; reversals over the fills that
    /// are not declines, at the share that makes them `reversal_percent` of all fills.
    pub fn kind(&self, n: u64) -> Kind {
        if spread(n, self.decline_percent, 100) {
            return Kind::Decline;
        }
        let not_declined_before = n - n * self.decline_percent.min(100) / 100;
        if spread(not_declined_before, self.reversal_percent, 100 - self.decline_percent.min(100)) {
            Kind::Reverse
        } else {
            Kind::Complete
        }
    }

    /// How many of the first `fills` fills are of each kind: (complete, reverse, decline).
    pub fn counts(&self, fills: u64) -> (u64, u64, u64) {
        let (mut complete, mut reverse, mut decline) = (0, 0, 0);
        for n in 0..fills {
            match self.kind(n) {
                Kind::Complete => complete += 1,
                Kind::Reverse => reverse += 1,
                Kind::Decline => decline += 1,
            }
        }
        (complete, reverse, decline)
    }
}

/// The open-loop schedule: `rate` pre-authorizations per second, evenly spaced; fill `n`
/// starts at `n / rate` seconds after the start, whatever happened to the fills before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    rate: u64,
}

impl Schedule {
    /// `None` for a rate of 0.
    pub fn new(rate: u64) -> Option<Schedule> {
        (rate > 0).then_some(Schedule { rate })
    }

    /// When fill `n` is due, from the start (integer nanoseconds, rounded down).
    pub fn at(&self, n: u64) -> Duration {
        let nanos = u128::from(n) * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How many fills are due within `elapsed` of the start (those with `at(n) < elapsed`),
    /// i.e. how many a run of that length starts.
    pub fn due_within(&self, elapsed: Duration) -> u64 {
        let nanos = elapsed.as_nanos();
        // at(n) < elapsed  ⇔  n·1e9/rate < nanos  ⇔  n < ceil(nanos·rate/1e9).
        let n = (nanos * u128::from(self.rate)).div_ceil(1_000_000_000);
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_hits_exactly_the_share_of_every_prefix() {
        for (num, den) in [(3, 100), (30, 100), (20, 80), (1, 1), (7, 13)] {
            for k in 0..300u64 {
                let hits = (0..k).filter(|&n| spread(n, num, den)).count();
                assert_eq!(u64::try_from(hits).unwrap(), k * num / den, "{num}/{den} of {k}");
            }
        }
        assert!(!(0..1000).any(|n| spread(n, 0, 100)));
        assert!((0..1000).all(|n| spread(n, 100, 100)));
        assert!(!spread(5, 3, 0), "no division by zero");
    }

    #[test]
    fn the_mix_gives_each_kind_its_share() {
        let mix = Mix::new(50, 20, 20).unwrap();
        assert_eq!(mix.counts(40), (24, 8, 8));
        assert_eq!(mix.counts(100), (60, 20, 20));
        assert_eq!((0..40).filter(|&n| mix.entry(n) == Entry::Nfc).count(), 20);
        // The defaults: 2 % declines, 3 % reversals.
        let default = Mix::new(30, 3, 2).unwrap();
        assert_eq!(default.counts(1_000), (950, 30, 20));
        assert_eq!(default.counts(20), (20, 0, 0), "a short run completes every fill");
        // Declines and reversals never fall on the same fill, and every fill is one kind.
        let (c, r, d) = Mix::new(0, 45, 55).unwrap().counts(200);
        assert_eq!((c, r, d), (0, 90, 110));
        assert!(Mix::new(101, 0, 0).is_err());
        assert!(Mix::new(0, 60, 41).is_err());
    }

    #[test]
    fn the_schedule_spreads_starts_evenly_from_the_start() {
        let s = Schedule::new(1_000).unwrap();
        assert_eq!(s.at(0), Duration::ZERO);
        assert_eq!(s.at(1), Duration::from_millis(1));
        assert_eq!(s.at(1_500), Duration::from_millis(1_500));
        let three = Schedule::new(3).unwrap();
        assert_eq!(three.at(1), Duration::from_nanos(333_333_333));
        assert_eq!(three.at(2), Duration::from_nanos(666_666_666));
        assert_eq!(three.at(3), Duration::from_secs(1));
        assert!(Schedule::new(0).is_none());
    }

    #[test]
    fn a_run_of_t_seconds_starts_rate_times_t_fills() {
        let s = Schedule::new(1_000).unwrap();
        assert_eq!(s.due_within(Duration::from_secs(10)), 10_000);
        assert_eq!(s.due_within(Duration::ZERO), 0);
        assert_eq!(s.due_within(Duration::from_micros(1)), 1, "fill 0 is due at once");
        assert_eq!(s.due_within(Duration::from_millis(1)), 1, "fill 1 is due at 1 ms, not before");
        let three = Schedule::new(3).unwrap();
        assert_eq!(three.due_within(Duration::from_secs(1)), 3);
        for n in 0..50 {
            assert_eq!(three.due_within(three.at(n)), n, "exactly the fills before n");
        }
    }
}
