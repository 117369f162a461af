//! Prometheus metrics: ingest requests by endpoint, method and status, latency, and
//! how often the access cache answered.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IngestLabels {
    pub endpoint: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `hit` or `miss`.
    pub result: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<IngestLabels, Counter>,
    latency: Histogram,
    cache: Family<CacheLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portico");
        let requests = Family::<IngestLabels, Counter>::default();
        registry.register(
            "ingest_requests",
            "Requests to /e/... by endpoint slug, method and status",
            requests.clone(),
        );
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "ingest_duration_seconds",
            "Time to answer a request to /e/...",
            latency.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "access_cache_lookups",
            "Ingest requests whose access facts came from the cache (hit) or the database (miss)",
            cache.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            cache,
        }
    }

    /// One ingest request's access facts: from the cache (`hit`) or the database.
    pub fn access_cache(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache.get_or_create(&CacheLabels { result }).inc();
    }

    pub fn observe(&self, labels: IngestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.observe(seconds);
    }

    pub fn render(&self) -> String {
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
