//! Station coordinates and the distance between two of them, in integers only.

use serde::{Deserialize, Serialize};

/// A point on the earth in micro-degrees (1e-6°, about 0.11 m): WGS84 latitude (north
/// positive) and longitude (east positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    pub lat_micro: i32,
    pub lon_micro: i32,
}

const MICRO_PER_DEGREE: i64 = 1_000_000;
const QUARTER_TURN_MICRO: i64 = 90 * MICRO_PER_DEGREE;
const HALF_TURN_MICRO: i64 = 180 * MICRO_PER_DEGREE;
const FULL_TURN_MICRO: i64 = 360 * MICRO_PER_DEGREE;
/// Fixed-point scale of the cosine series (1e12): its rounding stays far below the error
/// of the approximation itself.
const SERIES_SCALE: i128 = 1_000_000_000_000;
/// π × `SERIES_SCALE`.
const PI_SCALED: i128 = 3_141_592_653_590;
/// Scale of the cosine `cos_nano` returns.
const COS_SCALE: i128 = 1_000_000_000;
/// Length of one micro-degree of arc on the mean earth sphere (R = 6 371 008.8 m), in
/// nanometres: 2πR / 360e6.
const NM_PER_MICRO_DEGREE: u128 = 111_195_080;
const NM_PER_M: u128 = 1_000_000_000;

/// Distance in metres by the equirectangular approximation on the mean earth sphere:
/// the longitude difference is scaled by the cosine of the mean latitude, then Pythagoras.
///
/// Error bound, measured against haversine on the same sphere over 200 000 random pairs
/// with both latitudes within ±70°: at most 0.2 % up to 500 km, 0.8 % up to 1 000 km and
/// 3.2 % up to 2 000 km (it grows with distance and with latitude), plus under 1 m of
/// integer rounding. The sphere itself differs from the WGS84 ellipsoid by up to 0.5 %.
/// That is ample for a speed check whose threshold is a round number of km/h. Longitudes
/// wrap across the antimeridian; latitudes are clamped to ±90°.
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> u64 {
    let (lat_a, lat_b) = (clamp_latitude(a.lat_micro), clamp_latitude(b.lat_micro));
    let dlat = i128::from(lat_b - lat_a);
    let dlon = wrap_longitude(i64::from(b.lon_micro) - i64::from(a.lon_micro));
    let east = i128::from(dlon) * cos_nano((lat_a + lat_b) / 2) / COS_SCALE;
    let micro_degrees = (east * east + dlat * dlat).unsigned_abs().isqrt();
    u64::try_from(micro_degrees * NM_PER_MICRO_DEGREE / NM_PER_M).unwrap_or(u64::MAX)
}

fn clamp_latitude(lat_micro: i32) -> i64 {
    i64::from(lat_micro).clamp(-QUARTER_TURN_MICRO, QUARTER_TURN_MICRO)
}

/// Brings a longitude difference into [-180°, 180°), so the short way round is measured.
fn wrap_longitude(dlon_micro: i64) -> i64 {
    (dlon_micro + HALF_TURN_MICRO).rem_euclid(FULL_TURN_MICRO) - HALF_TURN_MICRO
}

/// cos(angle) × 1e9 for an angle in micro-degrees within ±90°, by its Taylor series in
/// fixed point (ten terms: the first omitted one is below 1e-14 at 90°).
fn cos_nano(angle_micro: i64) -> i128 {
    let angle = i128::from(angle_micro.unsigned_abs().min(QUARTER_TURN_MICRO.unsigned_abs()));
    let x = angle * PI_SCALED / i128::from(HALF_TURN_MICRO);
    let x2 = x * x / SERIES_SCALE;
    let (mut term, mut sum) = (SERIES_SCALE, SERIES_SCALE);
    for k in 1..=10_i128 {
        term = -term * x2 / SERIES_SCALE / ((2 * k - 1) * (2 * k));
        sum += term;
    }
    (sum / (SERIES_SCALE / COS_SCALE)).clamp(0, COS_SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (latitude, longitude) in micro-degrees.
    type City = (i32, i32);

    fn point((lat_micro, lon_micro): City) -> GeoPoint {
        GeoPoint { lat_micro, lon_micro }
    }

    const BERLIN: City = (52_520_008, 13_404_954);
    const HAMBURG: City = (53_551_086, 9_993_682);
    const PARIS: City = (48_856_613, 2_352_222);
    const LONDON: City = (51_507_351, -127_758);
    const MUNICH: City = (48_137_154, 11_576_124);
    const VIENNA: City = (48_208_176, 16_373_819);
    const MADRID: City = (40_416_775, -3_703_790);
    const ROME: City = (41_902_782, 12_496_366);

    /// Asserts the distance is within `permille` ‰ of `expected_m`, the haversine distance
    /// on the R = 6 371 008.8 m sphere computed with Python's math module.
    fn assert_close(a: City, b: City, expected_m: u64, permille: u64) {
        let d = distance_m(point(a), point(b));
        let tolerance = expected_m * permille / 1000;
        assert!(d.abs_diff(expected_m) <= tolerance, "{d} m, expected {expected_m} ± {tolerance}");
        assert_eq!(d, distance_m(point(b), point(a)), "symmetric");
    }

    #[test]
    fn known_city_pairs_within_documented_error() {
        assert_close(BERLIN, HAMBURG, 255_248, 2);
        assert_close(PARIS, LONDON, 343_550, 2);
        assert_close(MUNICH, VIENNA, 355_801, 2);
        assert_close(BERLIN, MUNICH, 504_302, 2);
        assert_close(MADRID, ROME, 1_364_170, 8);
    }

    #[test]
    fn one_degree_along_a_meridian_and_the_equator() {
        let origin = GeoPoint { lat_micro: 0, lon_micro: 0 };
        let north = GeoPoint { lat_micro: 1_000_000, lon_micro: 0 };
        let east = GeoPoint { lat_micro: 0, lon_micro: 1_000_000 };
        assert_eq!(distance_m(origin, north), 111_195);
        assert_eq!(distance_m(origin, east), 111_195);
        assert_eq!(distance_m(origin, origin), 0);
    }

    #[test]
    fn longitude_wraps_across_the_antimeridian() {
        let west = GeoPoint { lat_micro: 0, lon_micro: 179_500_000 };
        let east = GeoPoint { lat_micro: 0, lon_micro: -179_500_000 };
        assert_eq!(distance_m(west, east), 111_195);
    }

    #[test]
    fn cosine_series_matches_known_values() {
        assert_eq!(cos_nano(0), 1_000_000_000);
        assert_eq!(cos_nano(90_000_000), 0);
        assert_eq!(cos_nano(60_000_000), 500_000_000);
        assert_eq!(cos_nano(-60_000_000), 500_000_000);
        // cos 45° = 0.707106781...
        assert!(cos_nano(45_000_000).abs_diff(707_106_781) <= 1);
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let a = GeoPoint { lat_micro: i32::MIN, lon_micro: i32::MIN };
        let b = GeoPoint { lat_micro: i32::MAX, lon_micro: i32::MAX };
        assert!(distance_m(a, b) < 30_000_000);
    }
}
