//! The one shape a validation failure takes everywhere: which field, which rule, why.

use std::fmt;

/// A rejected input value. `code` is machine-readable and stable (`OUT_OF_RANGE`,
/// `INVALID_FORMAT`, ...); `field` is the JSON path of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }

    pub fn out_of_range(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(field, "OUT_OF_RANGE", message)
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(field, "INVALID_VALUE", message)
    }

    /// Prefixes the field path, so nested validators can report `controls.daily.amount`.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Checks a human-entered text field: trimmed, non-empty, at most `max_chars` characters,
/// no control characters.
pub fn text(field: &str, value: &str, max_chars: usize) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(FieldError::out_of_range(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(text("name", "  Depot  ", 10).unwrap(), "Depot");
        assert_eq!(text("name", "   ", 10).unwrap_err().code, "INVALID_VALUE");
        assert_eq!(text("name", "abcdefghijk", 10).unwrap_err().code, "OUT_OF_RANGE");
        assert_eq!(text("name", "a\u{7}b", 10).unwrap_err().field, "name");
    }

    #[test]
    fn nested_field_paths() {
        let e = FieldError::invalid("amount", "x").within("daily").within("controls");
        assert_eq!(e.field, "controls.daily.amount");
    }
}

/// Checks an IANA time zone name such as `Europe/Berlin` against the bundled tz database.
pub fn time_zone(field: &str, name: &str) -> Result<String, FieldError> {
    match time_tz::timezones::get_by_name(name) {
        Some(_) => Ok(name.to_owned()),
        None => {
            Err(FieldError::invalid(field, "must be an IANA time zone name, e.g. Europe/Berlin"))
        }
    }
}

/// Checks and normalises (lower-cases) an email address. Deliberately simple: one `@`, a
/// dot in the domain, no spaces; delivery is what really proves an address.
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let email = value.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Ok(email)
    } else {
        Err(FieldError::invalid(field, "must be an email address"))
    }
}

pub const MAX_EMAIL_CHARS: usize = 254;

#[cfg(test)]
mod more_tests {
    use super::*;

    #[test]
    fn time_zones_and_emails() {
        assert!(time_zone("tz", "Europe/Berlin").is_ok());
        assert!(time_zone("tz", "Mars/Olympus").is_err());
        assert_eq!(email("e", " Ann@Fleet.Example ").unwrap(), "ann@fleet.example");
        for bad in ["", "ann", "ann@", "@x.com", "a b@x.com", "ann@localhost", "a@b@c.com"] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }
}
