//! Which of a needle's trigrams a payload search looks up, as a small sample of the
//! payloads suggests (both backends keep one: `records_search_sample`).

/// Needles shorter than this have no trigram: they are searched by reading.
pub const MIN_NEEDLE: usize = 3;
/// Trigrams of a needle weighed against the sample at most (spread over it).
const MAX_WEIGHED: usize = 24;
/// Trigrams looked up in the index at most: each costs a walk of its posting list,
/// and beyond a few rare ones the exact check of the candidates is cheaper.
const MAX_TRIGRAMS: usize = 3;

/// How the index is asked for a needle.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// The needle is in many of the sampled payloads: the newest records likely
    /// hold the answer, and the index would hand over a great many.
    pub common: bool,
    /// The trigrams picked are rare in the sample: the index narrows the search to
    /// few candidates.
    pub narrow: bool,
    /// The trigrams to look up (the needle's rarest in the sample), in its order;
    /// empty when none of its trigrams may be looked up.
    pub grams: Vec<String>,
}

/// A trigram of a needle with where it starts and in how many sampled payloads.
struct Weighed {
    at: usize,
    gram: String,
    seen: usize,
}

/// The plan for `needle` (lowercased) given `sample` (lowercased payloads), among
/// the trigrams `usable` accepts; `None` for a needle shorter than [`MIN_NEEDLE`].
/// Trigrams in at most a sixteenth of the sample count as rare, and a few of them
/// are looked up ([`pick`]); when none is rare, a few of the least common ones are.
/// The sample only steers the cost: every candidate is checked against its
/// payload.
pub fn plan(needle: &str, sample: &[String], usable: impl Fn(&str) -> bool) -> Option<Plan> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.len() < MIN_NEEDLE {
        return None;
    }
    let mut grams: Vec<(usize, String)> = Vec::new();
    for (at, w) in chars.windows(3).enumerate() {
        let gram: String = w.iter().collect();
        if usable(&gram) && !grams.iter().any(|(_, g)| *g == gram) {
            grams.push((at, gram));
        }
    }
    let step = grams.len().div_ceil(MAX_WEIGHED).max(1);
    let weighed: Vec<Weighed> = grams
        .into_iter()
        .step_by(step)
        .map(|(at, gram)| {
            let seen = sample.iter().filter(|d| d.contains(gram.as_str())).count();
            Weighed { at, gram, seen }
        })
        .collect();
    let rare: Vec<&Weighed> = weighed
        .iter()
        .filter(|w| w.seen * 16 <= sample.len())
        .collect();
    let narrow = !rare.is_empty();
    let left = match rare.is_empty() {
        true => weighed.iter().collect(),
        false => rare,
    };
    let mut picked = pick(left);
    picked.sort_by_key(|w| w.at);
    let found = sample.iter().filter(|d| d.contains(needle)).count();
    Some(Plan {
        common: !sample.is_empty() && found * 8 >= sample.len(),
        narrow,
        grams: picked.into_iter().map(|w| w.gram.clone()).collect(),
    })
}

/// Up to [`MAX_TRIGRAMS`] of `left`: those sharing the fewest characters with the
/// ones already picked first (overlapping ones narrow little more), then the
/// rarer, counting within 4 of each other in the sample as alike (one sighting
/// more in 128 payloads is chance, and it once made the first pick `998`, then
/// `999`, whose records share `9998`: 4 times the cost of `999` and `983`), then
/// those of letters and digits only (a trigram with punctuation or a space holds
/// less of the payload's content: `:99` is any value starting with 99, three
/// times as common as `999` among numbers), then the first. Never one whose
/// every character is in those picked, nor, once two are, one adding a single
/// character: each costs a walk of its posting list, and narrows little more.
fn pick(mut left: Vec<&Weighed>) -> Vec<&Weighed> {
    let mut picked: Vec<&Weighed> = Vec::new();
    while picked.len() < MAX_TRIGRAMS {
        let covered = |w: &Weighed| -> usize {
            (w.at..w.at + 3)
                .filter(|i| picked.iter().any(|p| (p.at..p.at + 3).contains(i)))
                .count()
        };
        let most = if picked.len() < 2 { 2 } else { 1 };
        left.retain(|w| covered(w) <= most);
        // Characters shared with the trigrams picked so far.
        let shared = |w: &Weighed| -> usize {
            picked
                .iter()
                .map(|p| 3usize.saturating_sub(p.at.abs_diff(w.at)))
                .sum()
        };
        let punctuation = |w: &Weighed| w.gram.chars().filter(|c| !c.is_alphanumeric()).count();
        let Some(best) = (0..left.len()).min_by_key(|&i| {
            let w = left[i];
            (shared(w), w.seen / 4, punctuation(w), w.at)
        }) else {
            break;
        };
        picked.push(left.remove(best));
    }
    picked
}

impl Plan {
    /// SQLite's FTS5 query: the trigrams, each as the index was given its text
    /// (`text`), quoted, ANDed.
    pub fn fts_query(&self, text: impl Fn(&str) -> String) -> String {
        let quoted: Vec<String> = self
            .grams
            .iter()
            .map(|g| format!("\"{}\"", text(g).replace('"', "\"\"")))
            .collect();
        quoted.join(" AND ")
    }
}

/// PostgreSQL's pg_trgm makes its trigrams of words (letters and digits; the rest
/// separates them, and a word's ends are padded): a trigram of three ASCII letters or
/// digits, looked up as `LIKE '%abc%'`, is exactly one of its trigrams.
pub fn pg_usable(gram: &str) -> bool {
    gram.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::{pg_usable, plan, Plan};

    fn payloads(texts: &[&str], times: usize) -> Vec<String> {
        texts
            .iter()
            .flat_map(|t| std::iter::repeat_n(t.to_string(), times))
            .collect()
    }

    fn query(needle: &str, sample: &[String]) -> String {
        plan(needle, sample, |_| true)
            .unwrap()
            .fts_query(str::to_owned)
    }

    #[test]
    fn a_needle_is_the_and_of_a_few_of_its_trigrams() {
        assert_eq!(plan("ab", &[], |_| true), None);
        assert_eq!(
            plan("ord", &[], |_| true),
            Some(Plan {
                common: false,
                narrow: true,
                grams: vec!["ord".into()]
            })
        );
        // `rd-` lies within `ord` and `d-1`.
        assert_eq!(query("ord-1", &[]), "\"ord\" AND \"d-1\"");
        assert_eq!(query("a\"bc", &[]), "\"a\"\"b\" AND \"\"\"bc\"");
        // Not overlapping first: the first, the fourth and the seventh trigram.
        assert_eq!(query("abcdefghi", &[]), "\"abc\" AND \"def\" AND \"ghi\"");
        assert_eq!(query(&"x".repeat(200), &[]), "\"xxx\"");
        let long: String = ('a'..='z').cycle().take(200).collect();
        assert_eq!(query(&long, &[]).matches(" AND ").count(), 2);
    }

    #[test]
    fn the_trigrams_in_most_payloads_are_left_out() {
        // In every payload but this needle's digits: `"re`, `rea`, ... narrow nothing.
        let sample = payloads(
            &[
                r#"{"sensor":"seed","reading":123456,"unit":"c"}"#,
                r#"{"sensor":"seed","reading":912345,"unit":"c"}"#,
            ],
            64,
        );
        // Of the rare ones: letters and digits before punctuation (`:99`, `83,`),
        // and `998` lies within `999` and `983`.
        let p = plan(r#""reading":999983,"#, &sample, |_| true).unwrap();
        assert!(!p.common);
        assert_eq!(p.fts_query(str::to_owned), "\"999\" AND \"983\"");
        // One sighting in the sample is chance: the picks stay.
        let mut seen_once = sample.clone();
        seen_once[0] = r#"{"sensor":"seed","reading":129991,"unit":"c"}"#.into();
        let p = plan(r#""reading":999983,"#, &seen_once, pg_usable).unwrap();
        assert_eq!(p.grams, ["999", "983"]);
        // PostgreSQL: only letters and digits, each within a word.
        // `998` lies within `999` and `983`.
        let p = plan(r#""reading":999983,"#, &sample, pg_usable).unwrap();
        assert_eq!(p.grams, ["999", "983"]);
        // Nothing in the sample: spread over the needle.
        assert_eq!(query("zqxjkv", &sample), "\"zqx\" AND \"jkv\"");
    }

    #[test]
    fn postgresql_looks_up_trigrams_of_letters_and_digits_only() {
        // `234` would add a single character to `ord` and `123`.
        let p = plan("ord-1234", &[], pg_usable).unwrap();
        assert_eq!(p.grams, ["ord", "123"]);
        assert_eq!(
            plan("ord-12345", &[], pg_usable).unwrap().grams,
            ["ord", "123", "345"]
        );
        // Two overlapping ones, when they are all there is.
        assert_eq!(plan("abcd", &[], pg_usable).unwrap().grams, ["abc", "bcd"]);
        assert!(plan("\":\"", &[], pg_usable).unwrap().grams.is_empty());
        assert!(plan("été", &[], pg_usable).unwrap().grams.is_empty());
    }

    #[test]
    fn when_every_trigram_is_common_the_least_common_are_looked_up() {
        let mut sample = payloads(&["aba bab"], 100);
        sample.extend(payloads(&["abc"], 20));
        let p = plan("abab", &sample, |_| true).unwrap();
        assert!(!p.common, "the needle itself is in no sampled payload");
        assert!(!p.narrow);
        assert_eq!(p.fts_query(str::to_owned), "\"aba\" AND \"bab\"");
    }

    #[test]
    fn a_needle_in_an_eighth_of_the_sample_is_common() {
        let mut sample = payloads(&["tick"], 16);
        sample.extend(payloads(&["tock"], 112));
        assert!(plan("tick", &sample, |_| true).unwrap().common);
        sample[0] = "tock".into();
        assert!(!plan("tick", &sample, |_| true).unwrap().common);
        assert!(!plan("tick", &[], |_| true).unwrap().common);
    }
}
