//! Per-model request counters, served at `GET /stats`.

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use serde::Serialize;

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Sent to the end (`[DONE]` or the whole JSON answer).
    Completed,
    /// The client went away first.
    Aborted,
    /// Ended on purpose before the end (`cut`, `malformed`).
    Broken,
}

/// Counters keyed by the full `model` string.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default, Serialize, Clone)]
struct Counters {
    requests: BTreeMap<String, u64>,
    completed: BTreeMap<String, u64>,
    aborted: BTreeMap<String, u64>,
    broken: BTreeMap<String, u64>,
}

impl Stats {
    /// Counts a request; returns how many this model has had, this one included.
    pub(crate) fn request(&self, model: &str) -> u64 {
        let mut counters = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counters.requests.entry(model.to_owned()).or_default();
        *count += 1;
        *count
    }

    pub(crate) fn outcome(&self, model: &str, outcome: Outcome) {
        let mut counters = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let map = match outcome {
            Outcome::Completed => &mut counters.completed,
            Outcome::Aborted => &mut counters.aborted,
            Outcome::Broken => &mut counters.broken,
        };
        *map.entry(model.to_owned()).or_default() += 1;
    }

    /// `{"requests":{model:n},"completed":{…},"aborted":{…},"broken":{…}}`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let counters = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        serde_json::to_value(counters).unwrap_or_default()
    }
}
