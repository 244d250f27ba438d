//! Backend health, as the server sees it from turn outcomes.
//!
//! The dispatcher does not consult the tracker: the server records each
//! side's outcome under the model's key and leaves models that are cooling
//! down out of sampling. Kept apart so that a dispatch can never be refused
//! for reasons the caller cannot see.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime},
};

use crate::{FailureKind, TurnEvent};

/// When a backend is considered unavailable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Consecutive failures that start a cool-down.
    pub failure_threshold: u32,
    /// How long a failing backend is left alone.
    pub cool_down: Duration,
    /// Outcomes remembered for the error rate and latency percentile.
    pub window: usize,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 3,
            cool_down: Duration::from_secs(60),
            window: 50,
        }
    }
}

/// A backend's recent health.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackendHealth {
    /// The kind of the last failure ([`FailureKind::as_str`]), never the
    /// upstream's own message.
    pub last_error: Option<String>,
    /// Share of failures among the recent outcomes (0 when none).
    pub error_rate: f64,
    /// Median time to first token of the recent successes.
    pub p50_latency_ms: Option<u64>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// End of the current cool-down, if one is running.
    pub cooling_down_until: Option<SystemTime>,
}

/// Health of every backend, keyed by the caller's model key. Cheap to clone;
/// clones share the same records.
#[derive(Debug, Clone, Default)]
pub struct HealthTracker {
    config: HealthConfig,
    records: Arc<Mutex<HashMap<String, Record>>>,
}

#[derive(Debug, Default)]
struct Record {
    /// `true` for a failure, newest last.
    outcomes: VecDeque<bool>,
    latencies_ms: VecDeque<u64>,
    consecutive_failures: u32,
    last_error: Option<FailureKind>,
    cooling_until: Option<Instant>,
}

impl HealthTracker {
    /// A tracker with the given thresholds.
    pub fn new(config: HealthConfig) -> Self {
        Self {
            config,
            records: Arc::default(),
        }
    }

    /// Records a success and its time to first token; ends any cool-down.
    pub fn record_success(&self, key: &str, latency: Duration) {
        let window = self.config.window.max(1);
        self.with_record(key, |record| {
            push_bounded(&mut record.outcomes, false, window);
            let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
            push_bounded(&mut record.latencies_ms, ms, window);
            record.consecutive_failures = 0;
            record.cooling_until = None;
        });
    }

    /// Records a failure. [`FailureKind::Cancelled`] is ignored: a shutdown
    /// says nothing about the backend.
    pub fn record_failure(&self, key: &str, kind: FailureKind) {
        if kind == FailureKind::Cancelled {
            return;
        }
        let config = &self.config;
        self.with_record(key, |record| {
            push_bounded(&mut record.outcomes, true, config.window.max(1));
            record.consecutive_failures = record.consecutive_failures.saturating_add(1);
            record.last_error = Some(kind);
            if record.consecutive_failures >= config.failure_threshold {
                record.cooling_until = Some(Instant::now() + config.cool_down);
            }
        });
    }

    /// Records a side's terminal event (deltas are ignored); latency is its
    /// time to first token, or its total time when it sent no text.
    pub fn record_event(&self, key: &str, event: &TurnEvent) {
        match event {
            TurnEvent::Delta { .. } => {}
            TurnEvent::Done { stats, .. } => {
                let ms = stats.first_token_ms.unwrap_or(stats.total_ms);
                self.record_success(key, Duration::from_millis(ms));
            }
            TurnEvent::Failed { failure, .. } => self.record_failure(key, failure.kind),
        }
    }

    /// Whether the backend may be used: not cooling down.
    pub fn is_available(&self, key: &str) -> bool {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .get(key)
            .and_then(|r| r.cooling_until)
            .is_none_or(|until| Instant::now() >= until)
    }

    /// The backend's recent health; a backend never seen is healthy.
    pub fn snapshot(&self, key: &str) -> BackendHealth {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(record) = records.get(key) else {
            return BackendHealth::default();
        };
        let failures = record.outcomes.iter().filter(|&&failed| failed).count();
        let error_rate = if record.outcomes.is_empty() {
            0.0
        } else {
            failures as f64 / record.outcomes.len() as f64
        };
        let now = Instant::now();
        BackendHealth {
            last_error: record.last_error.map(|k| k.as_str().to_owned()),
            error_rate,
            p50_latency_ms: median(&record.latencies_ms),
            consecutive_failures: record.consecutive_failures,
            cooling_down_until: record
                .cooling_until
                .filter(|&until| until > now)
                .map(|until| SystemTime::now() + (until - now)),
        }
    }

    fn with_record(&self, key: &str, update: impl FnOnce(&mut Record)) {
        // A panic elsewhere while holding the lock leaves counters that are
        // still meaningful, so poisoning is ignored.
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        update(records.entry(key.to_owned()).or_default());
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, value: T, limit: usize) {
    if queue.len() == limit {
        queue.pop_front();
    }
    queue.push_back(value);
}

fn median(values: &VecDeque<u64>) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted: Vec<u64> = values.iter().copied().collect();
    sorted.sort_unstable();
    Some(sorted[(sorted.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> HealthTracker {
        HealthTracker::new(HealthConfig {
            failure_threshold: 3,
            cool_down: Duration::from_secs(60),
            window: 4,
        })
    }

    #[test]
    fn unknown_backends_are_healthy() {
        let t = tracker();
        assert!(t.is_available("x"));
        assert_eq!(t.snapshot("x"), BackendHealth::default());
    }

    #[test]
    fn cools_down_after_consecutive_failures_and_recovers_on_success() {
        let t = tracker();
        t.record_failure("m", FailureKind::Timeout);
        t.record_failure("m", FailureKind::ConnectFailed);
        assert!(t.is_available("m"));
        t.record_failure("m", FailureKind::RateLimited);
        assert!(!t.is_available("m"));
        let s = t.snapshot("m");
        assert_eq!(s.last_error.as_deref(), Some("rate_limited"));
        assert_eq!(s.consecutive_failures, 3);
        assert!(s.cooling_down_until.unwrap() > SystemTime::now());
        assert!(t.is_available("other"));

        t.record_success("m", Duration::from_millis(100));
        assert!(t.is_available("m"));
        let s = t.snapshot("m");
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.cooling_down_until, None);
        assert_eq!(s.error_rate, 0.75);
    }

    #[test]
    fn cancellations_do_not_count() {
        let t = tracker();
        for _ in 0..5 {
            t.record_failure("m", FailureKind::Cancelled);
        }
        assert!(t.is_available("m"));
        assert_eq!(t.snapshot("m").consecutive_failures, 0);
    }

    #[test]
    fn window_bounds_rate_and_median() {
        let t = tracker();
        t.record_failure("m", FailureKind::Timeout);
        for ms in [10, 40, 20, 30] {
            t.record_success("m", Duration::from_millis(ms));
        }
        let s = t.snapshot("m");
        assert_eq!(s.error_rate, 0.0);
        assert_eq!(s.p50_latency_ms, Some(20));
    }

    #[test]
    fn a_short_cool_down_expires() {
        let t = HealthTracker::new(HealthConfig {
            failure_threshold: 1,
            cool_down: Duration::ZERO,
            window: 10,
        });
        t.record_failure("m", FailureKind::UpstreamError);
        assert!(t.is_available("m"));
    }
}
