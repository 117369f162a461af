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
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `pool`. It ends when every handle is dropped.
    pub fn start(pool: DbPool) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("portico-writer".into())
            .spawn(move || run(pool, jobs))
            .expect("start the writer thread");
        Self { queue }
    }

    /// Runs `f` in the next batch under a savepoint and returns its result once the
    /// batch has committed. If `f` fails, its savepoint is rolled back and its error
    /// returned; if the commit fails, every job of the batch gets `503`.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.write_touching(None, f).await
    }

    /// As [`Writer::write`], and marks `touch` used in the same transaction.
    pub async fn write_touching<T, F>(&self, touch: Touch, f: F) -> AppResult<T>
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
        self.send(Job::Write(work, touch)).await?;
        rx.await.map_err(|_| AppError::Unavailable)?
    }

    /// Writes a call-log row (and marks `touch` used) with the next batch; returns
    /// once it is committed.
    pub async fn log_call(&self, call: NewCall, touch: Touch) -> AppResult<()> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Call(Box::new(call), touch, tx)).await?;
        rx.await.map_err(|_| AppError::Unavailable)?
    }

    async fn send(&self, job: Job) -> AppResult<()> {
        self.queue.send(job).await.map_err(|_| {
            tracing::error!("the writer thread is gone");
            AppError::Unavailable
        })
    }
}

fn run(pool: DbPool, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut open = OpenRows::new();
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&pool, &mut batch, &mut open);
    }
}

/// Runs one batch in one transaction and answers its jobs.
fn commit(pool: &DbPool, batch: &mut Vec<Job>, open: &mut OpenRows) {
    if open.len() > MAX_OPEN_ROWS {
        open.clear();
    }
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
            write_calls(conn, calls, open)?;
            for (credential, at) in touches {
                match credential {
                    Credential::Token(id) => store::tokens::touch(conn, id, at)?,
                    Credential::Primary(id) => store::endpoints::touch_primary(conn, id, at)?,
                };
            }
            Ok::<_, AppError>(())
        }),
    };
    // A batch that could not start drops its jobs: their handlers answer 503.
    batch.clear();
    let failed = outcome.err();
    if failed.is_some() {
        // Rows inserted by the failed batch were rolled back.
        open.clear();
    }
    for finish in finishers {
        finish(failed.as_ref());
    }
}

/// Inserts the batch's call rows, folding repeated refused calls into open rows.
fn write_calls(conn: &mut DbConn, calls: Vec<NewCall>, open: &mut OpenRows) -> AppResult<()> {
    // Row id → (calls folded in, request bytes, response bytes).
    let mut folded: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    for call in calls {
        let Some(key) = FoldKey::of(&call) else {
            store::calls::insert(conn, &call)?;
            continue;
        };
        match open.get(&key) {
            Some(&(id, first)) if call.at >= first && call.at - first < FOLD_WINDOW => {
                let f = folded.entry(id).or_default();
                f.0 += 1;
                f.1 += call.request_bytes;
                f.2 += call.response_bytes;
            }
            _ => {
                let id = store::calls::insert(conn, &call)?;
                open.insert(key, (id, call.at));
            }
        }
    }
    for (id, (repeats, request_bytes, response_bytes)) in folded {
        store::calls::add_repeats(conn, id, repeats, request_bytes, response_bytes)?;
    }
    Ok(())
}
