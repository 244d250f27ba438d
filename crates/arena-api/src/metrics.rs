//! Prometheus metrics: one process-wide recorder, and a middleware that
//! counts requests labelled by route template (`MatchedPath`), never by raw
//! URI, so ids cannot explode the label set.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Upper bounds (seconds) of the latency histograms' buckets: from a
/// millisecond (a cached leaderboard read) to a minute (a long answer).
const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];

/// Installs the global recorder once (later calls reuse it).
///
/// Histograms are Prometheus histograms with fixed buckets rather than the
/// exporter's default summaries: a bucket set is a fixed array of counters
/// per label set, where a summary's sketch kept growing with the spread of
/// the values seen (5 MB after a few minutes of soak), and buckets can be
/// aggregated across instances, which quantiles cannot.
pub fn install() {
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .ok()?
            .install_recorder()
            .ok()
    });
}

/// Drains the recorded histogram samples into their buckets. Without it a
/// recorder installed by `install_recorder` keeps every latency sample until
/// `/metrics` is next scraped, so a server that is never scraped grows
/// without bound; the housekeeping loop calls this on every tick (at most
/// every 30 s).
pub fn upkeep() {
    if let Some(handle) = HANDLE.get().and_then(Option::as_ref) {
        handle.run_upkeep();
    }
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    install();
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Counts requests and their latency per route template and status.
pub async fn track(request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!("arena_http_requests_total", &labels).increment(1);
    metrics::histogram!("arena_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
