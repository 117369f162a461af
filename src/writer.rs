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
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&pool, &mut batch);
    }
}

/// Runs one batch in one transaction and answers its jobs.
fn commit(pool: &DbPool, batch: &mut Vec<Job>) {
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
            for call in &calls {
                store::calls::insert(conn, call)?;
            }
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
    for finish in finishers {
        finish(failed.as_ref());
    }
}
