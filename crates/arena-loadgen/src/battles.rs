//! The `battles` benchmark: closed-loop voters, each doing complete battles
//! back to back, until N battles were started or the time limit passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{BattleOptions, Voter, http_client, run_battle};
use crate::stats::{CpuMeter, Errors, Samples};

/// Options of `battles`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server root, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    url: String,
    /// Simulated voters working at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Battles to run in all.
    #[arg(long, default_value_t = 5000)]
    battles: u64,
    /// Stop starting battles after this many seconds.
    #[arg(long, default_value_t = 60)]
    duration_secs: u64,
    /// Battles run before measuring (connections opened, caches warm).
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    /// The prompt of every battle.
    #[arg(long, default_value = "Explain in two sentences why the sky is blue.")]
    prompt: String,
    /// Limit on each request, the event stream included, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Battles per simulated voter before a worker takes a fresh cookie:
    /// real voters cast a handful of votes, and a single cookie voting
    /// thousands of times is what the server's anomaly detector is for.
    #[arg(long, default_value_t = 10)]
    battles_per_voter: u64,
    /// Server process to account CPU and peak memory for.
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Default)]
struct WorkerResult {
    battle: Samples,
    create: Samples,
    stream: Samples,
    vote: Samples,
    errors: Errors,
    completed: u64,
    deltas: u64,
}

/// Runs the benchmark and returns its JSON summary.
pub async fn run(args: Args) -> anyhow::Result<Value> {
    let http = http_client()?;
    let options = Arc::new(BattleOptions {
        base: args.url.trim_end_matches('/').to_owned(),
        prompt: args.prompt.clone(),
        trace: false,
        replay_window: Duration::ZERO,
        timeout: Duration::from_secs(args.timeout_secs),
    });

    // Warm-up: same workers, results dropped.
    if args.warmup > 0 {
        let warm = drive(
            &http,
            &options,
            args.concurrency,
            args.warmup,
            args.battles_per_voter,
            Duration::from_secs(30),
        )
        .await;
        eprintln!(
            "warm-up: {} battles, {} errors",
            warm.completed,
            warm.errors.total()
        );
    }

    eprintln!(
        "battles: {} voters, up to {} battles or {} s against {}",
        args.concurrency, args.battles, args.duration_secs, options.base
    );
    let meter = CpuMeter::start(args.server_pid);
    let started = Instant::now();
    let mut total = drive(
        &http,
        &options,
        args.concurrency,
        args.battles,
        args.battles_per_voter,
        Duration::from_secs(args.duration_secs),
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(json!({
        "benchmark": "battles",
        "url": options.base,
        "concurrency": args.concurrency,
        "requested": args.battles,
        "completed": total.completed,
        "failed": total.errors.total(),
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "battles_per_s": (total.completed as f64 / elapsed).round(),
        "errors": total.errors.to_json(),
        "deltas_per_battle": (total.deltas as f64 / total.completed.max(1) as f64).round(),
        "battle_latency": total.battle.summary(),
        "create_latency": total.create.summary(),
        "stream_latency": total.stream.summary(),
        "vote_latency": total.vote.summary(),
        "cpu": meter.finish(total.completed),
    }))
}

/// Runs `count` battles (or until `limit`) over `concurrency` workers.
async fn drive(
    http: &reqwest::Client,
    options: &Arc<BattleOptions>,
    concurrency: usize,
    count: u64,
    per_voter: u64,
    limit: Duration,
) -> WorkerResult {
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + limit;
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let http = http.clone();
            let options = Arc::clone(options);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut voter = Voter::new();
                let mut result = WorkerResult::default();
                let mut voted = 0u64;
                while Instant::now() < deadline {
                    if voted == per_voter.max(1) {
                        voter = Voter::new();
                        voted = 0;
                    }
                    voted += 1;
                    let sequence = next.fetch_add(1, Ordering::Relaxed);
                    if sequence >= count {
                        break;
                    }
                    match run_battle(&http, &voter, &options, sequence).await {
                        Ok(times) => {
                            result.completed += 1;
                            result.deltas += times.deltas;
                            result.battle.push(times.total);
                            result.create.push(times.create);
                            result.stream.push(times.stream);
                            result.vote.push(times.vote);
                        }
                        Err(failure) => result.errors.add(failure.0),
                    }
                }
                result
            })
        })
        .collect();
    let mut total = WorkerResult::default();
    for worker in workers {
        match worker.await {
            Ok(result) => {
                total.completed += result.completed;
                total.deltas += result.deltas;
                total.battle.merge(result.battle);
                total.create.merge(result.create);
                total.stream.merge(result.stream);
                total.vote.merge(result.vote);
                total.errors.merge(result.errors);
            }
            Err(_) => total.errors.add("worker_panicked"),
        }
    }
    total
}
