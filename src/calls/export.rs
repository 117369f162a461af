//! Exports of the calls matching a filter, as CSV or NDJSON (newest first).

use super::filter::CallQuery;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::calls::Call;

const EXPORT_PAGE: i64 = 1000;
const EXPORT_MAX_ROWS: usize = 1_000_000;

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    /// The `format` parameter: `csv` (the default) or `ndjson`.
    pub fn of(q: &CallQuery) -> AppResult<Self> {
        match q.format.as_deref() {
            None | Some("csv") => Ok(Format::Csv),
            Some("ndjson") => Ok(Format::Ndjson),
            Some(_) => Err(AppError::validation("format", "must be csv or ndjson")),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// Every call matching `q`'s filter, written as `format`.
pub async fn render(state: &AppState, q: &CallQuery, format: Format) -> AppResult<Vec<u8>> {
    let filter = q.filter.clone();
    let rows = state
        .db(move |conn| {
            let mut all = Vec::new();
            let mut cursor = None;
            loop {
                let page = store::calls::page(conn, &filter, cursor, EXPORT_PAGE)?;
                let done = (page.len() as i64) < EXPORT_PAGE;
                cursor = page.last().map(|r| r.id);
                all.extend(page);
                if done || all.len() >= EXPORT_MAX_ROWS {
                    break;
                }
            }
            Ok(all)
        })
        .await?;
    match format {
        Format::Ndjson => {
            let mut out = Vec::new();
            for r in rows {
                serde_json::to_writer(&mut out, &r).map_err(|_| AppError::Internal)?;
                out.push(b'\n');
            }
            Ok(out)
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in rows {
                w.serialize(defuse_formulas(r))
                    .map_err(|_| AppError::Internal)?;
            }
            w.into_inner().map_err(|_| AppError::Internal)
        }
    }
}

/// Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a
/// formula; the user agent, path and token name come from callers, so such
/// cells are prefixed with `'` (OWASP's CSV injection advice).
fn defuse_formulas(mut c: Call) -> Call {
    fn defuse(s: &mut String) {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            s.insert(0, '\'');
        }
    }
    for s in [
        &mut c.endpoint_slug,
        &mut c.path,
        &mut c.remote_addr,
        &mut c.method,
    ] {
        defuse(s);
    }
    for s in [&mut c.code, &mut c.token_name, &mut c.user_agent]
        .into_iter()
        .flatten()
    {
        defuse(s);
    }
    c
}
