//! The token list as admins of hundreds of applications use it: search, filters,
//! sort and pages, all done by the database; and the same selection for an
//! endpoint's Tokens tab and for bulk actions on "all N matching".

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};

use super::TokenOut;
use crate::db::DbConn;
use crate::error::{missing, AppError, AppResult};
use crate::operations::{read, token_policy};
use crate::state::AppState;
use crate::store;
use crate::store::token_search::{TokenSearch, TokenSort};
use crate::store::tokens::StateFilter;

/// A token expiring within this many days is flagged "expiring".
pub const EXPIRING_DAYS: i64 = 14;
pub const PAGE_SIZES: [i64; 4] = [25, 50, 100, 200];
const DEFAULT_PAGE_SIZE: i64 = 50;
/// "Every token" for a list that does not page (far beyond any real count).
const ALL: i64 = 10_000_000;

/// A token list's choices, as they travel in the page's address (all optional).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TokenListQuery {
    /// Text in the name, description or hint.
    pub q: Option<String>,
    /// `active` (default), `inactive` or `all`.
    pub show: Option<String>,
    /// `on` or `off`.
    pub enabled: Option<String>,
    /// `soon` (within 14 days), `expired` or `beyond_max` (beyond the lifetime
    /// policy's maximum, or never expiring while there is one).
    pub expiry: Option<String>,
    /// Mapped to this endpoint id.
    pub endpoint: Option<String>,
    /// `name` (default), `created`, `last_used` or `expires`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub dir: Option<String>,
    pub page: Option<String>,
    pub per: Option<String>,
}

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn bad(field: &str, expected: &str) -> AppError {
    AppError::validation(field, format!("must be {expected}"))
}

fn whole(v: &Option<String>, field: &str, min: i64, max: i64) -> AppResult<Option<i64>> {
    some(v)
        .map(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| bad(field, &format!("a whole number from {min} to {max}")))
        })
        .transpose()
}

impl TokenListQuery {
    /// The validated selection at `now`: a bad choice is named, never ignored.
    pub fn search(&self, now: chrono::NaiveDateTime) -> AppResult<TokenSearch> {
        let state = match some(&self.show) {
            None | Some("active") => StateFilter::Active,
            Some("inactive") => StateFilter::Inactive,
            Some("all") => StateFilter::All,
            _ => return Err(bad("show", "active, inactive or all")),
        };
        let enabled = match some(&self.enabled) {
            None => None,
            Some("on") => Some(true),
            Some("off") => Some(false),
            _ => return Err(bad("enabled", "on or off")),
        };
        // `beyond_max` is resolved against the policy in the reading transaction.
        let (expiring_before, expired, beyond_max) = match some(&self.expiry) {
            None => (None, false, None),
            Some("soon") => (Some(now + TimeDelta::days(EXPIRING_DAYS)), false, None),
            Some("expired") => (None, true, None),
            Some("beyond_max") => (None, false, Some(None)),
            _ => return Err(bad("expiry", "soon, expired or beyond_max")),
        };
        let sort = match some(&self.sort) {
            None | Some("name") => TokenSort::Name,
            Some("created") => TokenSort::Created,
            Some("last_used") => TokenSort::LastUsed,
            Some("expires") => TokenSort::Expires,
            _ => return Err(bad("sort", "name, created, last_used or expires")),
        };
        let descending = match some(&self.dir) {
            None | Some("asc") => false,
            Some("desc") => true,
            _ => return Err(bad("dir", "asc or desc")),
        };
        let per = whole(&self.per, "per", 1, 200)?.unwrap_or(DEFAULT_PAGE_SIZE);
        let page = whole(&self.page, "page", 1, 1_000_000)?.unwrap_or(1);
        let endpoint = whole(&self.endpoint, "endpoint", 1, i64::MAX)?;
        let text = some(&self.q).map(|t| t.chars().take(200).collect());
        Ok(TokenSearch {
            text,
            state,
            enabled,
            expiring_before,
            expired,
            beyond_max,
            mapped_to: endpoint.map(|e| (e, true)),
            sort,
            descending,
            offset: (page - 1) * per,
            limit: per,
        })
    }
}

/// Puts the lifetime policy's maximum into `s` when it asks for tokens beyond it.
fn resolve(conn: &mut DbConn, s: &mut TokenSearch, now: NaiveDateTime) -> AppResult<()> {
    if s.beyond_max.is_some() {
        s.beyond_max = Some(token_policy::current(conn)?.latest(now));
    }
    Ok(())
}

/// One page of a token list.
#[derive(Debug, Serialize)]
pub struct TokenPage {
    pub tokens: Vec<TokenOut>,
    /// Every token the choices select.
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub per: i64,
    /// The 1-based positions of the first and last token shown.
    pub first: i64,
    pub last: i64,
}

impl TokenPage {
    fn of(tokens: Vec<TokenOut>, total: i64, s: &TokenSearch) -> Self {
        let page = s.offset / s.limit + 1;
        let shown = tokens.len() as i64;
        Self {
            first: if shown == 0 { 0 } else { s.offset + 1 },
            last: s.offset + shown,
            tokens,
            total,
            page,
            pages: ((total + s.limit - 1) / s.limit).max(1),
            per: s.limit,
        }
    }
}

/// One page of the tokens `q` selects (a bad choice is a validation error).
pub async fn page(state: &AppState, q: &TokenListQuery) -> AppResult<TokenPage> {
    Ok(page_and_endpoints(state, q, false).await?.0)
}

/// An endpoint a token list can be narrowed to (its "mapped to" choice).
#[derive(Debug, Serialize)]
pub struct EndpointChoice {
    pub id: i64,
    pub name: String,
}

/// One page of the tokens `q` selects and (`with_endpoints`) every endpoint to
/// narrow the list to, in one read.
pub async fn page_and_endpoints(
    state: &AppState,
    q: &TokenListQuery,
    with_endpoints: bool,
) -> AppResult<(TokenPage, Vec<EndpointChoice>)> {
    let now = state.clock.now();
    let search = q.search(now)?;
    let (rows, total, endpoints) = {
        let mut search = search.clone();
        read(state, move |conn| {
            resolve(conn, &mut search, now)?;
            let (rows, total) = store::token_search::search(conn, &search, now)?;
            let endpoints = match with_endpoints {
                true => store::endpoints::list(conn)?
                    .into_iter()
                    .map(|e| EndpointChoice {
                        id: e.id,
                        name: e.name,
                    })
                    .collect(),
                false => Vec::new(),
            };
            Ok((rows, total, endpoints))
        })
        .await?
    };
    let tokens = rows.into_iter().map(|t| TokenOut::at(t, now)).collect();
    Ok((TokenPage::of(tokens, total, &search), endpoints))
}

/// Every token `q` selects (its paging ignored), by name: the API's list.
pub async fn all(state: &AppState, q: &TokenListQuery) -> AppResult<Vec<TokenOut>> {
    let now = state.clock.now();
    let mut search = q.search(now)?;
    search.offset = 0;
    search.limit = ALL;
    let rows = read(state, move |conn| {
        resolve(conn, &mut search, now)?;
        Ok(store::token_search::search(conn, &search, now)?.0)
    })
    .await?;
    Ok(rows.into_iter().map(|t| TokenOut::at(t, now)).collect())
}

/// The ids of every token `q` selects, for a bulk action on "all N matching":
/// more than `cap` is refused.
pub async fn matching_ids(state: &AppState, q: &TokenListQuery, cap: usize) -> AppResult<Vec<i64>> {
    let now = state.clock.now();
    let mut search = q.search(now)?;
    let ids = read(state, move |conn| {
        resolve(conn, &mut search, now)?;
        Ok(store::token_search::matching_ids(
            conn,
            &search,
            now,
            cap as i64 + 1,
        )?)
    })
    .await?;
    if ids.len() > cap {
        return Err(AppError::validation(
            "ids",
            format!("more than {cap} tokens match: narrow the search to act on them at once"),
        ));
    }
    Ok(ids)
}

/// One page of an endpoint's Tokens tab: the tokens `q` selects with their
/// mapping per method on endpoint `endpoint_id` (`assigned`: only those mapped to
/// it; `Some(false)`: only those not mapped).
pub async fn endpoint_page(
    state: &AppState,
    endpoint_id: i64,
    q: &TokenListQuery,
    assigned: Option<bool>,
) -> AppResult<(TokenPage, Vec<BTreeMap<String, bool>>)> {
    let now = state.clock.now();
    let mut search = q.search(now)?;
    if let Some(mapped) = assigned {
        search.mapped_to = Some((endpoint_id, mapped));
    }
    let (rows, total, maps) = {
        let mut search = search.clone();
        read(state, move |conn| {
            store::endpoints::find(conn, endpoint_id).map_err(missing("endpoint"))?;
            resolve(conn, &mut search, now)?;
            let (rows, total) = store::token_search::search(conn, &search, now)?;
            let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
            let maps = store::mappings::of_tokens(conn, &ids)?;
            Ok((rows, total, maps))
        })
        .await?
    };
    let cells = rows
        .iter()
        .map(|t| {
            maps.iter()
                .filter(|m| m.token_id == t.id && m.endpoint_id == endpoint_id)
                .map(|m| (m.method.as_str().to_owned(), m.enabled))
                .collect()
        })
        .collect();
    let tokens = rows.into_iter().map(|t| TokenOut::at(t, now)).collect();
    Ok((TokenPage::of(tokens, total, &search), cells))
}
