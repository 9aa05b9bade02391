//! Amounts on pages: minor units shown as decimals and decimals typed into forms read back
//! as minor units, with integer arithmetic only (no float ever touches money).

use domain::Currency;

/// `12345` in a 2-digit currency → `"123.45 EUR"`.
pub fn show(minor: i64, currency: Currency) -> String {
    domain::Money { minor, currency }.to_string()
}

/// Why a typed amount was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum AmountError {
    NotANumber,
    TooManyDecimals,
    TooLarge,
}

/// Reads `"300"`, `"300.5"` or `"300.50"` as minor units of a currency with `digits`
/// decimals. Empty input is `None` (no limit). Negative amounts are not numbers here.
pub fn parse(input: &str, digits: u8) -> Result<Option<i64>, AmountError> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    let (major, fraction) = match input.split_once(['.', ',']) {
        Some((m, f)) => (m, f),
        None => (input, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if major.is_empty() || !all_digits(major) || !all_digits(fraction) {
        return Err(AmountError::NotANumber);
    }
    if fraction.len() > usize::from(digits) {
        return Err(AmountError::TooManyDecimals);
    }
    let scale = 10i64.checked_pow(u32::from(digits)).ok_or(AmountError::TooLarge)?;
    let major: i64 = major.parse().map_err(|_| AmountError::TooLarge)?;
    let padded = format!("{fraction:0<width$}", width = usize::from(digits));
    let fraction: i64 =
        if padded.is_empty() { 0 } else { padded.parse().map_err(|_| AmountError::NotANumber)? };
    major
        .checked_mul(scale)
        .and_then(|m| m.checked_add(fraction))
        .filter(|v| *v <= domain::money::MAX_AMOUNT_MINOR)
        .map(Some)
        .ok_or(AmountError::TooLarge)
}

/// The form value for an amount already set: `30000` → `"300.00"` (no currency code).
pub fn input_value(minor: i64, digits: u8) -> String {
    let scale = 10i64.pow(u32::from(digits));
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale.unsigned_abs();
    if digits == 0 {
        format!("{sign}{abs}")
    } else {
        format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = usize::from(digits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(parse("300", 2), Ok(Some(30000)));
        assert_eq!(parse(" 300.5 ", 2), Ok(Some(30050)));
        assert_eq!(parse("0,07", 2), Ok(Some(7)));
        assert_eq!(parse("12", 0), Ok(Some(12)));
        assert_eq!(parse("", 2), Ok(None));
        assert_eq!(parse("1.234", 2), Err(AmountError::TooManyDecimals));
        assert_eq!(parse("-1", 2), Err(AmountError::NotANumber));
        assert_eq!(parse("1e3", 2), Err(AmountError::NotANumber));
        assert_eq!(parse(".5", 2), Err(AmountError::NotANumber));
        assert_eq!(parse("99999999999999999999", 2), Err(AmountError::TooLarge));
    }

    #[test]
    fn shows_minor_units() {
        let eur = Currency::from_code("EUR").expect("EUR");
        assert_eq!(show(12345, eur), "123.45 EUR");
        assert_eq!(input_value(30000, 2), "300.00");
        assert_eq!(input_value(5, 2), "0.05");
        assert_eq!(input_value(7, 0), "7");
    }
}
