use super::*;
use crate::clock::ManualClock;

const MINUTE: i64 = 60_000;
/// 2023-11-14T22:13:20Z, the true time when each test starts.
const TRUE_START: i64 = 1_700_000_000_000;

/// A phone whose wall clock is `phone_error_ms` off the true time (negative: behind).
fn phone(phone_error_ms: i64) -> ManualClock {
    ManualClock::new(TRUE_START + phone_error_ms, 5_000)
}

/// One `GET /v1/time` over a network taking `up_ms` to the server and `down_ms` back. The
/// server's stamp is the true time when the request arrives.
fn sync_over(
    clock: &ManualClock,
    sync: &mut ClockSync,
    phone_error_ms: i64,
    up_ms: i64,
    down_ms: i64,
) -> Result<(), ClockError> {
    let sent = ClockSample::take(clock);
    clock.advance(up_ms);
    let server_time = clock.wall_ms() - phone_error_ms;
    clock.advance(down_ms);
    sync.record(sent, ClockSample::take(clock), server_time)
}

/// True time now, from the clock's wall time and the known phone error.
fn true_now(clock: &ManualClock, phone_error_ms: i64) -> i64 {
    clock.wall_ms() - phone_error_ms
}

#[test]
fn offset_with_symmetric_delay_is_exact() {
    let clock = phone(-3_000);
    let mut sync = ClockSync::default();
    sync_over(&clock, &mut sync, -3_000, 150, 150).unwrap();
    assert_eq!(sync.offset_ms(), Some(3_000));
    assert_eq!(sync.round_trip_ms(), Some(300));
    assert_eq!(sync.now_ms(&clock), Ok(true_now(&clock, -3_000)));
}

#[test]
fn offset_with_asymmetric_delay_errs_by_half_the_difference() {
    let clock = phone(-3_000);
    let mut sync = ClockSync::default();
    // 400 ms up, 100 ms down: the stamp is 150 ms after the midpoint we assume.
    sync_over(&clock, &mut sync, -3_000, 400, 100).unwrap();
    assert_eq!(sync.offset_ms(), Some(3_150));
    let error = sync.now_ms(&clock).unwrap() - true_now(&clock, -3_000);
    assert_eq!(error, 150);
    assert!(error.abs() <= sync.round_trip_ms().unwrap() / 2);
}

#[test]
fn round_trip_too_long_or_negative_is_refused_and_keeps_the_previous_sync() {
    let clock = phone(0);
    let mut sync = ClockSync::default();
    sync_over(&clock, &mut sync, 0, 2_500, 2_500).unwrap();
    let before = sync.offset_ms();
    assert_eq!(
        sync_over(&clock, &mut sync, 42, 2_500, 2_501),
        Err(ClockError::RoundTripTooLong { round_trip_ms: 5_001 })
    );
    let early = ClockSample::take(&clock);
    clock.advance(10);
    let late = ClockSample::take(&clock);
    assert_eq!(
        sync.record(late, early, 0),
        Err(ClockError::RoundTripTooLong { round_trip_ms: -10 })
    );
    assert_eq!(sync.offset_ms(), before);
}

#[test]
fn wall_clock_changed_during_the_request_is_refused() {
    let clock = phone(0);
    let mut sync = ClockSync::default();
    let sent = ClockSample::take(&clock);
    clock.advance(100);
    clock.advance_wall(-MINUTE);
    let received = ClockSample::take(&clock);
    assert_eq!(
        sync.record(sent, received, TRUE_START),
        Err(ClockError::ClockJumped { jump_ms: -MINUTE })
    );
    assert_eq!(sync.now_ms(&clock), Err(ClockError::NotSynced));
}

#[test]
fn never_synced_gives_no_time() {
    let clock = phone(0);
    let sync = ClockSync::default();
    assert_eq!(sync.now_ms(&clock), Err(ClockError::NotSynced));
    assert_eq!(sync.sync_age_ms(&clock), Err(ClockError::NotSynced));
    assert_eq!(sync.offset_ms(), None);
}

#[test]
fn stale_is_measured_on_the_monotonic_clock_even_if_the_wall_clock_is_set_back() {
    let clock = phone(0);
    let mut sync = ClockSync::default();
    sync_over(&clock, &mut sync, 0, 50, 50).unwrap();
    let max_age = sync.policy().max_sync_age_ms;
    // Age counts from the midpoint of the round trip, 50 ms ago.
    assert_eq!(sync.sync_age_ms(&clock), Ok(50));
    clock.advance(max_age - 50);
    assert!(sync.now_ms(&clock).is_ok(), "exactly the maximum age is still fresh");
    clock.advance(1);
    // Setting the wall clock back so it looks as if no time passed must not hide the age.
    clock.advance_wall(-(max_age + 1));
    assert_eq!(sync.now_ms(&clock), Err(ClockError::Stale { age_ms: max_age + 1 }));
    assert_eq!(sync.sync_age_ms(&clock), Ok(max_age + 1));
}

#[test]
fn clock_jumped_when_the_wall_clock_moves_ten_minutes_without_monotonic_time() {
    let clock = phone(0);
    let mut sync = ClockSync::default();
    sync_over(&clock, &mut sync, 0, 50, 50).unwrap();
    clock.advance(MINUTE);
    clock.advance_wall(2_000);
    assert!(sync.now_ms(&clock).is_ok(), "drift up to the limit is tolerated");
    clock.advance_wall(10 * MINUTE - 2_000);
    assert_eq!(sync.now_ms(&clock), Err(ClockError::ClockJumped { jump_ms: 10 * MINUTE }));
    clock.set_wall(TRUE_START);
    assert!(matches!(sync.now_ms(&clock), Err(ClockError::ClockJumped { jump_ms }) if jump_ms < 0));
    // A new sync accepts the phone's clock as it now is.
    sync_over(&clock, &mut sync, clock.wall_ms() - true_now_after(&clock), 50, 50).unwrap();
    assert!(sync.now_ms(&clock).is_ok());
}

/// True time in the jump test: the phone was right at the start and only monotonic time
/// tells how much really passed.
fn true_now_after(clock: &ManualClock) -> i64 {
    TRUE_START + clock.monotonic_ms() - 5_000
}

#[test]
fn synced_time_is_right_when_the_phone_clock_is_ten_minutes_off() {
    // The field failure: the phone's wall clock is 10 minutes slow.
    for phone_error in [-10 * MINUTE, 10 * MINUTE] {
        let clock = phone(phone_error);
        let mut sync = ClockSync::default();
        sync_over(&clock, &mut sync, phone_error, 120, 120).unwrap();
        clock.advance(45_000);
        let now = sync.now_ms(&clock).unwrap();
        assert_eq!(now, true_now(&clock, phone_error));
        assert_eq!(now - clock.wall_ms(), -phone_error);
        assert_eq!(sync.offset_ms(), Some(-phone_error));
        assert_eq!(sync.sync_age_ms(&clock), Ok(45_120));
    }
}

#[test]
fn monotonic_clock_behind_the_sync_means_a_restart() {
    let clock = phone(0);
    let mut sync = ClockSync::default();
    sync_over(&clock, &mut sync, 0, 50, 50).unwrap();
    clock.advance_monotonic(-1_000);
    assert_eq!(sync.now_ms(&clock), Err(ClockError::MonotonicReset));
    assert_eq!(sync.sync_age_ms(&clock), Err(ClockError::MonotonicReset));
}

#[test]
fn latest_accepted_sample_wins_even_with_a_longer_round_trip() {
    let clock = phone(0);
    let mut sync = ClockSync::default();
    sync_over(&clock, &mut sync, -1_000, 10, 10).unwrap();
    sync_over(&clock, &mut sync, -2_000, 1_000, 1_000).unwrap();
    assert_eq!(sync.offset_ms(), Some(2_000));
    assert_eq!(sync.round_trip_ms(), Some(2_000));
}

#[test]
fn policy_limits_are_configurable() {
    let policy =
        ClockPolicy { max_sync_age_ms: 1_000, max_round_trip_ms: 100, max_clock_jump_ms: 0 };
    let clock = phone(0);
    let mut sync = ClockSync::new(policy);
    assert!(sync_over(&clock, &mut sync, 0, 60, 41).is_err());
    sync_over(&clock, &mut sync, 0, 50, 50).unwrap();
    clock.advance_wall(1);
    assert_eq!(sync.now_ms(&clock), Err(ClockError::ClockJumped { jump_ms: 1 }));
    clock.advance_wall(-1);
    clock.advance(951);
    assert_eq!(sync.now_ms(&clock), Err(ClockError::Stale { age_ms: 1_001 }));
}

#[test]
fn default_policy_matches_the_design() {
    let policy = ClockPolicy::default();
    assert_eq!(policy.max_sync_age_ms, 12 * 60 * MINUTE);
    assert_eq!(policy.max_round_trip_ms, 5_000);
    assert_eq!(policy.max_clock_jump_ms, 2_000);
}

#[test]
fn messages_speak_to_the_driver() {
    let jumped = ClockError::ClockJumped { jump_ms: 600_000 }.to_string();
    assert_eq!(jumped, "Your phone's clock changed since the last sync; connect to sync again");
    let stale = ClockError::Stale { age_ms: 13 * 60 * MINUTE + 5 }.to_string();
    assert_eq!(stale, "Your phone's clock was last synced 13 h ago; connect to sync again");
    assert!(ClockError::Stale { age_ms: 5 * MINUTE }.to_string().contains(" 5 min ago"));
    assert!(ClockError::Stale { age_ms: 40_999 }.to_string().contains(" 40 s ago"));
    assert!(ClockError::NotSynced.to_string().contains("connect to sync"));
}
