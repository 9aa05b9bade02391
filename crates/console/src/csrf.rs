//! CSRF tokens: 32 random bytes from the OS, hex, kept in the HttpOnly `fc_csrf` cookie
//! and echoed by every state-changing form as the hidden field `csrf`. SameSite=Strict
//! already stops cross-site posts in current browsers; the token covers the rest.

use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;

pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether the form's token matches the cookie's, compared in constant time. Both must be
/// present and non-empty.
pub fn matches(cookie: Option<&str>, form: Option<&str>) -> bool {
    match (cookie, form) {
        (Some(c), Some(f)) if !c.is_empty() && c.len() == f.len() => {
            bool::from(c.as_bytes().ct_eq(f.as_bytes()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(matches(Some(&a), Some(&a)));
        assert!(!matches(Some(&a), Some(&b)));
        assert!(!matches(Some(&a), None));
        assert!(!matches(None, None));
        assert!(!matches(Some(""), Some("")));
    }
}
