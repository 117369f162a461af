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
struct SourceLabel {
    source: &'static str,
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
    retention_deleted_calls: Counter,
    dropped_partitions: Counter,
    exports: Gauge,
    exported_rows: Counter,
    viewer_reads: Family<SourceLabel, Counter>,
    replica_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    replica_in_use: Gauge,
    search_lag: Gauge,
    mappings_silent: Gauge,
    tokens_expiring: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("portico");
        let seconds = |start| Histogram::new(exponential_buckets(start, 2.0, 16));
        let m = Self {
            requests: add(&mut r, "ingest_requests", "Requests to /e/... by endpoint slug, method and status", Family::default()),
            latency: add(&mut r, "ingest_duration_seconds", "Time to answer a request to /e/...", seconds(0.0001)),
            refused: add(&mut r, "refused_calls", "Ingest requests refused, by problem code", Family::default()),
            cache: add(
                &mut r,
                "access_cache_lookups",
                "Ingest requests whose access facts came from the cache (hit) or the database (miss)",
                Family::default(),
            ),
            queue: add(&mut r, "writer_queue_depth", "Jobs waiting for the writer, by lane", Family::default()),
            batch_jobs: add(
                &mut r,
                "writer_batch_jobs",
                "Jobs committed together in one transaction",
                Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            ),
            commit_seconds: add(&mut r, "writer_commit_seconds", "Time to run and commit one batch", seconds(0.0001)),
            folded: add(
                &mut r,
                "folded_calls",
                "Refused calls counted on an earlier row instead of a row of their own",
                Counter::default(),
            ),
            pool_wait: add(&mut r, "db_pool_wait_seconds", "Time spent waiting for a database connection", seconds(0.00001)),
            pool: add(&mut r, "db_pool_connections", "Database connections: max, open, busy and idle", Family::default()),
            retention_deleted: add(&mut r, "retention_deleted_records", "Records removed by retention", Counter::default()),
            retention_deleted_calls: add(&mut r, "retention_deleted_calls", "Calls removed by retention", Counter::default()),
            dropped_partitions: add(
                &mut r,
                "retention_dropped_partitions",
                "Partitions (days of calls, weeks of records) dropped whole by retention (PostgreSQL)",
                Counter::default(),
            ),
            exports: add(&mut r, "exports_in_flight", "Exports being streamed now", Gauge::default()),
            exported_rows: add(&mut r, "exported_rows", "Calls written by exports", Counter::default()),
            viewer_reads: add(
                &mut r,
                "viewer_reads",
                "Reads of the call log (viewer, stats; exports once each) by where they ran: replica or primary",
                Family::default(),
            ),
            replica_lag: add(
                &mut r,
                "replica_lag_seconds",
                "How far the read replica is behind the primary (-1: unknown or away; 0 without a replica)",
                Gauge::default(),
            ),
            replica_in_use: add(
                &mut r,
                "replica_in_use",
                "1 while viewer reads go to the read replica, 0 while they fall back to the primary",
                Gauge::default(),
            ),
            search_lag: add(
                &mut r,
                "search_index_lag_records",
                "Records stored but not yet in the payload search index (SQLite; searches read them directly)",
                Gauge::default(),
            ),
            mappings_silent: add(&mut r, "mappings_silent", "Mappings overdue for their expected cadence (last health check)", Gauge::default()),
            tokens_expiring: add(&mut r, "tokens_expiring", "Active tokens expiring within 14 days (last health check)", Gauge::default()),
            registry: Arc::default(),
        };
        Self {
            registry: Arc::new(r),
            ..m
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

    /// `n` refused calls counted on a row gathered earlier.
    pub fn folded(&self, n: i64) {
        self.folded.inc_by(n.unsigned_abs());
    }

    /// Waited `took` for a database connection.
    pub fn pool_wait(&self, took: Duration) {
        self.pool_wait.observe(took.as_secs_f64());
    }

    /// What a retention pass removed: records, calls, whole partitions.
    pub fn retention(&self, records: usize, calls: usize, partitions: usize) {
        self.retention_deleted.inc_by(records as u64);
        self.retention_deleted_calls.inc_by(calls as u64);
        self.dropped_partitions.inc_by(partitions as u64);
    }

    /// An export started; the guard ends it when dropped.
    pub fn export_started(&self) -> ExportGuard {
        self.exports.inc();
        ExportGuard(self.clone())
    }

    /// A read of the call log, on the replica or the primary.
    pub fn viewer_read(&self, replica: bool) {
        let source = if replica { "replica" } else { "primary" };
        self.viewer_reads
            .get_or_create(&SourceLabel { source })
            .inc();
    }

    /// The replica's lag as measured last, and whether viewer reads use it.
    pub fn replica(&self, lag: Option<f64>, in_use: bool) {
        self.replica_lag.set(lag.unwrap_or(-1.0));
        self.replica_in_use.set(i64::from(in_use));
    }

    /// Records not yet in the payload search index.
    pub fn search_lag(&self, records: i64) {
        self.search_lag.set(records);
    }

    /// What the last health check found: silent mappings, tokens expiring soon.
    pub fn health(&self, silent: i64, expiring: i64) {
        self.mappings_silent.set(silent);
        self.tokens_expiring.set(expiring);
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

/// Registers `metric` under `name` and returns a handle to it.
fn add<M: prometheus_client::registry::Metric + Clone>(
    r: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    r.register(name, help, metric.clone());
    metric
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
