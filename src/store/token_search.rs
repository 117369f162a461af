//! The token list at scale: search, filters, sort and one page at a time, with the
//! count of everything that matches. Hundreds to tens of thousands of tokens: the
//! filters run in SQL and only a page of rows leaves the database.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, not, sql};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::calls::lower;
use super::tokens::{StateFilter, TokenRow};
use crate::db::schema::{mappings, tokens};
use crate::db::{DbConn, MultiBackend};

/// The column a token list is ordered by (then by id, so pages are stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSort {
    Name,
    Created,
    LastUsed,
    Expires,
}

/// Which tokens, in which order, which page.
#[derive(Debug, Clone)]
pub struct TokenSearch {
    /// Text in the name, description or hint (case-insensitive).
    pub text: Option<String>,
    pub state: StateFilter,
    pub enabled: Option<bool>,
    /// Expiring between `now` and this time (not yet expired).
    pub expiring_before: Option<NaiveDateTime>,
    /// Already expired.
    pub expired: bool,
    /// Beyond the lifetime policy's maximum: expiring after this time, or never
    /// (`Some(None)`: there is no maximum, so no token is).
    pub beyond_max: Option<Option<NaiveDateTime>>,
    /// Mapped (any method, on or off) to this endpoint, or (`false`) not mapped to it.
    pub mapped_to: Option<(i64, bool)>,
    pub sort: TokenSort,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

type Boxed<'a> = tokens::BoxedQuery<'a, MultiBackend>;

/// `sqlite`: SQLite's `LIKE` ignores the case of ASCII letters by itself, as its
/// `lower()` lowers only those, so the text test skips `lower()` there (it cost 70 %
/// of a search of 10,000 tokens); PostgreSQL's `LIKE` needs both sides lowered.
fn filtered<'a>(s: &'a TokenSearch, now: NaiveDateTime, sqlite: bool) -> Boxed<'a> {
    let mut q = tokens::table.into_boxed();
    let searching = s.text.as_deref().is_some_and(|t| !t.is_empty());
    q = match (s.state, sqlite && searching) {
        // A text search reads the rows the trigram index names (or, for a needle
        // under three characters, every row): on SQLite, `+active` keeps the
        // planner off the (active, name) index, whose row-by-row lookups made the
        // scan of 10,000 tokens three times slower than reading the table.
        (StateFilter::Active, true) => q.filter(sql::<Bool>("(+active) = 1")),
        (StateFilter::Inactive, true) => q.filter(sql::<Bool>("(+active) = 0")),
        (StateFilter::Active, false) => q.filter(tokens::active.eq(true)),
        (StateFilter::Inactive, false) => q.filter(tokens::active.eq(false)),
        (StateFilter::All, _) => q,
    };
    if let Some(text) = s.text.as_deref().filter(|t| !t.is_empty()) {
        q = containing(q, text, sqlite);
    }
    if let Some(on) = s.enabled {
        q = q.filter(tokens::enabled.eq(on));
    }
    if let Some(before) = s.expiring_before {
        q = q
            .filter(tokens::expires_at.gt(now))
            .filter(tokens::expires_at.le(before));
    }
    if s.expired {
        q = q.filter(tokens::expires_at.le(now));
    }
    match s.beyond_max {
        Some(Some(latest)) => {
            q = q.filter(
                tokens::expires_at
                    .is_null()
                    .or(tokens::expires_at.gt(latest)),
            );
        }
        Some(None) => q = q.filter(sql::<Bool>("1 = 0")),
        None => {}
    }
    if let Some((endpoint, mapped)) = s.mapped_to {
        let of_endpoint = mappings::table
            .filter(mappings::endpoint_id.eq(endpoint))
            .select(mappings::token_id);
        q = if mapped {
            q.filter(tokens::id.eq_any(of_endpoint))
        } else {
            q.filter(not(tokens::id.eq_any(of_endpoint)))
        };
    }
    q
}

/// Tokens whose name, description or hint holds `text`, in any case.
fn containing<'a>(q: Boxed<'a>, text: &str, sqlite: bool) -> Boxed<'a> {
    let pattern = super::like_pattern(&text.to_lowercase());
    if !sqlite {
        if !text.contains(SEPARATOR) {
            // The three texts lowered and joined, as the database keeps them.
            return q.filter(
                sql::<Bool>("tokens.search_text LIKE ")
                    .bind::<Text, _>(pattern)
                    .sql(" ESCAPE '\\'"),
            );
        }
        return q.filter(
            lower(tokens::name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(tokens::description)
                    .like(pattern.clone())
                    .escape('\\'))
                .or(lower(tokens::hint).like(pattern).escape('\\')),
        );
    }
    let q = match text.chars().count() >= 3 {
        // The trigram index names the few tokens that can match; the `LIKE`s
        // below keep the answer exactly what a scan would give.
        true => q.filter(
            sql::<Bool>("tokens.id IN (SELECT rowid FROM tokens_search WHERE tokens_search MATCH ")
                .bind::<Text, _>(fts_phrase(text))
                .sql(")"),
        ),
        false => q,
    };
    q.filter(
        tokens::name
            .like(pattern.clone())
            .escape('\\')
            .or(tokens::description.like(pattern.clone()).escape('\\'))
            .or(tokens::hint.like(pattern).escape('\\')),
    )
}

/// What joins the three texts in PostgreSQL's `tokens.search_text` (see its
/// migration): a needle holding it is compared column by column instead.
const SEPARATOR: char = '\u{1}';

/// `text` as one FTS5 phrase (quoted, its quotes doubled): with the trigram
/// tokenizer, the rows holding it as a substring of a column, in any case.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn ordered<'a>(q: Boxed<'a>, sort: TokenSort, desc: bool) -> Boxed<'a> {
    // Never used / never expiring sort last either way.
    let q = match (sort, desc) {
        (TokenSort::Name, false) => q.order(lower(tokens::name).asc()),
        (TokenSort::Name, true) => q.order(lower(tokens::name).desc()),
        (TokenSort::Created, false) => q.order(tokens::created_at.asc()),
        (TokenSort::Created, true) => q.order(tokens::created_at.desc()),
        (TokenSort::LastUsed, d) => {
            let q = q.order(tokens::last_used_at.is_null().asc());
            match d {
                false => q.then_order_by(tokens::last_used_at.asc()),
                true => q.then_order_by(tokens::last_used_at.desc()),
            }
        }
        (TokenSort::Expires, d) => {
            let q = q.order(tokens::expires_at.is_null().asc());
            match d {
                false => q.then_order_by(tokens::expires_at.asc()),
                true => q.then_order_by(tokens::expires_at.desc()),
            }
        }
    };
    match desc {
        false => q.then_order_by(tokens::id.asc()),
        true => q.then_order_by(tokens::id.desc()),
    }
}

/// One page of the tokens `s` selects, and how many it selects in all.
pub fn search(
    conn: &mut DbConn,
    s: &TokenSearch,
    now: NaiveDateTime,
) -> QueryResult<(Vec<TokenRow>, i64)> {
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    let rows: Vec<TokenRow> = ordered(filtered(s, now, sqlite), s.sort, s.descending)
        .select(TokenRow::as_select())
        .offset(s.offset)
        .limit(s.limit)
        .load(conn)?;
    // A first page that is not full holds every match: no second scan to count them
    // (a search for one application's name is such a page).
    let total = match s.offset == 0 && (rows.len() as i64) < s.limit {
        true => rows.len() as i64,
        false => filtered(s, now, sqlite)
            .select(count_star())
            .get_result(conn)?,
    };
    Ok((rows, total))
}

/// How many tokens `s` selects (its paging ignored).
pub fn count(conn: &mut DbConn, s: &TokenSearch, now: NaiveDateTime) -> QueryResult<i64> {
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    filtered(s, now, sqlite)
        .select(count_star())
        .get_result(conn)
}

/// The ids of every token `s` selects (its paging ignored), up to `cap` of them:
/// what "all N matching" applies a bulk action to.
pub fn matching_ids(
    conn: &mut DbConn,
    s: &TokenSearch,
    now: NaiveDateTime,
    cap: i64,
) -> QueryResult<Vec<i64>> {
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    ordered(filtered(s, now, sqlite), s.sort, s.descending)
        .select(tokens::id)
        .limit(cap)
        .load(conn)
}
