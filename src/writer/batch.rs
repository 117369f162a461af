//! One batch: bulk inserts for records and call rows, savepointed work, credential
//! marks, one commit; and, when the bulk part fails, each job again on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use tokio::sync::oneshot;

use super::{Credential, Finish, Job, Lane, NewRecord, Touch, Work};
use crate::calls::fold::{self, Placement};
use crate::db::{DbConn, Durability};
use crate::domain::token::LAST_USED_PRECISION;
use crate::error::{AppError, AppResult};
use crate::store;
use crate::store::calls::Call;
use crate::store::ids::Numbered;
use crate::store::records::NewRecord as RecordRow;

type RecordJob = (Box<NewRecord>, oneshot::Sender<AppResult<i64>>);
type CallJob = (Vec<Call>, oneshot::Sender<AppResult<Vec<i64>>>);
type RepeatsJob = (Vec<(i64, i64, i64, i64)>, oneshot::Sender<AppResult<()>>);

/// A batch's jobs by kind.
#[derive(Default)]
struct Sorted {
    writes: Vec<Work>,
    records: Vec<RecordJob>,
    calls: Vec<CallJob>,
    /// The row ids of each call job, once placed.
    landed: Vec<Vec<i64>>,
    repeats: Vec<RepeatsJob>,
    /// The order records and calls came in (their rows are numbered in it).
    order: Vec<Bulk>,
    touches: HashMap<Credential, NaiveDateTime>,
}

/// A bulk job by its place in `records` or `calls`.
#[derive(Clone, Copy)]
enum Bulk {
    Record(usize),
    Calls(usize),
}

fn sort(jobs: Vec<Job>) -> Sorted {
    let mut s = Sorted::default();
    for job in jobs {
        let touch = match job {
            Job::Write(work, touch) => {
                s.writes.push(work);
                touch
            }
            Job::Record(record, done) => {
                let touch = record.touch;
                s.order.push(Bulk::Record(s.records.len()));
                s.records.push((record, done));
                touch
            }
            Job::Calls(calls, touch, _, done) => {
                s.order.push(Bulk::Calls(s.calls.len()));
                s.calls.push((calls, done));
                touch
            }
            Job::Repeats(repeats, done) => {
                s.repeats.push((repeats, done));
                None
            }
        };
        if let Some((credential, at)) = touch {
            let last = s.touches.entry(credential).or_insert(at);
            *last = (*last).max(at);
        }
    }
    s
}

/// Commits `jobs` as `durability` says and answers them; how many refused calls
/// were counted on earlier rows.
pub(super) fn commit(lane: &Lane, jobs: Vec<Job>, durability: Durability) -> u64 {
    let mut sorted = sort(jobs);
    let waited = std::time::Instant::now();
    let conn = lane.pool.get();
    lane.metrics.pool_wait(waited.elapsed());
    let mut conn = match conn {
        Ok(conn) => conn,
        Err(e) => {
            tracing::error!(error = %e, "the writer could not get a database connection");
            fail_all(sorted);
            return 0;
        }
    };
    let mut folding = fold::Batch::new(&lane.open);
    let mut finishers: Vec<Finish> = Vec::new();
    let mut bulk_done = false;
    let outcome = conn.write_transaction_as(durability, lane.sqlite_sync, |conn| {
        let ids = bulk(conn, &mut sorted, &mut folding)?;
        bulk_done = true;
        for work in sorted.writes.drain(..) {
            finishers.push(work(conn));
        }
        lane.marked.due(&mut sorted.touches);
        touch_all(conn, &sorted.touches)?;
        Ok::<_, AppError>(ids)
    });
    match outcome {
        Ok(ids) => {
            lane.marked.written(&sorted.touches);
            let folded = folding.folded();
            folding.publish();
            for ((_, done), id) in sorted.records.into_iter().zip(ids) {
                let _ = done.send(Ok(id));
            }
            for ((_, done), landed) in sorted.calls.into_iter().zip(sorted.landed) {
                let _ = done.send(Ok(landed));
            }
            for (_, done) in sorted.repeats {
                let _ = done.send(Ok(()));
            }
            finishers.into_iter().for_each(|f| f(None));
            folded
        }
        Err(e) if !bulk_done && !matches!(e, AppError::Unavailable) => {
            tracing::warn!(error = %e, jobs = sorted.records.len() + sorted.calls.len(), "a batch failed: its jobs run one by one");
            one_by_one(lane, &mut conn, sorted, durability);
            0
        }
        Err(e) => {
            finishers.into_iter().for_each(|f| f(Some(&e)));
            fail_all(sorted);
            0
        }
    }
}

/// Inserts the records (ids reserved once) and the call rows (the records' own, and
/// the others as folding places them), numbered in the order the jobs came; the
/// records' ids, in order.
fn bulk(conn: &mut DbConn, sorted: &mut Sorted, folding: &mut fold::Batch) -> AppResult<Vec<i64>> {
    let records = &mut sorted.records;
    let ids = store::ids::reserve(conn, Numbered::Records, records.len())?;
    let rows: Vec<RecordRow<'_>> = records
        .iter()
        .zip(&ids)
        .map(|((r, _), id)| RecordRow {
            id: *id,
            endpoint_id: r.endpoint_id,
            received_at: r.received_at,
            data: &r.data,
        })
        .collect();
    store::records::insert_many(conn, &rows)?;
    let n_calls: usize = sorted.calls.iter().map(|(c, _)| c.len()).sum();
    let mut call_ids =
        store::ids::reserve(conn, Numbered::Calls, records.len() + n_calls)?.into_iter();
    let mut rows: Vec<Call> = Vec::with_capacity(records.len() + n_calls);
    for job in &sorted.order {
        match *job {
            Bulk::Record(i) => {
                let r = &mut records[i].0;
                complete_call(r, ids[i]);
                r.call.id = call_ids.next().ok_or(AppError::Internal)?;
                rows.push(r.call.clone());
            }
            Bulk::Calls(i) => {
                let mut landed = Vec::with_capacity(sorted.calls[i].0.len());
                for call in &sorted.calls[i].0 {
                    let id = match folding.place(call) {
                        Placement::Folded(id) => id,
                        Placement::Insert => {
                            let id = call_ids.next().ok_or(AppError::Internal)?;
                            folding.inserted(call, id);
                            rows.push(Call { id, ..call.clone() });
                            id
                        }
                    };
                    landed.push(id);
                }
                sorted.landed.push(landed);
            }
        }
    }
    store::calls::insert_many(conn, &rows)?;
    let counted = sorted.repeats.iter().flat_map(|(r, _)| r.iter().copied());
    let mut all: Vec<(i64, i64, i64, i64)> = folding.repeats().into_iter().chain(counted).collect();
    all.sort_unstable_by_key(|r| r.0);
    for (id, repeats, request_bytes, response_bytes) in all {
        store::calls::add_repeats(conn, id, repeats, request_bytes, response_bytes)?;
    }
    Ok(ids)
}

/// When each credential's `last_used_at` was last written (by this process), so a
/// busy credential costs an `UPDATE` once per [`LAST_USED_PRECISION`], not per batch.
#[derive(Clone, Default)]
pub(super) struct Marked(Arc<Mutex<HashMap<Credential, NaiveDateTime>>>);

/// Credentials remembered at most (beyond, the oldest marks are forgotten: at worst
/// a credential is marked again early).
const MAX_MARKED: usize = 100_000;

impl Marked {
    /// Keeps in `touches` only the credentials whose mark is due.
    fn due(&self, touches: &mut HashMap<Credential, NaiveDateTime>) {
        let marked = self.0.lock().unwrap_or_else(|e| e.into_inner());
        touches.retain(|c, at| {
            marked
                .get(c)
                .is_none_or(|m| *at - *m >= LAST_USED_PRECISION)
        });
    }

    /// `touches` are committed.
    fn written(&self, touches: &HashMap<Credential, NaiveDateTime>) {
        let mut marked = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(latest) = touches.values().max().copied() {
            if marked.len() + touches.len() > MAX_MARKED {
                marked.retain(|_, m| latest - *m < LAST_USED_PRECISION);
            }
        }
        marked.extend(touches.iter().map(|(c, at)| (*c, *at)));
    }
}

/// Marks the batch's credentials used: one statement per table, at the latest use.
fn touch_all(conn: &mut DbConn, touches: &HashMap<Credential, NaiveDateTime>) -> AppResult<()> {
    let Some(at) = touches.values().max().copied() else {
        return Ok(());
    };
    let (mut tokens, mut primaries) = (Vec::new(), Vec::new());
    for credential in touches.keys() {
        match credential {
            Credential::Token(id) => tokens.push(*id),
            Credential::Primary(id) => primaries.push(*id),
        }
    }
    store::touch_credentials(conn, store::TouchTable::Tokens, &tokens, at)?;
    store::touch_credentials(conn, store::TouchTable::PrimaryTokens, &primaries, at)?;
    Ok(())
}

fn touch_one(conn: &mut DbConn, touch: Touch) -> AppResult<()> {
    let mut touches = HashMap::new();
    if let Some((credential, at)) = touch {
        touches.insert(credential, at);
    }
    touch_all(conn, &touches)
}

/// The call row of `record`, now that it is stored as record `id`.
fn complete_call(record: &mut NewRecord, id: i64) {
    record.call.record_id = Some(id);
    record.call.response_bytes = (record.response_bytes)(id);
    record.call.duration_us =
        i64::try_from(record.started.elapsed().as_micros()).unwrap_or(i64::MAX);
}

/// One record with its call row and mark, on its own.
fn store_one(conn: &mut DbConn, record: &mut NewRecord) -> AppResult<i64> {
    let id = store::ids::reserve(conn, Numbered::Records, 1)?[0];
    let row = RecordRow {
        id,
        endpoint_id: record.endpoint_id,
        received_at: record.received_at,
        data: &record.data,
    };
    store::records::insert_many(conn, std::slice::from_ref(&row))?;
    complete_call(record, id);
    store::calls::insert(conn, &record.call)?;
    touch_one(conn, record.touch)?;
    Ok(id)
}

/// After a failed bulk insert: each record and call row in its own transaction (the
/// culprit alone fails), then the savepointed work in one more.
fn one_by_one(lane: &Lane, conn: &mut DbConn, sorted: Sorted, durability: Durability) {
    let sync = lane.sqlite_sync;
    for (mut record, done) in sorted.records {
        let outcome =
            conn.write_transaction_as(durability, sync, |conn| store_one(conn, &mut record));
        let _ = done.send(outcome);
    }
    for (calls, done) in sorted.calls {
        let outcome = conn.write_transaction_as(durability, sync, |conn| {
            let mut landed = Vec::with_capacity(calls.len());
            for call in &calls {
                landed.push(store::calls::insert(conn, call)?);
            }
            Ok::<_, AppError>(landed)
        });
        let _ = done.send(outcome);
    }
    for (repeats, done) in sorted.repeats {
        let outcome = conn.write_transaction_as(durability, sync, |conn| {
            for (id, n, req, res) in repeats {
                store::calls::add_repeats(conn, id, n, req, res)?;
            }
            Ok::<_, AppError>(())
        });
        let _ = done.send(outcome);
    }
    if sorted.writes.is_empty() {
        return;
    }
    let mut finishers = Vec::new();
    let outcome = conn.write_transaction_as(durability, sync, |conn| {
        for work in sorted.writes {
            finishers.push(work(conn));
        }
        Ok::<_, AppError>(())
    });
    let failed = outcome.err();
    finishers.into_iter().for_each(|f| f(failed.as_ref()));
}

/// Answers every job of `sorted` with `503` (the database is away).
fn fail_all(sorted: Sorted) {
    for (_, done) in sorted.records {
        let _ = done.send(Err(AppError::Unavailable));
    }
    for (_, done) in sorted.calls {
        let _ = done.send(Err(AppError::Unavailable));
    }
    for (_, done) in sorted.repeats {
        let _ = done.send(Err(AppError::Unavailable));
    }
    // Savepointed work that never ran: its handlers hear the channel close (503).
    drop(sorted.writes);
}
