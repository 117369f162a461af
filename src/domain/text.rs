//! Free text a user names things with: bounded length, no control characters.

/// Text of `MIN` to `MAX` characters without control characters (tab and newline
/// allowed). Built only by [`Text::parse`], so a stored name is always one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MIN: usize, const MAX: usize>(String);

/// A display name (endpoint, token, API key).
pub type Name = Text<1, 200>;
/// A description.
pub type Description = Text<0, 2000>;

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    pub fn parse(value: &str) -> Result<Self, String> {
        let n = value.chars().count();
        if n < MIN || n > MAX {
            return Err(format!("must be {MIN} to {MAX} characters"));
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err("must not contain control characters".into());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_control_characters() {
        assert!(Name::parse("").is_err());
        assert!(Name::parse("shop-app").is_ok());
        assert!(Name::parse(&"x".repeat(201)).is_err());
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("two\nlines\tok").is_ok());
        assert!(Description::parse("bell\u{7}").is_err());
    }
}
