//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use domain::FieldError;
use tokio::sync::Semaphore;

/// Shortest password accepted: NIST SP 800-63B asks for at least 8; fleets share devices,
/// so we ask for a little more.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, so a huge body cannot make hashing expensive.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Password hashes computed at once. Each holds 19 MiB and a core for tens of
/// milliseconds; a burst of logins beyond this waits its turn instead of taking every core
/// (and memory) from the terminals' authorizations.
pub const MAX_CONCURRENT_HASHES: usize = 2;
static HASH_PERMITS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// Runs one argon2 computation on the blocking pool, never on the async workers that
/// answer terminals.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::IssuingError> {
    let failed = || crate::IssuingError::Internal("password hashing failed".into());
    let _permit = HASH_PERMITS.acquire().await.map_err(|_| failed())?;
    tokio::task::spawn_blocking(work).await.map_err(|_| failed())
}

/// [`hash`] off the async runtime.
pub async fn hash_off_runtime(password: &str) -> Result<String, crate::IssuingError> {
    let password = password.to_owned();
    off_runtime(move || hash(&password)).await?
}

/// [`verify`] off the async runtime; an unknown user (`stored` = `None`) costs the same.
pub async fn verify_off_runtime(password: &str, stored: Option<String>) -> bool {
    let password = password.to_owned();
    let check = move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            verify_dummy(&password);
            false
        }
    };
    off_runtime(check).await.unwrap_or(false)
}

pub fn validate(field: &str, password: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(FieldError::out_of_range(
            field,
            format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, crate::IssuingError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| crate::IssuingError::Internal("password hashing failed".into()))
}

/// Constant-time verification (inside argon2). A malformed stored hash verifies as false.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// Spends the same time as a real verification, so a login for an unknown email cannot be
/// told apart from a wrong password by timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(stored) = DUMMY.get_or_init(|| hash("dummy-password-for-timing").ok()) {
        let _ = verify(password, stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_right_password() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
        assert!(!verify("x", "not a hash"));
    }

    /// A single-threaded runtime keeps ticking while passwords are checked: the hashing
    /// does not run on it.
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_leaves_the_async_runtime_free() {
        let stored = hash("correct horse battery").unwrap();
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            })
        };
        for _ in 0..4 {
            assert!(verify_off_runtime("correct horse battery", Some(stored.clone())).await);
        }
        assert!(!verify_off_runtime("correct horse battery", None).await);
        ticker.abort();
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) > 4, "the runtime was blocked");
    }

    #[test]
    fn length_rules() {
        assert!(validate("password", "short").is_err());
        assert!(validate("password", &"x".repeat(257)).is_err());
        assert!(validate("password", "long enough pw").is_ok());
    }
}
