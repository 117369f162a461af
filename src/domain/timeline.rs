//! A chart's time axis: the period it spans and how wide its bars are. Widths come
//! from a fixed ladder, so a view of a few minutes and a view of a year both get a
//! readable number of bars, and a bar always starts at a round time.

use chrono::{DateTime, NaiveDateTime};

/// Bar widths, narrowest first: seconds, and how "per …" reads.
const LADDER: [(i64, &str); 16] = [
    (60, "minute"),
    (2 * 60, "2 minutes"),
    (5 * 60, "5 minutes"),
    (10 * 60, "10 minutes"),
    (15 * 60, "15 minutes"),
    (30 * 60, "30 minutes"),
    (3600, "hour"),
    (2 * 3600, "2 hours"),
    (3 * 3600, "3 hours"),
    (6 * 3600, "6 hours"),
    (12 * 3600, "12 hours"),
    (86_400, "day"),
    (2 * 86_400, "2 days"),
    (7 * 86_400, "7 days"),
    (14 * 86_400, "14 days"),
    (30 * 86_400, "30 days"),
];
/// The most bars a chart draws: the width grows along the ladder until it fits (a
/// period longer than 60 of its widest bars has more).
pub const MAX_BARS: i64 = 60;
/// The least a period drawn around its calls spans, so a few calls within a minute
/// or two spread over minute bars rather than fill one.
const MIN_SPAN: i64 = 20 * 60;

/// The period a chart spans, cut into bars of one width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// Seconds since the epoch where the first bar starts (a multiple of `width`).
    first: i64,
    /// How many bars.
    bars: i64,
    /// Seconds per bar.
    width: i64,
    /// How "per …" reads for `width`.
    label: &'static str,
}

fn secs(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// The bars of `width` that cover `[lo, hi)`: (first bar's start, how many).
fn cover(lo: i64, hi: i64, width: i64) -> (i64, i64) {
    let first = lo.div_euclid(width) * width;
    let end = (hi.max(lo + 1) + width - 1).div_euclid(width) * width;
    (first, (end - first) / width)
}

/// The narrowest rung whose bars cover `[lo, hi)` with `spare` bars to spare.
fn rung(lo: i64, hi: i64, spare: i64) -> (i64, &'static str) {
    LADDER
        .iter()
        .copied()
        .find(|&(width, _)| cover(lo, hi, width).1 + spare <= MAX_BARS)
        .unwrap_or(LADDER[LADDER.len() - 1])
}

impl Timeline {
    /// Over a period given explicitly: `[since, until)` exactly, in the narrowest
    /// bars that fit (an empty or reversed period is one bar from `since`).
    pub fn over(since: NaiveDateTime, until: NaiveDateTime) -> Self {
        let (lo, hi) = (secs(since), secs(until).max(secs(since) + 1));
        let (width, label) = rung(lo, hi, 0);
        let (first, bars) = cover(lo, hi, width);
        Self {
            first,
            bars,
            width,
            label,
        }
    }

    /// Around calls made from `first` to `last` (inclusive): their span, at least
    /// [`MIN_SPAN`] centred on them, and one empty bar either side.
    pub fn around(first: NaiveDateTime, last: NaiveDateTime) -> Self {
        let (mut lo, mut hi) = (secs(first), secs(last).max(secs(first)) + 1);
        if hi - lo < MIN_SPAN {
            let mid = lo + (hi - lo) / 2;
            lo = lo.min(mid - MIN_SPAN / 2);
            hi = hi.max(mid + MIN_SPAN / 2);
        }
        let (width, label) = rung(lo, hi, 2);
        let (start, bars) = cover(lo, hi, width);
        Self {
            first: start - width,
            bars: bars + 2,
            width,
            label,
        }
    }

    /// Seconds per bar.
    pub fn width(&self) -> i64 {
        self.width
    }

    /// How "per …" reads: `minute`, `5 minutes`, `day`.
    pub fn label(&self) -> &'static str {
        self.label
    }

    pub fn bars(&self) -> usize {
        self.bars as usize
    }

    /// Where bar `i` starts.
    pub fn start_of(&self, i: usize) -> NaiveDateTime {
        let at = self.first + i as i64 * self.width;
        DateTime::from_timestamp(at, 0)
            .unwrap_or_default()
            .naive_utc()
    }

    pub fn start(&self) -> NaiveDateTime {
        self.start_of(0)
    }

    /// Where the last bar ends.
    pub fn end(&self) -> NaiveDateTime {
        self.start_of(self.bars())
    }

    /// The bar holding the bucket that starts `at` seconds since the epoch; the
    /// nearest bar for a bucket outside the period (none is, by construction).
    pub fn bar_of(&self, at: i64) -> usize {
        ((at - self.first).div_euclid(self.width)).clamp(0, self.bars - 1) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_day_reads_in_half_hours_and_a_year_in_weeks() {
        let day = Timeline::over(at("2026-11-24 00:00:00"), at("2026-11-25 00:00:00"));
        assert_eq!(
            (day.width(), day.bars(), day.label()),
            (1800, 48, "30 minutes")
        );
        let week = Timeline::over(at("2026-11-24 00:00:00"), at("2026-12-01 00:00:00"));
        assert_eq!(
            (week.width(), week.bars(), week.label()),
            (3 * 3600, 56, "3 hours")
        );
        let year = Timeline::over(at("2025-11-24 00:00:00"), at("2026-11-24 00:00:00"));
        assert_eq!(year.width(), 7 * 86_400);
        assert!((24..=60).contains(&year.bars()), "{year:?}");
        let hour = Timeline::over(at("2026-11-24 10:00:00"), at("2026-11-24 11:00:00"));
        assert_eq!((hour.width(), hour.bars()), (60, 60));
    }

    #[test]
    fn calls_a_few_minutes_apart_get_minute_bars_around_them() {
        let t = Timeline::around(at("2026-11-24 10:00:10"), at("2026-11-24 10:03:40"));
        assert_eq!(t.width(), 60);
        assert!(t.start() < at("2026-11-24 10:00:10"));
        assert!(t.end() > at("2026-11-24 10:03:40"));
        assert!((20..=60).contains(&t.bars()), "{t:?}");
        let (a, b) = (
            t.bar_of(secs(at("2026-11-24 10:00:00"))),
            t.bar_of(secs(at("2026-11-24 10:03:00"))),
        );
        assert_eq!(b - a, 3);
        assert!(a > 0 && b < t.bars() - 1, "padded either side");
    }

    #[test]
    fn every_span_fits_the_bar_budget() {
        let base = at("2026-01-01 00:00:00");
        for minutes in [1, 7, 59, 61, 300, 1439, 1441, 10_000, 100_000, 500_000] {
            let last = base + TimeDelta::minutes(minutes);
            for t in [Timeline::around(base, last), Timeline::over(base, last)] {
                assert!(t.bars() as i64 <= MAX_BARS, "{minutes}: {t:?}");
                assert!(t.start() <= base && t.end() > last - TimeDelta::seconds(1));
                assert_eq!(secs(t.start()) % t.width(), 0, "bars start at round times");
            }
            let around = Timeline::around(base, last);
            assert!(around.bars() >= 12, "{minutes}: {around:?}");
        }
    }
}
