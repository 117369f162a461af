//! Exports of the calls matching a filter, as CSV or NDJSON, newest first, with
//! their payloads: streamed from a keyset cursor in constant memory, for any size.
//!
//! A producer on a blocking thread reads a page of calls, then their payloads in
//! groups that stay under [`PAYLOAD_BUDGET`] bytes, writes rows into chunks of
//! [`CHUNK`] bytes and hands them to the response through a channel of
//! [`CHANNEL`] chunks. A client that stops reading stops the producer when the
//! channel is full; one that disconnects drops the channel, and the producer stops
//! at its next chunk (its query ends with it). Exports read from the pool, never
//! through the writer, and at most `max_exports` run at once.

use std::collections::HashMap;
use std::io::{self, Write};

use actix_web::web::Bytes;
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use utoipa::IntoParams;

use super::filter::{self, CallQuery, Syntax};
use crate::db::DbPool;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store;
use crate::store::calls::{Call, CallFilter};

/// Calls read per query.
const PAGE: i64 = 1000;
/// Payload bytes read per query (one payload larger than this is read alone).
const PAYLOAD_BUDGET: i64 = 8 << 20;
/// Bytes per chunk of the response.
const CHUNK: usize = 64 << 10;
/// Chunks waiting for the client.
const CHANNEL: usize = 4;
/// What a client refused for the concurrency limit is told to wait, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportParams {
    /// `csv` (default) or `ndjson`.
    format: Option<String>,
    /// CSV: add a `data` column with each call's payload as sent (NDJSON always
    /// carries `data`).
    data: Option<bool>,
    /// Stop after this many calls; without it, every matching call is exported.
    limit: Option<i64>,
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
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

/// An export as asked: which calls, how written, how many at most.
#[derive(Debug, Clone)]
pub struct Export {
    pub filter: CallFilter,
    pub format: Format,
    /// Payloads included (always for NDJSON).
    pub with_data: bool,
    pub limit: Option<u64>,
}

/// Reads an export's query: the viewer's filters, `format`, `data` and `limit`.
pub fn parse(query: &str, syntax: Syntax) -> AppResult<Export> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| AppError::validation("query", "the query string is malformed"))?;
    let (own, filters): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(k, _)| matches!(k.as_str(), "format" | "data" | "limit"));
    let q: CallQuery = filter::parse_pairs(filters, syntax)?;
    let mut export = Export {
        filter: q.filter,
        format: Format::Csv,
        with_data: false,
        limit: None,
    };
    for (k, v) in own {
        match (k.as_str(), v.as_str()) {
            ("format", "csv") => export.format = Format::Csv,
            ("format", "ndjson") => export.format = Format::Ndjson,
            ("format", _) => return Err(AppError::validation("format", "must be csv or ndjson")),
            ("data", "true") => export.with_data = true,
            ("data", "false") => export.with_data = false,
            ("data", _) => return Err(AppError::validation("data", "must be true or false")),
            (_, n) => {
                // The document says int64: a number past it is refused, not wrapped.
                let n = n.parse::<i64>().ok().filter(|n| *n > 0).map(|n| n as u64);
                export.limit = Some(n.ok_or_else(|| {
                    AppError::validation("limit", "must be a positive whole number")
                })?);
            }
        }
    }
    export.with_data |= export.format == Format::Ndjson;
    Ok(export)
}

/// A place among the running exports, or `429` while `max_exports` run.
pub fn admit(state: &AppState) -> AppResult<OwnedSemaphorePermit> {
    state
        .exports
        .clone()
        .try_acquire_owned()
        .map_err(|_| AppError::RateLimited {
            retry_after_secs: RETRY_AFTER_SECS,
            reason: "as many exports as allowed are running",
        })
}

/// The export's body, produced while the client reads it.
pub fn stream(
    state: &AppState,
    export: Export,
    permit: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHANNEL);
    let (pool, on_replica) = crate::replica::viewer_pool(state);
    let metrics = state.metrics.clone();
    metrics.viewer_read(on_replica);
    let producer = std::thread::Builder::new().name("portico-export".into());
    let started = producer.spawn(move || {
        // An export is background work: under load the CPU goes to ingest first.
        crate::threads::lower_priority();
        let running = (permit, metrics.export_started());
        let mut sink = Sink {
            buf: Vec::with_capacity(CHUNK),
            tx,
        };
        let outcome = produce(&pool, &metrics, &export, &mut sink).and_then(|()| sink.flush());
        match outcome {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                tracing::info!("export stopped: the client went away")
            }
            Err(e) => {
                tracing::error!(error = %e, "export failed");
                let _ = sink.tx.blocking_send(Err(e));
            }
        }
        // The export is over (its place free, the gauge down) before its client sees
        // the body end: a client that reads to the end then sees neither still held.
        drop(running);
        drop(sink);
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "could not start an export thread");
    }
    futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item.map_err(actix_web::error::ErrorInternalServerError), rx))
    })
}

/// Chunks of the response: bytes gather until a chunk is full, then wait in the
/// channel for the client.
struct Sink {
    buf: Vec<u8>,
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

fn db_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("reading calls: {e}"))
}

/// Writes every call of `export`, page by page.
fn produce(pool: &DbPool, metrics: &Metrics, export: &Export, sink: &mut Sink) -> io::Result<()> {
    let mut conn = pool.get().map_err(db_error)?;
    let mut rows = Rows::new(export, sink);
    let mut left = export.limit.unwrap_or(u64::MAX);
    let mut cursor = None;
    let mut spans = store::records_by_id::Spans::default();
    while left > 0 {
        let want = i64::try_from(left).unwrap_or(i64::MAX).min(PAGE);
        let page = store::calls::page(&mut conn, &export.filter, cursor, want).map_err(db_error)?;
        cursor = page.last().map(|c| c.id);
        let n = page.len() as u64;
        if export.with_data {
            write_with_payloads(&mut conn, &mut spans, page, &mut rows)?;
        } else {
            for call in page {
                rows.write(call, None)?;
            }
        }
        metrics.exported_rows(n);
        left = left.saturating_sub(n);
        if n < want as u64 {
            break;
        }
    }
    rows.finish()
}

/// Writes `page` with its payloads, read in groups under the budget.
fn write_with_payloads(
    conn: &mut crate::db::DbConn,
    spans: &mut store::records_by_id::Spans,
    page: Vec<Call>,
    rows: &mut Rows<'_>,
) -> io::Result<()> {
    let ids: Vec<i64> = page.iter().filter_map(|c| c.record_id).collect();
    let sizes: HashMap<i64, i64> = store::records::sizes(conn, spans, &ids)
        .map_err(db_error)?
        .into_iter()
        .collect();
    let mut group: Vec<Call> = Vec::new();
    let mut group_bytes = 0;
    for call in page {
        let size = call
            .record_id
            .and_then(|r| sizes.get(&r))
            .copied()
            .unwrap_or(0);
        if !group.is_empty() && group_bytes + size > PAYLOAD_BUDGET {
            flush_group(conn, spans, std::mem::take(&mut group), rows)?;
            group_bytes = 0;
        }
        group_bytes += size;
        group.push(call);
    }
    flush_group(conn, spans, group, rows)
}

fn flush_group(
    conn: &mut crate::db::DbConn,
    spans: &mut store::records_by_id::Spans,
    group: Vec<Call>,
    rows: &mut Rows<'_>,
) -> io::Result<()> {
    let ids: Vec<i64> = group.iter().filter_map(|c| c.record_id).collect();
    let mut data: HashMap<i64, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        store::records::data_of(conn, spans, &ids)
            .map_err(db_error)?
            .into_iter()
            .collect()
    };
    for call in group {
        let payload = call.record_id.and_then(|r| data.remove(&r));
        rows.write(call, payload)?;
    }
    Ok(())
}

/// The CSV `data` column beside a call's own.
#[derive(Serialize)]
struct Payload {
    data: Option<String>,
}

/// Rows in the export's format.
enum Rows<'a> {
    Csv(Box<csv::Writer<&'a mut Sink>>, bool),
    Ndjson(&'a mut Sink, Vec<u8>),
}

impl<'a> Rows<'a> {
    fn new(export: &Export, sink: &'a mut Sink) -> Self {
        match export.format {
            Format::Csv => Rows::Csv(Box::new(csv::Writer::from_writer(sink)), export.with_data),
            Format::Ndjson => Rows::Ndjson(sink, Vec::with_capacity(1024)),
        }
    }

    fn write(&mut self, call: Call, payload: Option<String>) -> io::Result<()> {
        match self {
            Rows::Csv(w, false) => w.serialize(defuse_formulas(call)),
            Rows::Csv(w, true) => {
                let data = payload.map(|mut d| {
                    defuse(&mut d);
                    d
                });
                w.serialize((defuse_formulas(call), Payload { data }))
            }
            Rows::Ndjson(sink, line) => return ndjson_line(sink, line, &call, payload.as_deref()),
        }
        .map_err(csv_io)
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Rows::Csv(mut w, _) => w.flush(),
            Rows::Ndjson(..) => Ok(()),
        }
    }
}

/// A CSV error as the I/O error it is (a client gone stays a broken pipe).
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// `{...the call..., "data": <the payload as sent>}` and a newline.
fn ndjson_line(
    sink: &mut Sink,
    line: &mut Vec<u8>,
    call: &Call,
    data: Option<&str>,
) -> io::Result<()> {
    line.clear();
    serde_json::to_writer(&mut *line, call).map_err(io::Error::other)?;
    line.pop(); // the object's closing brace
    line.extend_from_slice(b",\"data\":");
    // Stored as received, and valid JSON (checked when it was posted): passed on byte for byte.
    line.extend_from_slice(data.unwrap_or("null").as_bytes());
    line.extend_from_slice(b"}\n");
    sink.write_all(line)
}

/// Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a
/// formula; caller-supplied cells so starting are prefixed with `'` (OWASP's CSV
/// injection advice).
fn defuse(s: &mut String) {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        s.insert(0, '\'');
    }
}

fn defuse_formulas(mut c: Call) -> Call {
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
