//! Group commit: writer threads own every write.
//!
//! Handlers hand them work and wait; a writer takes everything that has queued up
//! (up to [`MAX_BATCH`] jobs), commits it together and only then answers each
//! waiting handler. A `201` is therefore sent after its record is durable (SQLite
//! `synchronous = FULL`, PostgreSQL's commit), while many requests share one flush.
//!
//! Most of the hot path's jobs cannot fail unless the database does: a new record
//! with its call row, an answered call's row. They are written in bulk — ids taken
//! once per batch, one multi-row `INSERT` per table — without a savepoint each; if
//! the batch fails, its jobs run again one by one, so the culprit alone fails and
//! nothing is half-written. Work that can fail on its own (management changes, a
//! POST with an Idempotency-Key, deletes) runs under its own savepoint in the batch.
//!
//! Refused calls' rows commit without waiting for the disk ([`Durability::Relaxed`]):
//! the response still waits for its row's commit, so the viewer never misses an
//! answered call, but a power cut can lose the last moments of refusal counts
//! (never an accepted call's row or a record). Repeats fold into one row as
//! `crate::calls::fold` decides; `last_used_at` marks become one `UPDATE` per batch.

mod batch;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::calls::fold::OpenRows;
use crate::db::{DbConn, DbPool, Durability, SqliteSync};
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::store::calls::Call;

/// The most jobs one transaction takes.
pub const MAX_BATCH: usize = 1024;
/// How many jobs may wait before senders wait too (back pressure).
const QUEUE: usize = 16 * 1024;
/// Ingest writer threads on PostgreSQL.
pub const PG_INGEST_WRITERS: usize = 4;

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

/// A new record and the row of the call that posted it.
pub struct NewRecord {
    pub endpoint_id: i64,
    pub received_at: NaiveDateTime,
    pub data: String,
    /// Completed with the record id, the response size and the duration.
    pub call: Call,
    pub started: Instant,
    /// The size of the response that answers with record `id`.
    pub response_bytes: Box<dyn Fn(i64) -> i64 + Send>,
    pub touch: Touch,
}

enum Job {
    /// Work that may fail on its own: under its own savepoint.
    Write(Work, Touch),
    /// A record with its call row, answered with the record's id.
    Record(Box<NewRecord>, oneshot::Sender<AppResult<i64>>),
    /// Calls' rows, answered once committed with the row each landed in (its own,
    /// or an open one it was folded into).
    Calls(
        Vec<Call>,
        Touch,
        Durability,
        oneshot::Sender<AppResult<Vec<i64>>>,
    ),
    /// More repeats counted on existing rows: (row id, calls, request bytes,
    /// response bytes). Refusals' counts: relaxed.
    Repeats(Vec<(i64, i64, i64, i64)>, oneshot::Sender<AppResult<()>>),
}

impl Job {
    fn durability(&self) -> Durability {
        match self {
            Job::Calls(_, _, d, _) => *d,
            Job::Repeats(..) => Durability::Relaxed,
            _ => Durability::Durable,
        }
    }
}

/// The handle handlers use; cheap to clone.
///
/// Changes to endpoints, tokens, mappings, users and keys go to the management lane,
/// ingest work to the ingest lane. On SQLite, which has one writer anyway, both are
/// one thread; on PostgreSQL the management lane has its own thread and
/// [`PG_INGEST_WRITERS`] threads commit ingest batches side by side, since there a
/// batch costs round trips more than flushes.
#[derive(Clone)]
pub struct Writer {
    management: mpsc::Sender<Job>,
    ingest: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer threads on `pool` (the writers' own); `ingest_writers` is 1
    /// for SQLite. They end when every handle is dropped.
    pub fn start(pool: DbPool, ingest_writers: usize, metrics: Metrics) -> Self {
        let (management, jobs) = mpsc::channel(QUEUE);
        let sqlite_sync = pool.manager().sqlite_sync();
        let marked = batch::Marked::default();
        let lane = |name: &'static str, jobs| Lane {
            name,
            jobs: Arc::new(Mutex::new(jobs)),
            open: OpenRows::default(),
            pool: pool.clone(),
            metrics: metrics.clone(),
            sqlite_sync,
            marked: marked.clone(),
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

    /// Runs `f` (a management change) in the next batch under a savepoint and
    /// returns its result once the batch has committed. If `f` fails, its savepoint
    /// is rolled back and its error returned; if the commit fails, `503`.
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

    /// Stores `record` and its call row with the next batch; the record's id once
    /// committed.
    pub async fn store_record(&self, record: NewRecord) -> AppResult<i64> {
        let (tx, rx) = oneshot::channel();
        send(&self.ingest, Job::Record(Box::new(record), tx)).await?;
        rx.await.map_err(|_| AppError::Unavailable)?
    }

    /// Writes a call's row (and marks `touch` used) with the next batch; returns once
    /// it is committed, as `durability` says, with the id of the row it landed in.
    pub async fn log_call(
        &self,
        call: Call,
        touch: Touch,
        durability: Durability,
    ) -> AppResult<i64> {
        let (tx, rx) = oneshot::channel();
        send(&self.ingest, Job::Calls(vec![call], touch, durability, tx)).await?;
        let rows = rx.await.map_err(|_| AppError::Unavailable)??;
        rows.first().copied().ok_or(AppError::Internal)
    }

    /// Adds counted repeats to existing rows with the next batch (without waiting for
    /// the disk); returns once committed.
    pub async fn add_repeats(&self, repeats: Vec<(i64, i64, i64, i64)>) -> AppResult<()> {
        let (tx, rx) = oneshot::channel();
        send(&self.ingest, Job::Repeats(repeats, tx)).await?;
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
    sqlite_sync: SqliteSync,
    /// When each credential's `last_used_at` was last written, by any lane.
    marked: batch::Marked,
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
        let (durable, relaxed): (Vec<Job>, Vec<Job>) = batch
            .drain(..)
            .partition(|j| j.durability() == Durability::Durable);
        for (jobs, durability) in [
            (durable, Durability::Durable),
            (relaxed, Durability::Relaxed),
        ] {
            if !jobs.is_empty() {
                let (n, started) = (jobs.len(), Instant::now());
                let folded = batch::commit(&lane, jobs, durability);
                lane.metrics.writer_batch(n, started.elapsed(), folded);
            }
        }
    }
}
