//! Latency percentiles and throughput in integer math (floats are denied in this
//! workspace).

use std::collections::BTreeMap;
use std::fmt;

/// Nearest-rank percentile of sorted samples: the smallest value with at least
/// `percent`% of the samples at or below it. `None` for no samples.
pub fn percentile(sorted: &[u64], percent: u64) -> Option<u64> {
    let n = u64::try_from(sorted.len()).ok()?;
    if n == 0 {
        return None;
    }
    let rank = (percent.min(100) * n).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

/// Events per second with two decimals, as text: `count * 1000 / elapsed_ms`.
pub fn per_second(count: u64, elapsed_ms: u64) -> String {
    let hundredths = count.saturating_mul(100_000) / elapsed_ms.max(1);
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Microseconds as milliseconds with three decimals.
pub fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1_000, us % 1_000)
}

/// Latencies of one kind of request.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    pub samples_us: Vec<u64>,
}

impl Latencies {
    pub fn record(&mut self, us: u64) {
        self.samples_us.push(us);
    }

    pub fn merge(&mut self, other: Latencies) {
        self.samples_us.extend(other.samples_us);
    }

    /// p50, p90, p99 and max, in microseconds.
    pub fn summary(&self) -> Option<[u64; 4]> {
        let mut sorted = self.samples_us.clone();
        sorted.sort_unstable();
        Some([
            percentile(&sorted, 50)?,
            percentile(&sorted, 90)?,
            percentile(&sorted, 99)?,
            *sorted.last()?,
        ])
    }
}

/// One line: `name  n=…  …/s  p50 … ms  p90 …  p99 …  max …`; the throughput is the
/// count over the run's elapsed milliseconds (the third field).
pub struct LatencyLine<'a>(pub &'a str, pub &'a Latencies, pub u64);

impl fmt::Display for LatencyLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LatencyLine(name, lat, elapsed_ms) = self;
        let n = lat.samples_us.len();
        let rate = per_second(u64::try_from(n).unwrap_or(u64::MAX), *elapsed_ms);
        match lat.summary() {
            Some([p50, p90, p99, max]) => write!(
                f,
                "{name:<18} n={n:<6} {rate:>9}/s  p50 {} ms  p90 {} ms  p99 {} ms  max {} ms",
                ms(p50),
                ms(p90),
                ms(p99),
                ms(max)
            ),
            None => write!(f, "{name:<18} n=0"),
        }
    }
}

impl Latencies {
    /// `{"n", "per_s", "p50_us", "p90_us", "p99_us", "max_us"}` for the `RESULT` line
    /// (percentiles `null` without samples; `per_s` two decimals as text).
    pub fn json(&self, elapsed_ms: u64) -> serde_json::Value {
        let n = u64::try_from(self.samples_us.len()).unwrap_or(u64::MAX);
        let s = self.summary();
        let at = |i: usize| s.map(|s| s[i]);
        serde_json::json!({
            "n": n, "per_s": per_second(n, elapsed_ms),
            "p50_us": at(0), "p90_us": at(1), "p99_us": at(2), "max_us": at(3),
        })
    }
}

/// Results of one pump loop, merged at the end.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub preauth: Latencies,
    pub completion: Latencies,
    pub reversal: Latencies,
    /// Per response code of the pre-authorization (`00`, `51`, …); errors as
    /// `http 503`, `error`.
    pub codes: BTreeMap<String, u64>,
    pub approved: u64,
    pub completed: u64,
    /// Reversals the server acknowledged (2xx).
    pub reversed: u64,
    pub errors: u64,
    /// Pre-authorizations made with NFC data.
    pub nfc: u64,
    /// Replenishments of the phones' keys during the run (summed at the end).
    pub replenished: u64,
    /// Fills meant to be declined (a product the card does not allow).
    pub decline_fills: u64,
    /// Answers that do not match the fill: a decline fill approved or answered with another
    /// code than the expected one, or another fill declined.
    pub unexpected: u64,
}

impl Stats {
    pub fn merge(&mut self, other: Stats) {
        self.preauth.merge(other.preauth);
        self.completion.merge(other.completion);
        self.reversal.merge(other.reversal);
        for (code, n) in other.codes {
            *self.codes.entry(code).or_default() += n;
        }
        self.approved += other.approved;
        self.completed += other.completed;
        self.reversed += other.reversed;
        self.errors += other.errors;
        self.nfc += other.nfc;
        self.replenished += other.replenished;
        self.decline_fills += other.decline_fills;
        self.unexpected += other.unexpected;
    }

    pub fn count(&mut self, code: impl Into<String>) {
        *self.codes.entry(code.into()).or_default() += 1;
    }

    pub fn fills(&self) -> u64 {
        self.codes.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50), Some(50));
        assert_eq!(percentile(&samples, 90), Some(90));
        assert_eq!(percentile(&samples, 99), Some(99));
        assert_eq!(percentile(&samples, 100), Some(100));
        assert_eq!(percentile(&samples, 0), Some(1));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
        // p99 of 1000 samples is the 990th; of 1001 the 991st (rounded up, never down).
        let thousand: Vec<u64> = (1..=1_000).collect();
        assert_eq!(percentile(&thousand, 99), Some(990));
        let more: Vec<u64> = (1..=1_001).collect();
        assert_eq!(percentile(&more, 99), Some(991));
        assert_eq!(percentile(&[3, 9], 50), Some(3));
        assert_eq!(percentile(&[3, 9], 51), Some(9));
        // Ten samples: p50 is the 5th, p90 the 9th, p99 the 10th.
        let ten = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(
            [percentile(&ten, 50), percentile(&ten, 90), percentile(&ten, 99)],
            [Some(50), Some(90), Some(100)]
        );
    }

    #[test]
    fn summary_sorts_and_reports_the_maximum() {
        let lat = Latencies { samples_us: vec![5_000, 1_000, 3_000, 2_000, 4_000] };
        assert_eq!(lat.summary(), Some([3_000, 5_000, 5_000, 5_000]));
        assert_eq!(Latencies::default().summary(), None);
        let line = LatencyLine("pre-authorization", &lat, 2_000).to_string();
        assert!(line.contains("n=5") && line.contains("p50 3.000 ms"), "{line}");
        assert!(line.contains("max 5.000 ms") && line.contains(" 2.50/s "), "{line}");
        let json = lat.json(2_000);
        assert_eq!(json["n"], 5);
        assert_eq!(json["per_s"], "2.50");
        assert_eq!((json["p50_us"].as_u64(), json["max_us"].as_u64()), (Some(3_000), Some(5_000)));
        assert!(Latencies::default().json(1)["p99_us"].is_null());
    }

    #[test]
    fn throughput_and_formatting_in_integers() {
        assert_eq!(per_second(20, 1_000), "20.00");
        assert_eq!(per_second(1, 3_000), "0.33");
        assert_eq!(per_second(5, 0), "5000.00", "no division by zero");
        assert_eq!(ms(1_234_567), "1234.567");
        assert_eq!(ms(45), "0.045");
    }

    #[test]
    fn stats_merge_counts_codes() {
        let mut a = Stats::default();
        a.count("00");
        a.approved = 1;
        let mut b = Stats::default();
        b.count("00");
        b.count("51");
        b.errors = 1;
        b.reversal.record(10);
        b.reversed = 1;
        a.merge(b);
        assert_eq!((a.reversed, a.reversal.samples_us.len()), (1, 1));
        assert_eq!(a.codes.get("00"), Some(&2));
        assert_eq!((a.fills(), a.approved, a.errors), (3, 1, 1));
    }
}
