//! How long generated payment data stays valid, and the countdown bar the phone shows
//! (DESIGN §4, second field failure: drivers who waited too long had their data expire).
//!
//! All times are the SDK's server-synchronised milliseconds
//! ([`ClockSync::now_ms`](crate::ClockSync::now_ms)), never the phone's wall clock.

use serde::{Deserialize, Serialize};

/// Full bar, in permille.
const FULL_PERMILLE: i64 = 1_000;

/// Example validity windows; the program's configuration decides the real `W`.
pub const QR_VALIDITY_MS: i64 = 120_000;
pub const NFC_VALIDITY_MS: i64 = 60_000;

/// The validity window of one piece of payment data: `[generated_at, expires_at)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentWindow {
    pub generated_at_ms: i64,
    /// `W`; zero or negative means the data is born expired.
    pub validity_ms: i64,
}

impl PaymentWindow {
    pub const fn new(generated_at_ms: i64, validity_ms: i64) -> PaymentWindow {
        PaymentWindow { generated_at_ms, validity_ms }
    }

    /// First instant at which the data is no longer valid.
    pub const fn expires_at_ms(&self) -> i64 {
        self.generated_at_ms.saturating_add(self.validity_ms)
    }

    /// Time left, between 0 and `validity_ms`. A `now` before generation (possible only if
    /// the caller mixes clocks) counts as a full window rather than more than full.
    pub fn remaining_ms(&self, now_ms: i64) -> i64 {
        self.expires_at_ms().saturating_sub(now_ms).clamp(0, self.validity_ms.max(0))
    }

    /// Remaining fraction in permille (0..=1000), rounded down so the bar never promises
    /// more time than is left.
    pub fn remaining_permille(&self, now_ms: i64) -> u16 {
        if self.validity_ms <= 0 {
            return 0;
        }
        // i128: `remaining * 1000` overflows i64 for absurd windows; the result never does.
        let permille = i128::from(self.remaining_ms(now_ms)) * i128::from(FULL_PERMILLE)
            / i128::from(self.validity_ms);
        u16::try_from(permille).unwrap_or(0)
    }

    /// Whether the data has run out; true exactly at `expires_at_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms()
    }

    /// The bar and the seconds left, e.g. `[####------] 42s`. Seconds round up, so "0s"
    /// appears only once the data has expired.
    pub fn countdown_text(&self, now_ms: i64, width: usize) -> String {
        let remaining_ms = self.remaining_ms(now_ms);
        let seconds = remaining_ms / 1_000 + i64::from(remaining_ms % 1_000 != 0);
        format!("{} {seconds}s", render_bar(self.remaining_permille(now_ms), width))
    }
}

/// A text progress bar `width` cells wide for `permille` (clamped to 1000), filled cells
/// rounded down: `render_bar(420, 10)` is `[####------]`.
pub fn render_bar(permille: u16, width: usize) -> String {
    let permille = usize::from(permille.min(1_000));
    // Multiply first: integer division would otherwise lose the fraction.
    let filled = width.saturating_mul(permille) / 1_000;
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

#[cfg(test)]
mod tests;
