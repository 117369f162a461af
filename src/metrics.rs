//! Prometheus metrics: what an operator needs to tell why Portico is slow or
//! failing. Ingest requests and latency, refusals by code, the access cache, the
//! writer (queue, batches, commits, folded repeats), the database pool (waits and
//! saturation), retention and exports. Cheap to clone: every handle shares one
//! registry.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    pub endpoint: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneLabel {
    lane: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

/// The database pool as sampled when metrics are read.
#[derive(Debug, Clone, Copy)]
pub struct PoolSample {
    pub max: u32,
    pub open: u32,
    pub idle: u32,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<IngestLabels, Counter>,
    latency: Histogram,
    refused: Family<CodeLabel, Counter>,
    cache: Family<ResultLabel, Counter>,
    queue: Family<LaneLabel, Gauge>,
    batch_jobs: Histogram,
    commit_seconds: Histogram,
    folded: Counter,
    pool_wait: Histogram,
    pool: Family<StateLabel, Gauge>,
    retention_deleted: Counter,
    exports: Gauge,
    exported_rows: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("portico");
        let requests = Family::<IngestLabels, Counter>::default();
        r.register(
            "ingest_requests",
            "Requests to /e/... by endpoint slug, method and status",
            requests.clone(),
        );
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        r.register(
            "ingest_duration_seconds",
            "Time to answer a request to /e/...",
            latency.clone(),
        );
        let refused = Family::<CodeLabel, Counter>::default();
        r.register(
            "refused_calls",
            "Ingest requests refused, by problem code",
            refused.clone(),
        );
        let cache = Family::<ResultLabel, Counter>::default();
        r.register(
            "access_cache_lookups",
            "Ingest requests whose access facts came from the cache (hit) or the database (miss)",
            cache.clone(),
        );
        let queue = Family::<LaneLabel, Gauge>::default();
        r.register(
            "writer_queue_depth",
            "Jobs waiting for the writer, by lane",
            queue.clone(),
        );
        let batch_jobs = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        r.register(
            "writer_batch_jobs",
            "Jobs committed together in one transaction",
            batch_jobs.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        r.register(
            "writer_commit_seconds",
            "Time to run and commit one batch",
            commit_seconds.clone(),
        );
        let folded = Counter::default();
        r.register(
            "folded_calls",
            "Refused calls counted on an earlier row instead of a row of their own",
            folded.clone(),
        );
        let pool_wait = Histogram::new(exponential_buckets(0.00001, 4.0, 12));
        r.register(
            "db_pool_wait_seconds",
            "Time spent waiting for a database connection",
            pool_wait.clone(),
        );
        let pool = Family::<StateLabel, Gauge>::default();
        r.register(
            "db_pool_connections",
            "Database connections: max, open, busy and idle",
            pool.clone(),
        );
        let retention_deleted = Counter::default();
        r.register(
            "retention_deleted_records",
            "Records removed by retention",
            retention_deleted.clone(),
        );
        let exports = Gauge::default();
        r.register(
            "exports_in_flight",
            "Exports being streamed now",
            exports.clone(),
        );
        let exported_rows = Counter::default();
        r.register(
            "exported_rows",
            "Calls written by exports",
            exported_rows.clone(),
        );
        Self {
            registry: Arc::new(r),
            requests,
            latency,
            refused,
            cache,
            queue,
            batch_jobs,
            commit_seconds,
            folded,
            pool_wait,
            pool,
            retention_deleted,
            exports,
            exported_rows,
        }
    }

    pub fn observe(&self, labels: IngestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.observe(seconds);
    }

    /// An ingest request refused with `code`.
    pub fn refused(&self, code: &'static str) {
        self.refused.get_or_create(&CodeLabel { code }).inc();
    }

    /// One ingest request's access facts: from the cache (`hit`) or the database.
    pub fn access_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache.get_or_create(&ResultLabel { result }).inc();
    }

    /// Jobs waiting on writer lane `lane`.
    pub fn writer_queue(&self, lane: &'static str, depth: usize) {
        self.queue
            .get_or_create(&LaneLabel { lane })
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A batch of `jobs` committed (or failed) after `took`, `folded` refused calls counted on earlier rows.
    pub fn writer_batch(&self, jobs: usize, took: Duration, folded: u64) {
        self.batch_jobs.observe(jobs as f64);
        self.commit_seconds.observe(took.as_secs_f64());
        self.folded.inc_by(folded);
    }

    /// Waited `took` for a database connection.
    pub fn pool_wait(&self, took: Duration) {
        self.pool_wait.observe(took.as_secs_f64());
    }

    pub fn retention_deleted(&self, records: usize) {
        self.retention_deleted.inc_by(records as u64);
    }

    /// An export started; the guard ends it when dropped.
    pub fn export_started(&self) -> ExportGuard {
        self.exports.inc();
        ExportGuard(self.clone())
    }

    pub fn exported_rows(&self, rows: u64) {
        self.exported_rows.inc_by(rows);
    }

    /// The text exposition, with the pool as sampled now.
    pub fn render(&self, pool: PoolSample) -> String {
        let busy = pool.open.saturating_sub(pool.idle);
        for (state, n) in [
            ("max", pool.max),
            ("open", pool.open),
            ("busy", busy),
            ("idle", pool.idle),
        ] {
            self.pool
                .get_or_create(&StateLabel { state })
                .set(i64::from(n));
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// An export in flight; counted out when dropped.
pub struct ExportGuard(Metrics);

impl Drop for ExportGuard {
    fn drop(&mut self) {
        self.0.exports.dec();
    }
}
