//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::domain::secret::Password;

pub fn hash(password: &Password) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| anyhow::anyhow!("password hashing failed"))
}

pub fn verify(password: &Password, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, so an unknown username cannot be
/// told from a wrong password by the response time.
pub fn verify_dummy(password: &Password) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored =
        DUMMY.get_or_init(|| hash(&Password::new("portico-dummy".into())).unwrap_or_default());
    let _ = verify(password, stored);
}

/// Minimum rules for a new password.
pub fn check_strength(password: &Password) -> Result<(), String> {
    let n = password.expose().chars().count();
    if n < 12 {
        return Err("must be at least 12 characters".into());
    }
    if n > 1024 {
        return Err("must be at most 1024 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let p = Password::new("correct horse battery".into());
        let a = hash(&p).unwrap();
        let b = hash(&p).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify(&p, &a));
        assert!(!verify(&Password::new("wrong horse battery".into()), &a));
        assert!(!verify(&p, "not a hash"));
    }
}
