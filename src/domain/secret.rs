//! Values that must never be printed: their `Debug` and `Display` redact.

use std::fmt;

use serde::Deserialize;

/// A password as received from a client (login, user creation).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `Debug` for a row type that holds secrets (password hashes, token hashes):
/// the listed plain fields print, the secret ones print `[redacted]`.
#[macro_export]
macro_rules! debug_redacting {
    ($ty:ident $(<$lt:lifetime>)? { $($field:ident),* $(,)? } secret { $($secret:ident),* $(,)? }) => {
        impl $(<$lt>)? ::std::fmt::Debug for $ty $(<$lt>)? {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                $(let _ = &self.$secret;)*
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &"[redacted]"))*
                    .finish_non_exhaustive()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_and_display_redact() {
        let p = Password::new("hunter2-very-secret".into());
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(!format!("{p}").contains("hunter2"));
        assert_eq!(p.expose(), "hunter2-very-secret");
    }
}
