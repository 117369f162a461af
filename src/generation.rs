//! The access generation as a request must see it: a counter every access change
//! raises in its own transaction (`store::access`), read after the request arrived,
//! so a change acknowledged before it is never missed.
//!
//! On PostgreSQL, where any number of instances change it, requests queue up and one
//! query answers a whole round of them. On SQLite one process writes the database
//! (`serve` locks it): the operations of this process publish each new value once it
//! has committed and before they acknowledge it, so readers take it from memory, with
//! no query and no thread hop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::oneshot;

use crate::db::{DatabaseUrl, DbPool};
use crate::error::{AppError, AppResult};

/// Reads (PostgreSQL) or holds (SQLite) the access generation.
#[derive(Clone)]
pub struct GenerationReader {
    source: Source,
}

#[derive(Clone)]
enum Source {
    /// Published by this process's operations, shared by every server of this
    /// process on the same SQLite file.
    Local(Arc<AtomicI64>),
    Shared {
        pool: DbPool,
        rounds: Arc<Mutex<Rounds>>,
    },
}

#[derive(Default)]
struct Rounds {
    running: bool,
    waiting: Vec<oneshot::Sender<Result<i64, ()>>>,
}

/// The published generation of each SQLite file this process serves.
fn local(path: &str, pool: &DbPool) -> Arc<AtomicI64> {
    static FILES: OnceLock<Mutex<HashMap<String, Arc<AtomicI64>>>> = OnceLock::new();
    let key = std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_owned());
    let mut files = FILES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    files
        .entry(key)
        .or_insert_with(|| {
            let start = pool
                .get()
                .ok()
                .and_then(|mut c| crate::store::access::generation(&mut c).ok())
                .unwrap_or(0);
            Arc::new(AtomicI64::new(start))
        })
        .clone()
}

impl GenerationReader {
    pub fn new(pool: DbPool) -> Self {
        let source = match pool.manager().url().clone() {
            DatabaseUrl::Sqlite(path) => Source::Local(local(&path, &pool)),
            DatabaseUrl::Postgres(_) => Source::Shared {
                pool,
                rounds: Arc::default(),
            },
        };
        Self { source }
    }

    /// The access generation as of a moment after this call.
    pub async fn current(&self) -> AppResult<i64> {
        let (pool, rounds) = match &self.source {
            Source::Local(n) => return Ok(n.load(Ordering::SeqCst)),
            Source::Shared { pool, rounds } => (pool, rounds),
        };
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut rounds = rounds.lock().unwrap_or_else(|e| e.into_inner());
            rounds.waiting.push(tx);
            !std::mem::replace(&mut rounds.running, true)
        };
        if start {
            let (pool, rounds) = (pool.clone(), rounds.clone());
            tokio::task::spawn_blocking(move || run_rounds(&pool, &rounds));
        }
        match rx.await {
            Ok(Ok(generation)) => Ok(generation),
            _ => Err(AppError::Unavailable),
        }
    }

    /// A change committed generation `n` (before it is acknowledged).
    pub fn published(&self, n: i64) {
        if let Source::Local(current) = &self.source {
            current.fetch_max(n, Ordering::SeqCst);
        }
    }
}

/// Everyone in a round was waiting before its query started; one query answers them all.
fn run_rounds(pool: &DbPool, rounds: &Mutex<Rounds>) {
    loop {
        let round = {
            let mut rounds = rounds.lock().unwrap_or_else(|e| e.into_inner());
            if rounds.waiting.is_empty() {
                rounds.running = false;
                return;
            }
            std::mem::take(&mut rounds.waiting)
        };
        let generation = match pool.get() {
            Ok(mut conn) => crate::store::access::generation(&mut conn).map_err(|e| {
                tracing::error!(error = %e, "could not read the access generation");
            }),
            Err(e) => {
                tracing::error!(error = %e, "no database connection for the access generation");
                Err(())
            }
        };
        for waiter in round {
            let _ = waiter.send(generation);
        }
    }
}
