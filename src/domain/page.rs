//! Keyset paging: a page of rows and the cursor of the next one. Every list that
//! pages (records, calls, the audit log) asks the store for one row more than the
//! page holds and lets [`Page::of`] decide whether there is a next page.

/// One page and the cursor for the next (`None` at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

impl<T> Page<T> {
    /// How many rows to fetch for a page of `limit`.
    pub fn fetch(limit: i64) -> i64 {
        limit + 1
    }

    /// The first `limit` of `rows` (fetched with [`Page::fetch`]); when there were
    /// more, the next cursor is the key of the last row kept.
    pub fn of(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(key)
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_cursor_only_when_more_rows_came_back() {
        let p = Page::of(vec![5, 4, 3], 2, |r| *r);
        assert_eq!(p.items, vec![5, 4]);
        assert_eq!(p.next, Some(4));
        let p = Page::of(vec![5, 4], 2, |r| *r);
        assert_eq!(p.next, None);
        assert_eq!(Page::<i64>::fetch(100), 101);
    }
}
