//! Is this payment data fresh? The rules of docs/CRYPTOGRAM.md "Time rules", as a pure
//! function of the generation time the phone signed into its cryptogram and our clock.
//! The two field failures get distinct answers: a driver who waited too long
//! (`Expired`) and a phone whose clock is wrong (`ClockSkew`).

use serde::Serialize;

/// Tolerated disagreement between a synced phone and our clock, in milliseconds.
pub const CLOCK_TOLERANCE_MS: i64 = 30_000;
/// How much later than its window payment data may arrive and still count as "the driver
/// waited" rather than "the clock is wrong", in milliseconds.
pub const MAX_LATENESS_MS: i64 = 300_000;
/// A phone that has not synced for longer than this must not generate payment data.
pub const MAX_SYNC_AGE_SECS: u32 = 12 * 3600;
/// Validity window of a QR code, in milliseconds.
pub const QR_VALIDITY_MS: i64 = 120_000;
/// Validity window of an NFC tap's cryptogram, in milliseconds.
pub const NFC_VALIDITY_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeVerdict {
    Fresh,
    /// Older than its window: the driver waited too long.
    Expired,
    /// From the future, implausibly old, or made by a phone that has not synced lately.
    ClockSkew,
}

/// Classifies payment data generated at `generated_ms` (by a phone last synced
/// `sync_age_s` seconds before) arriving at `now_ms`, with validity window `validity_ms`.
pub fn classify(now_ms: i64, generated_ms: i64, sync_age_s: u32, validity_ms: i64) -> TimeVerdict {
    let age = now_ms.saturating_sub(generated_ms);
    let unsynced = sync_age_s > MAX_SYNC_AGE_SECS;
    let from_future = age < -CLOCK_TOLERANCE_MS;
    let implausibly_old = age > validity_ms + CLOCK_TOLERANCE_MS + MAX_LATENESS_MS;
    if unsynced || from_future || implausibly_old {
        TimeVerdict::ClockSkew
    } else if age > validity_ms + CLOCK_TOLERANCE_MS {
        TimeVerdict::Expired
    } else {
        TimeVerdict::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimeVerdict::*;

    const NOW: i64 = 1_795_392_000_000;

    #[test]
    fn boundaries() {
        let w = QR_VALIDITY_MS;
        assert_eq!(classify(NOW, NOW, 10, w), Fresh);
        assert_eq!(classify(NOW, NOW - w - CLOCK_TOLERANCE_MS, 10, w), Fresh);
        assert_eq!(classify(NOW, NOW - w - CLOCK_TOLERANCE_MS - 1, 10, w), Expired);
        assert_eq!(classify(NOW, NOW - w - CLOCK_TOLERANCE_MS - MAX_LATENESS_MS, 10, w), Expired);
        assert_eq!(
            classify(NOW, NOW - w - CLOCK_TOLERANCE_MS - MAX_LATENESS_MS - 1, 10, w),
            ClockSkew
        );
        assert_eq!(classify(NOW, NOW + CLOCK_TOLERANCE_MS, 10, w), Fresh);
        assert_eq!(classify(NOW, NOW + CLOCK_TOLERANCE_MS + 1, 10, w), ClockSkew);
    }

    #[test]
    fn the_two_field_failures() {
        // A phone whose clock runs 10 minutes off: never "expired", always "clock".
        assert_eq!(classify(NOW, NOW - 600_000, 60, NFC_VALIDITY_MS), ClockSkew);
        assert_eq!(classify(NOW, NOW + 600_000, 60, NFC_VALIDITY_MS), ClockSkew);
        // A driver who waited three minutes with a QR on screen.
        assert_eq!(classify(NOW, NOW - 180_000, 60, QR_VALIDITY_MS), Expired);
        // A phone that has not synced for a day.
        assert_eq!(classify(NOW, NOW, MAX_SYNC_AGE_SECS + 1, QR_VALIDITY_MS), ClockSkew);
    }
}
