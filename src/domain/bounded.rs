//! Whole numbers with bounds: a body limit, a retention, a rate, a grace period.

/// A whole number from `MIN` to `MAX`, built only by [`Bounded::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounded<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    pub const MIN: i64 = MIN;
    pub const MAX: i64 = MAX;

    pub fn parse(n: impl Into<i64>) -> Result<Self, String> {
        let n = n.into();
        if (MIN..=MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(format!("must be from {MIN} to {MAX}"))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The value as a 32-bit column holds it (bounds within `i32` make this exact).
    pub fn as_i32(self) -> i32 {
        i32::try_from(self.0).unwrap_or(i32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_within_the_bounds_parse() {
        type Percent = Bounded<0, 100>;
        assert_eq!(Percent::parse(0).map(Percent::get), Ok(0));
        assert_eq!(Percent::parse(100i32).map(Percent::as_i32), Ok(100));
        assert_eq!(Percent::parse(101), Err("must be from 0 to 100".to_owned()));
        assert!(Percent::parse(-1).is_err());
    }
}
