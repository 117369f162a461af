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
//! Refused calls that repeat are folded into one row as `crate::calls::fold`
//! decides; the writer only executes its decisions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::calls::fold::{self, OpenRows, Placement};
use crate::db::{DbConn, DbPool};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::store;
use crate::store::calls::Call;

/// The most jobs one transaction takes.
pub const MAX_BATCH: usize = 1024;
/// How many jobs may wait before senders wait too (back pressure).
const QUEUE: usize = 16 * 1024;
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
    Call(Box<Call>, Touch, oneshot::Sender<AppResult<()>>),
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
    pub fn start(pool: DbPool, ingest_writers: usize, metrics: Metrics) -> Self {
        let (management, jobs) = mpsc::channel(QUEUE);
        let lane = |name: &'static str, jobs| Lane {
            name,
            jobs: Arc::new(Mutex::new(jobs)),
            open: OpenRows::default(),
            pool: pool.clone(),
            metrics: metrics.clone(),
        };
        if ingest_writers <= 1 {
            spawn("portico-writer", lane("all", jobs));
            return Self {
                ingest: management.clone(),
                management,
            };
        }
        spawn("portico-writer-mgmt", lane("management", jobs));
        let (ingest, jobs) = mpsc::channel(QUEUE);
        let shared = lane("ingest", jobs);
        for n in 0..ingest_writers {
            spawn(&format!("portico-writer-{n}"), shared.clone());
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
    pub async fn log_call(&self, call: Call, touch: Touch) -> AppResult<()> {
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

/// A queue of jobs and what the threads that take from it share.
#[derive(Clone)]
struct Lane {
    name: &'static str,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    /// Call rows open for folding, shared by the lane's writers.
    open: OpenRows,
    pool: DbPool,
    metrics: Metrics,
}

fn spawn(name: &str, lane: Lane) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(lane))
        .expect("start a writer thread");
}

/// Takes what has queued up (threads sharing a lane take turns), commits it, repeats.
fn run(lane: Lane) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut jobs = lane.jobs.lock().unwrap_or_else(|e| e.into_inner());
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
            lane.metrics.writer_queue(lane.name, jobs.len());
        }
        let (jobs, started) = (batch.len(), std::time::Instant::now());
        let folded = commit(&lane, &mut batch);
        lane.metrics.writer_batch(jobs, started.elapsed(), folded);
    }
}

/// Runs one batch in one transaction and answers its jobs; how many refused calls
/// were folded into earlier rows.
fn commit(lane: &Lane, batch: &mut Vec<Job>) -> u64 {
    let mut folding = fold::Batch::new(&lane.open);
    let mut finishers: Vec<Finish> = Vec::new();
    let waited = std::time::Instant::now();
    let conn = lane.pool.get();
    lane.metrics.pool_wait(waited.elapsed());
    let outcome = match conn {
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
            write_calls(conn, &calls, &mut folding)?;
            touch_all(conn, &touches)?;
            Ok::<_, AppError>(())
        }),
    };
    // A batch that could not start drops its jobs: their handlers answer 503.
    batch.clear();
    let failed = outcome.err();
    let folded = folding.folded();
    if failed.is_none() {
        folding.publish();
    }
    for finish in finishers {
        finish(failed.as_ref());
    }
    if failed.is_none() {
        folded
    } else {
        0
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

/// Inserts the batch's call rows and counts folded repeats, as `folding` decides.
fn write_calls(conn: &mut DbConn, calls: &[Call], folding: &mut fold::Batch) -> AppResult<()> {
    for call in calls {
        if folding.place(call) == Placement::Insert {
            let id = store::calls::insert(conn, call)?;
            folding.inserted(call, id);
        }
    }
    for (id, repeats, request_bytes, response_bytes) in folding.repeats() {
        store::calls::add_repeats(conn, id, repeats, request_bytes, response_bytes)?;
    }
    Ok(())
}
