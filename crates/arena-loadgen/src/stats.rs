//! Latency summaries and process accounting.
//!
//! Samples are kept whole (a few hundred thousand `f64` at most) and sorted
//! once at the end: exact percentiles, no histogram dependency.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

/// Exact percentiles of a set of samples, in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// Records one duration.
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }

    /// Records one value already in milliseconds (may be negative).
    pub fn push_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    /// Moves every sample of `other` into `self`.
    pub fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `{count, mean, p50, p90, p99, max}` in milliseconds, rounded to µs.
    pub fn summary(&mut self) -> Value {
        if self.0.is_empty() {
            return json!({"count": 0});
        }
        self.0.sort_by(f64::total_cmp);
        let n = self.0.len();
        let pct = |p: f64| round(nearest_rank(&self.0, p));
        let mean = self.0.iter().sum::<f64>() / n as f64;
        json!({
            "count": n,
            "mean_ms": round(mean),
            "p50_ms": pct(50.0),
            "p90_ms": pct(90.0),
            "p99_ms": pct(99.0),
            "max_ms": round(self.0[n - 1]),
        })
    }
}

/// The nearest-rank percentile `p` (0–100) of `sorted` (ascending, not
/// empty): the smallest sample with at least p% of the samples at or below
/// it. Always an observed value, so a tail is never smoothed away.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> T {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
    sorted[rank.min(n) - 1]
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Failures counted by kind (`create_status_429`, `events_transport`, …).
#[derive(Debug, Default, Clone)]
pub struct Errors(BTreeMap<String, u64>);

impl Errors {
    /// Counts one failure of `kind`.
    pub fn add(&mut self, kind: impl Into<String>) {
        *self.0.entry(kind.into()).or_default() += 1;
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: Errors) {
        for (kind, count) in other.0 {
            *self.0.entry(kind).or_default() += count;
        }
    }

    /// Total failures.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// `{kind: count}`.
    pub fn to_json(&self) -> Value {
        json!(self.0)
    }
}

/// CPU time and peak memory of a process, read from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcUsage {
    /// User plus system CPU seconds.
    pub cpu_secs: f64,
    /// Peak resident set (VmHWM), KiB.
    pub peak_kib: u64,
    /// Time its threads were runnable but waiting for a CPU, seconds (the
    /// sum over `/proc/<pid>/task/*/schedstat`): on a busy machine this,
    /// not the code, explains stalls.
    pub runqueue_wait_secs: f64,
}

impl ProcUsage {
    /// Reads `/proc/<pid>` (`self` for this process); `None` off Linux or
    /// when the process is gone.
    pub fn read(pid: &str) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name, which is parenthesized and may hold
        // spaces: utime and stime are fields 14 and 15 of the whole line.
        let after = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let peak_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let mut wait_ns = 0u64;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
                    wait_ns += text
                        .split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
        Some(Self {
            runqueue_wait_secs: wait_ns as f64 / 1e9,
            // USER_HZ is 100 on every Linux configuration that matters
            // (it is fixed by the ABI, independent of the kernel's HZ).
            cpu_secs: ticks as f64 / 100.0,
            peak_kib,
        })
    }
}

/// Resident memory of a process, KiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resident {
    /// `VmRSS`: all resident pages.
    pub vm_rss: u64,
    /// `RssAnon`: heap and stacks, where a leak shows.
    pub rss_anon: u64,
    /// `RssFile`: mapped files (the binary, libraries).
    pub rss_file: u64,
    /// `RssShmem`: shared memory, such as SQLite's WAL index.
    pub rss_shmem: u64,
}

impl Resident {
    /// Reads it; `None` off Linux or when the process is gone.
    pub fn read(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        };
        Some(Self {
            vm_rss: field("VmRSS")?,
            rss_anon: field("RssAnon").unwrap_or(0),
            rss_file: field("RssFile").unwrap_or(0),
            rss_shmem: field("RssShmem").unwrap_or(0),
        })
    }

    /// `{VmRSS, RssAnon, RssFile, RssShmem}`, the kernel's names.
    pub fn to_json(self) -> Value {
        json!({
            "VmRSS": self.vm_rss,
            "RssAnon": self.rss_anon,
            "RssFile": self.rss_file,
            "RssShmem": self.rss_shmem,
        })
    }
}

/// CPU used by this process and, when given, the server, over one run.
#[derive(Debug)]
pub struct CpuMeter {
    server_pid: Option<String>,
    client_start: ProcUsage,
    server_start: Option<ProcUsage>,
}

impl CpuMeter {
    /// Starts measuring.
    pub fn start(server_pid: Option<u32>) -> Self {
        let server_pid = server_pid.map(|p| p.to_string());
        Self {
            client_start: ProcUsage::read("self").unwrap_or_default(),
            server_start: server_pid.as_deref().and_then(ProcUsage::read),
            server_pid,
        }
    }

    /// `{client_cpu_s, server_cpu_s, server_peak_rss_mib}` since the start;
    /// `per` divides CPU into per-operation microseconds.
    pub fn finish(&self, per: u64) -> Value {
        let client = ProcUsage::read("self").unwrap_or_default();
        let client_cpu = client.cpu_secs - self.client_start.cpu_secs;
        let mut out = json!({
            "client_cpu_s": round(client_cpu),
            "client_cpu_us_per_op": round(client_cpu * 1e6 / per.max(1) as f64),
            "client_runqueue_wait_s": round(client.runqueue_wait_secs - self.client_start.runqueue_wait_secs),
        });
        if let (Some(pid), Some(start)) = (&self.server_pid, self.server_start)
            && let Some(end) = ProcUsage::read(pid)
        {
            let cpu = end.cpu_secs - start.cpu_secs;
            out["server_cpu_s"] = json!(round(cpu));
            out["server_cpu_us_per_op"] = json!(round(cpu * 1e6 / per.max(1) as f64));
            out["server_runqueue_wait_s"] =
                json!(round(end.runqueue_wait_secs - start.runqueue_wait_secs));
            out["server_peak_rss_mib"] = json!(round(end.peak_kib as f64 / 1024.0));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for ms in 1..=100 {
            s.push_ms(f64::from(ms));
        }
        let v = s.summary();
        assert_eq!(v["p50_ms"], 50.0);
        assert_eq!(v["p99_ms"], 99.0);
        assert_eq!(v["max_ms"], 100.0);
        assert_eq!(Samples::default().summary()["count"], 0);
    }

    #[test]
    fn reads_its_own_usage() {
        if cfg!(target_os = "linux") {
            assert!(ProcUsage::read("self").expect("proc").peak_kib > 0);
            let resident = Resident::read(std::process::id()).expect("proc");
            assert!(resident.vm_rss > 0 && resident.rss_anon > 0);
        }
    }

    #[test]
    fn nearest_rank_of_few_samples() {
        assert_eq!(nearest_rank(&[7u32], 99.0), 7);
        assert_eq!(nearest_rank(&[1u32, 2, 3, 4], 50.0), 2);
        assert_eq!(nearest_rank(&[1u32, 2, 3, 4], 95.0), 4);
        assert_eq!(nearest_rank(&[1u32, 2, 3, 4], 0.0), 1);
    }
}
