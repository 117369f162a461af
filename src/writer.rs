//! Group commit: one writer thread owns the hot path's writes.
//!
//! Handlers hand it work and wait; it takes everything that has queued up (up to
//! [`MAX_BATCH`] jobs), runs it in one transaction — each job under its own savepoint,
//! so a job that fails leaves nothing behind and does not disturb the others — commits
//! once, and only then answers each waiting handler. A `201` is therefore sent after its
//! record is durable (SQLite `synchronous = FULL`, PostgreSQL's commit), while many
//! requests share one disk flush.
//!
//! Call-log rows are written the same way: the response to a call is sent once its row
//! is committed, so the data viewer never misses a call that was answered, and a flood
//! of requests costs one flush per batch, not one per request. `last_used_at` marks
//! ride along with a job; the marks of one credential in a batch become one `UPDATE`.
//!
//! Refused calls that repeat — same endpoint, method, path, status, code, credential,
//! address and user agent within [`FOLD_WINDOW`] of the row's first call — are folded
//! into that row (`repeats`), so a flood of denied requests costs an `UPDATE` per
//! batch instead of a row per request, and cannot fill the disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::db::{DbConn, DbPool};
use crate::error::{AppError, AppResult};
use crate::store;
use crate::store::calls::NewCall;

/// The most jobs one transaction takes.
pub const MAX_BATCH: usize = 1024;
/// How many jobs may wait before senders wait too (back pressure).
const QUEUE: usize = 16 * 1024;
/// Refused calls this close to the first of their kind share its row.
pub const FOLD_WINDOW: chrono::TimeDelta = chrono::TimeDelta::seconds(1);
/// Rows open for folding that the writer remembers (beyond, it starts over).
const MAX_OPEN_ROWS: usize = 10_000;

/// What makes refused calls the same for folding.
#[derive(PartialEq, Eq, Hash)]
struct FoldKey {
    endpoint_id: Option<i64>,
    endpoint_slug: String,
    method: String,
    path: String,
    status: i32,
    code: Option<String>,
    token_kind: String,
    token_id: Option<i64>,
    remote_addr: String,
    user_agent: Option<String>,
}

impl FoldKey {
    /// Refused calls that stored nothing fold; everything else gets its own row.
    fn of(call: &NewCall) -> Option<Self> {
        (call.status >= 400 && call.record_id.is_none()).then(|| Self {
            endpoint_id: call.endpoint_id,
            endpoint_slug: call.endpoint_slug.clone(),
            method: call.method.clone(),
            path: call.path.clone(),
            status: call.status,
            code: call.code.clone(),
            token_kind: call.token_kind.clone(),
            token_id: call.token_id,
            remote_addr: call.remote_addr.clone(),
            user_agent: call.user_agent.clone(),
        })
    }
}

/// Call rows still open for folding: key → (row id, time of its first call).
type OpenRows = HashMap<FoldKey, (i64, NaiveDateTime)>;
/// Committed open rows, shared by the writers of a lane.
type SharedOpenRows = Arc<Mutex<OpenRows>>;

/// A job's answer, delivered once the batch's fate is known: `None` when it committed.
type Finish = Box<dyn FnOnce(Option<&AppError>) + Send>;
type Work = Box<dyn FnOnce(&mut DbConn) -> Finish + Send>;

/// Which credential a request used, to mark `last_used_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    Token(i64),
    Primary(i64),
}

/// A credential to mark used, and when.
pub type Touch = Option<(Credential, NaiveDateTime)>;

enum Job {
    Write(Work, Touch),
    Call(Box<NewCall>, Touch, oneshot::Sender<AppResult<()>>),
}

/// The handle handlers use; cheap to clone.
///
/// There are two lanes. Changes to endpoints, tokens and mappings go to one writer,
/// one batch at a time, so they never wait on each other. Ingest work (records, call
/// rows, marks) goes to the ingest writers: on SQLite, which has one writer anyway,
/// that is the same thread; on PostgreSQL, [`PG_INGEST_WRITERS`] threads commit
/// batches side by side, since there a batch costs round trips more than flushes.
#[derive(Clone)]
pub struct Writer {
    management: mpsc::Sender<Job>,
    ingest: mpsc::Sender<Job>,
}

/// Ingest writer threads on PostgreSQL.
pub const PG_INGEST_WRITERS: usize = 4;

impl Writer {
    /// Starts the writer threads on `pool`; `ingest_writers` is 1 for SQLite. They end
    /// when every handle is dropped.
    pub fn start(pool: DbPool, ingest_writers: usize) -> Self {
        let (management, jobs) = mpsc::channel(QUEUE);
        if ingest_writers <= 1 {
            spawn(
                "portico-writer",
                pool,
                Arc::new(Mutex::new(jobs)),
                Arc::default(),
            );
            return Self {
                ingest: management.clone(),
                management,
            };
        }
        let mgmt_jobs = Arc::new(Mutex::new(jobs));
        spawn(
            "portico-writer-mgmt",
            pool.clone(),
            mgmt_jobs,
            Arc::default(),
        );
        let (ingest, jobs) = mpsc::channel(QUEUE);
        let (shared, open) = (Arc::new(Mutex::new(jobs)), SharedOpenRows::default());
        for n in 0..ingest_writers {
            let name = format!("portico-writer-{n}");
            spawn(&name, pool.clone(), shared.clone(), open.clone());
        }
        Self { management, ingest }
    }

    /// Runs `f` (a change to endpoints, tokens or mappings) in the next batch under a
    /// savepoint and returns its result once the batch has committed. If `f` fails,
    /// its savepoint is rolled back and its error returned; if the commit fails, every
    /// job of the batch gets `503`.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.submit(&self.management, None, f).await
    }

    /// As [`Writer::write`] for ingest work, marking `touch` used with the batch.
    pub async fn write_touching<T, F>(&self, touch: Touch, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.submit(&self.ingest, touch, f).await
    }

    async fn submit<T, F>(&self, lane: &mpsc::Sender<Job>, touch: Touch, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let work: Work = Box::new(move |conn: &mut DbConn| {
            let outcome = conn.write_transaction(f);
            Box::new(move |failed: Option<&AppError>| {
                let answer = match (failed, outcome) {
                    // The job's own failure was rolled back with its savepoint: it stands.
                    (_, Err(e)) => Err(e),
                    (Some(_), Ok(_)) => Err(AppError::Unavailable),
                    (None, Ok(v)) => Ok(v),
                };
                let _ = tx.send(answer);
            }) as Finish
        });
        send(lane, Job::Write(work, touch)).await?;
        rx.await.map_err(|_| AppError::Unavailable)?
    }

    /// Writes a call-log row (and marks `touch` used) with the next batch; returns
    /// once it is committed.
    pub async fn log_call(&self, call: NewCall, touch: Touch) -> AppResult<()> {
        let (tx, rx) = oneshot::channel();
        send(&self.ingest, Job::Call(Box::new(call), touch, tx)).await?;
        rx.await.map_err(|_| AppError::Unavailable)?
    }
}

async fn send(lane: &mpsc::Sender<Job>, job: Job) -> AppResult<()> {
    lane.send(job).await.map_err(|_| {
        tracing::error!("the writer thread is gone");
        AppError::Unavailable
    })
}

type Jobs = Arc<Mutex<mpsc::Receiver<Job>>>;

fn spawn(name: &str, pool: DbPool, jobs: Jobs, open: SharedOpenRows) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(pool, jobs, open))
        .expect("start a writer thread");
}

/// Takes what has queued up (threads sharing a lane take turns), commits it, repeats.
fn run(pool: DbPool, jobs: Jobs, open: SharedOpenRows) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut jobs = jobs.lock().unwrap_or_else(|e| e.into_inner());
            let Some(first) = jobs.blocking_recv() else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        commit(&pool, &mut batch, &open);
    }
}

/// Runs one batch in one transaction and answers its jobs.
fn commit(pool: &DbPool, batch: &mut Vec<Job>, open: &SharedOpenRows) {
    // Rows this batch opens; other writers may fold into them once it has committed.
    let mut opened = OpenRows::new();
    let mut finishers: Vec<Finish> = Vec::new();
    let outcome = match pool.get() {
        Err(e) => {
            tracing::error!(error = %e, "the writer could not get a database connection");
            Err(AppError::Unavailable)
        }
        Ok(mut conn) => conn.write_transaction(|conn| {
            let mut calls = Vec::new();
            let mut touches: HashMap<Credential, NaiveDateTime> = HashMap::new();
            for job in batch.drain(..) {
                let touch = match job {
                    Job::Write(work, touch) => {
                        finishers.push(work(conn));
                        touch
                    }
                    Job::Call(call, touch, done) => {
                        calls.push(*call);
                        finishers.push(Box::new(move |failed: Option<&AppError>| {
                            let _ = done.send(match failed {
                                None => Ok(()),
                                Some(_) => Err(AppError::Unavailable),
                            });
                        }));
                        touch
                    }
                };
                if let Some((credential, at)) = touch {
                    let last = touches.entry(credential).or_insert(at);
                    *last = (*last).max(at);
                }
            }
            write_calls(conn, calls, open, &mut opened)?;
            // One statement per table, at the batch's latest use.
            if let Some(at) = touches.values().max().copied() {
                let (mut tokens, mut primaries) = (Vec::new(), Vec::new());
                for credential in touches.keys() {
                    match credential {
                        Credential::Token(id) => tokens.push(*id),
                        Credential::Primary(id) => primaries.push(*id),
                    }
                }
                store::touch_credentials(conn, store::TouchTable::Tokens, &tokens, at)?;
                store::touch_credentials(conn, store::TouchTable::PrimaryTokens, &primaries, at)?;
            }
            Ok::<_, AppError>(())
        }),
    };
    // A batch that could not start drops its jobs: their handlers answer 503.
    batch.clear();
    let failed = outcome.err();
    if failed.is_none() {
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() + opened.len() > MAX_OPEN_ROWS {
            open.clear();
        }
        open.extend(opened);
    }
    for finish in finishers {
        finish(failed.as_ref());
    }
}

/// Inserts the batch's call rows, folding repeated refused calls into open rows.
fn write_calls(
    conn: &mut DbConn,
    calls: Vec<NewCall>,
    open: &SharedOpenRows,
    opened: &mut OpenRows,
) -> AppResult<()> {
    // Row id → (calls folded in, request bytes, response bytes).
    let mut folded: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    for call in calls {
        let Some(key) = FoldKey::of(&call) else {
            store::calls::insert(conn, &call)?;
            continue;
        };
        let known = opened.get(&key).copied().or_else(|| {
            let open = open.lock().unwrap_or_else(|e| e.into_inner());
            open.get(&key).copied()
        });
        match known {
            Some((id, first)) if call.at >= first && call.at - first < FOLD_WINDOW => {
                let f = folded.entry(id).or_default();
                f.0 += 1;
                f.1 += call.request_bytes;
                f.2 += call.response_bytes;
            }
            _ => {
                let id = store::calls::insert(conn, &call)?;
                opened.insert(key, (id, call.at));
            }
        }
    }
    // In id order, so writers folding into the same rows never wait on each other in a cycle.
    let mut folded: Vec<_> = folded.into_iter().collect();
    folded.sort_unstable_by_key(|(id, _)| *id);
    for (id, (repeats, request_bytes, response_bytes)) in folded {
        store::calls::add_repeats(conn, id, repeats, request_bytes, response_bytes)?;
    }
    Ok(())
}
