//! The Luhn (mod 10) check digit of ISO/IEC 7812 card numbers.

/// Check digit for `digits` (the PAN without its last digit). `None` if any byte is not an
/// ASCII digit.
pub fn check_digit(digits: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, b) in digits.iter().rev().enumerate() {
        let d = u32::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        // Doubling starts at the rightmost digit because the check digit will follow it.
        sum += if i % 2 == 0 {
            let x = d * 2;
            if x > 9 {
                x - 9
            } else {
                x
            }
        } else {
            d
        };
    }
    Some(b'0' + ((10 - (sum % 10)) % 10) as u8)
}

/// Whether a full PAN (check digit last) passes the Luhn check.
pub fn is_valid(pan: &[u8]) -> bool {
    match pan.split_last() {
        Some((last, body)) if !body.is_empty() => check_digit(body) == Some(*last),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        assert!(is_valid(b"4111111111111111"));
        assert!(is_valid(b"79927398713"));
        assert!(!is_valid(b"79927398710"));
        assert_eq!(check_digit(b"7992739871"), Some(b'3'));
        assert_eq!(check_digit(b"12a"), None);
        assert!(!is_valid(b"0"));
    }
}
