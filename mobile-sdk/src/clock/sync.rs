//! Setting the clock from the server and reading it back, with the refusals DESIGN §4 asks
//! for: never synced, stale, or the device clock jumped since.

use serde::{Deserialize, Serialize};

use super::device::{ClockSample, DeviceClock};

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;
const SECOND_MS: i64 = 1_000;

/// When a sync is good enough to generate payment data from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockPolicy {
    /// A sync older than this (monotonic time) is stale.
    pub max_sync_age_ms: i64,
    /// A time answer that took longer than this round trip is refused: the server stamp
    /// could sit anywhere in the trip, so the error bound is half of it.
    pub max_round_trip_ms: i64,
    /// Most the wall clock may drift from the monotonic clock since the sync before we call
    /// it a jump. Quartz drift over the 12 h default age stays around a second or two; a
    /// real drift past this only costs a re-sync.
    pub max_clock_jump_ms: i64,
}

impl Default for ClockPolicy {
    fn default() -> ClockPolicy {
        ClockPolicy {
            max_sync_age_ms: 12 * HOUR_MS,
            max_round_trip_ms: 5_000,
            max_clock_jump_ms: 2_000,
        }
    }
}

/// Why the SDK will not give a time. Messages are written for the driver: an app may show
/// them as they are. Every variant is cured by syncing again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("The connection was too slow to set your phone's clock; try again")]
    RoundTripTooLong { round_trip_ms: i64 },
    #[error("Your phone's clock has not been synced yet; connect to sync")]
    NotSynced,
    #[error("Your phone's clock was last synced {} ago; connect to sync again", human(.age_ms))]
    Stale { age_ms: i64 },
    /// `jump_ms` is how far the wall clock moved beyond real elapsed time (negative: set
    /// back).
    #[error("Your phone's clock changed since the last sync; connect to sync again")]
    ClockJumped { jump_ms: i64 },
    /// The monotonic clock is behind the sync point: its origin changed (the phone or the
    /// app restarted), so the elapsed time since the sync is unknown.
    #[error("Your phone restarted since the last sync; connect to sync again")]
    MonotonicReset,
}

/// Coarse duration for a driver: "13 h", "5 min", "40 s".
fn human(ms: &i64) -> String {
    match *ms {
        ms if ms >= HOUR_MS => format!("{} h", ms / HOUR_MS),
        ms if ms >= MINUTE_MS => format!("{} min", ms / MINUTE_MS),
        ms => format!("{} s", ms / SECOND_MS),
    }
}

/// The server time at one instant of the device's clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SyncPoint {
    /// The server's stamp, assumed taken at the midpoint of the round trip.
    server_ms: i64,
    /// Both device clocks at that midpoint.
    device: ClockSample,
    round_trip_ms: i64,
}

/// A server-synchronised clock.
///
/// The latest accepted sample wins, even over an older one with a shorter round trip: a
/// fresh sample is what resets staleness and the jump reference, and an older one may
/// predate a clock change. Samples over [`ClockPolicy::max_round_trip_ms`] are refused, so
/// the error stays bounded anyway.
///
/// Held in memory only: monotonic readings mean nothing in another process or after a
/// reboot, so an app re-syncs at start.
#[derive(Clone, Debug, Default)]
pub struct ClockSync {
    policy: ClockPolicy,
    last: Option<SyncPoint>,
}

impl ClockSync {
    pub fn new(policy: ClockPolicy) -> ClockSync {
        ClockSync { policy, last: None }
    }

    pub fn policy(&self) -> &ClockPolicy {
        &self.policy
    }

    /// Records a time answer. `sent` and `received` are [`ClockSample::take`] just before
    /// the request and just after the answer; `server_time_ms` is the server's time in it.
    /// On error the previous sync, if any, is kept.
    pub fn record(
        &mut self,
        sent: ClockSample,
        received: ClockSample,
        server_time_ms: i64,
    ) -> Result<(), ClockError> {
        let round_trip_ms = received.monotonic_ms.saturating_sub(sent.monotonic_ms);
        if !(0..=self.policy.max_round_trip_ms).contains(&round_trip_ms) {
            return Err(ClockError::RoundTripTooLong { round_trip_ms });
        }
        // A wall clock changed during the request would make the midpoint meaningless.
        let wall_trip_ms = received.wall_ms.saturating_sub(sent.wall_ms);
        self.check_jump(wall_trip_ms, round_trip_ms)?;
        let device = ClockSample {
            wall_ms: sent.wall_ms.saturating_add(wall_trip_ms / 2),
            monotonic_ms: sent.monotonic_ms + round_trip_ms / 2,
        };
        self.last = Some(SyncPoint { server_ms: server_time_ms, device, round_trip_ms });
        Ok(())
    }

    /// The server-synchronised time now: the server time at the sync plus the monotonic
    /// time since, so a wrong wall clock does not matter. Refused when the sync is missing,
    /// stale, or the wall clock jumped since (checked in that order).
    pub fn now_ms(&self, clock: &dyn DeviceClock) -> Result<i64, ClockError> {
        let sync = self.last.ok_or(ClockError::NotSynced)?;
        let now = ClockSample::take(clock);
        let age_ms = age(sync, now)?;
        if age_ms > self.policy.max_sync_age_ms {
            return Err(ClockError::Stale { age_ms });
        }
        self.check_jump(now.wall_ms.saturating_sub(sync.device.wall_ms), age_ms)?;
        Ok(sync.server_ms.saturating_add(age_ms))
    }

    /// Monotonic time since the last sync, stale or not (the IAD carries it so the
    /// authorizer can tell a wrong phone clock from a driver who waited).
    pub fn sync_age_ms(&self, clock: &dyn DeviceClock) -> Result<i64, ClockError> {
        let sync = self.last.ok_or(ClockError::NotSynced)?;
        age(sync, ClockSample::take(clock))
    }

    /// Server time minus device wall time at the last sync (positive: the phone is behind).
    pub fn offset_ms(&self) -> Option<i64> {
        self.last.map(|sync| sync.server_ms.saturating_sub(sync.device.wall_ms))
    }

    /// Round trip of the last accepted sample; half of it bounds the sync's error.
    pub fn round_trip_ms(&self) -> Option<i64> {
        self.last.map(|sync| sync.round_trip_ms)
    }

    fn check_jump(
        &self,
        wall_elapsed_ms: i64,
        monotonic_elapsed_ms: i64,
    ) -> Result<(), ClockError> {
        let jump_ms = wall_elapsed_ms.saturating_sub(monotonic_elapsed_ms);
        if jump_ms.saturating_abs() > self.policy.max_clock_jump_ms {
            return Err(ClockError::ClockJumped { jump_ms });
        }
        Ok(())
    }
}

fn age(sync: SyncPoint, now: ClockSample) -> Result<i64, ClockError> {
    let age_ms = now.monotonic_ms.saturating_sub(sync.device.monotonic_ms);
    if age_ms < 0 {
        return Err(ClockError::MonotonicReset);
    }
    Ok(age_ms)
}

#[cfg(test)]
mod tests;
