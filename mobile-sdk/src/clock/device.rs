//! The two clocks a phone has, behind a trait so tests can move them independently.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A device's clocks, both in milliseconds.
pub trait DeviceClock {
    /// Wall-clock time since the Unix epoch, as the phone believes it. May be wrong and may
    /// jump (the user, the network operator or a time zone bug can set it).
    fn wall_ms(&self) -> i64;
    /// Time since an arbitrary fixed origin that only ever moves forward at real speed.
    /// Values are comparable only with values from the same origin.
    fn monotonic_ms(&self) -> i64;
}

/// Both clocks read together: taken just before a time request is sent and just after
/// its answer arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    pub wall_ms: i64,
    pub monotonic_ms: i64,
}

impl ClockSample {
    /// Reads both clocks of `clock` now.
    pub fn take(clock: &dyn DeviceClock) -> ClockSample {
        ClockSample { wall_ms: clock.wall_ms(), monotonic_ms: clock.monotonic_ms() }
    }
}

/// The operating system's clocks: `SystemTime` and an `Instant` origin shared by every
/// instance, so samples from two instances are comparable.
///
/// Caveat for phone ports: `Instant` is `CLOCK_MONOTONIC` on Linux/Android, which stops
/// while the device sleeps, so after a sleep the wall clock appears to have jumped and
/// [`ClockSync`](super::ClockSync) asks for a re-sync. That fails safe, but an app should
/// supply a clock that counts sleep (Android `elapsedRealtime`, iOS
/// `mach_continuous_time`) through its own [`DeviceClock`].
#[derive(Clone, Copy, Debug)]
pub struct SystemDeviceClock {
    origin: Instant,
}

static ORIGIN: OnceLock<Instant> = OnceLock::new();

impl SystemDeviceClock {
    pub fn new() -> SystemDeviceClock {
        SystemDeviceClock { origin: *ORIGIN.get_or_init(Instant::now) }
    }
}

impl Default for SystemDeviceClock {
    fn default() -> SystemDeviceClock {
        SystemDeviceClock::new()
    }
}

impl DeviceClock for SystemDeviceClock {
    fn wall_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => millis(after),
            // A clock set before 1970 is wrong, but it is a value, not a reason to panic.
            Err(before) => millis(before.duration()).saturating_neg(),
        }
    }

    fn monotonic_ms(&self) -> i64 {
        millis(self.origin.elapsed())
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A clock for tests whose wall and monotonic times move only when told, together
/// ([`advance`](ManualClock::advance): time passes) or apart ([`advance_wall`],
/// [`set_wall`]: someone changed the phone's clock).
///
/// Atomics rather than `&mut` so one clock can be shared (`Arc`) with code under test.
///
/// [`advance_wall`]: ManualClock::advance_wall
/// [`set_wall`]: ManualClock::set_wall
#[derive(Debug, Default)]
pub struct ManualClock {
    wall_ms: AtomicI64,
    monotonic_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(wall_ms: i64, monotonic_ms: i64) -> ManualClock {
        ManualClock { wall_ms: AtomicI64::new(wall_ms), monotonic_ms: AtomicI64::new(monotonic_ms) }
    }

    /// Real time passes: both clocks move by `ms`.
    pub fn advance(&self, ms: i64) {
        self.advance_wall(ms);
        self.advance_monotonic(ms);
    }

    /// The wall clock is changed by `ms` (negative: set back); monotonic time stands still.
    pub fn advance_wall(&self, ms: i64) {
        add(&self.wall_ms, ms);
    }

    /// Only monotonic time moves (e.g. to model a wall clock that did not follow).
    pub fn advance_monotonic(&self, ms: i64) {
        add(&self.monotonic_ms, ms);
    }

    /// The wall clock is set to `wall_ms`.
    pub fn set_wall(&self, wall_ms: i64) {
        // Relaxed: each clock is a lone value; nothing else is published through it.
        self.wall_ms.store(wall_ms, Ordering::Relaxed);
    }
}

fn add(cell: &AtomicI64, ms: i64) {
    // fetch_add wraps on overflow; saturate instead so a test cannot make time wrap.
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_add(ms)));
}

impl DeviceClock for ManualClock {
    fn wall_ms(&self) -> i64 {
        self.wall_ms.load(Ordering::Relaxed)
    }

    fn monotonic_ms(&self) -> i64 {
        self.monotonic_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_wall_and_monotonic_separately() {
        let clock = ManualClock::new(1_000, 50);
        clock.advance(10);
        assert_eq!(ClockSample::take(&clock), ClockSample { wall_ms: 1_010, monotonic_ms: 60 });
        clock.advance_wall(-500);
        clock.advance_monotonic(5);
        assert_eq!(ClockSample::take(&clock), ClockSample { wall_ms: 510, monotonic_ms: 65 });
        clock.set_wall(7);
        assert_eq!(clock.wall_ms(), 7);
        clock.advance(i64::MAX);
        assert_eq!(clock.monotonic_ms(), i64::MAX);
    }

    #[test]
    fn system_clock_is_plausible_and_monotonic() {
        let first = SystemDeviceClock::new();
        let second = SystemDeviceClock::default();
        // After 2020-01-01: a sanity check that the unit is milliseconds since the epoch.
        assert!(first.wall_ms() > 1_577_836_800_000);
        let earlier = first.monotonic_ms();
        assert!(earlier >= 0);
        // Instances share one origin, so their readings are comparable.
        assert!(second.monotonic_ms() >= earlier);
    }
}
