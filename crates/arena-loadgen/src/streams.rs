//! The `streams` benchmark: N battles started at once (2N upstream streams)
//! against models paced by the mock upstream.
//!
//! The mock sends a chunk every `pace` milliseconds, so at a client that
//! sees chunks the moment they are sent the gap between two deltas of a side
//! is `pace` (plus the mock's own timer slack). The excess of each gap over
//! `pace` is the latency the path added to that chunk beyond the one before;
//! its distribution, and each stream's mean excess (the drift that adds up
//! over a long answer), are what this reports. `--direct-model` measures the
//! same thing straight against the mock, two streams per "battle": the
//! baseline to subtract.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::{
    Arrival, BattleOptions, Failure, Voter, http_client, run_battle, run_direct_stream,
};
use crate::stats::{CpuMeter, Errors, Samples};

/// Options of `streams`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server root (`http://127.0.0.1:8080`), or with `--direct-model` the
    /// upstream's OpenAI root (`http://127.0.0.1:9000/v1`).
    #[arg(long)]
    url: String,
    /// Battles started at once.
    #[arg(long, default_value_t = 1000)]
    battles: u64,
    /// The pace the models were registered with (`pace:MS`), milliseconds.
    #[arg(long)]
    pace_ms: f64,
    /// The whole run must finish within this many seconds.
    #[arg(long, default_value_t = 120)]
    duration_secs: u64,
    /// The prompt of every battle.
    #[arg(long, default_value = "Tell me a story.")]
    prompt: String,
    /// Stream this upstream model straight from the mock instead of going
    /// through the server (the baseline).
    #[arg(long)]
    direct_model: Option<String>,
    /// Server process to account CPU and peak memory for.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// Gaps into a side's last this-many deltas are also summarized apart.
const TAIL: usize = 3;

/// Arrivals of one battle (two sides) plus its overall timings.
struct Outcome {
    started: Instant,
    arrivals: [Vec<Arrival>; 2],
    total: Duration,
    vote: Option<Duration>,
}

/// Runs the benchmark and returns its JSON summary.
pub async fn run(args: Args) -> anyhow::Result<Value> {
    let http = http_client()?;
    let options = Arc::new(BattleOptions {
        base: args.url.trim_end_matches('/').to_owned(),
        prompt: args.prompt.clone(),
        trace: true,
        // A delta read this soon after the headers was already waiting:
        // part of the replay, or queued while the client connected.
        replay_window: Duration::from_secs_f64(args.pace_ms / 2000.0),
        timeout: Duration::from_secs(args.duration_secs),
    });
    let mode = if args.direct_model.is_some() {
        "direct to upstream"
    } else {
        "through the server"
    };
    eprintln!(
        "streams: {} battles at once, {mode}, pace {} ms, against {}",
        args.battles, args.pace_ms, options.base
    );
    let meter = CpuMeter::start(args.server_pid);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.battles)
        .map(|sequence| {
            let (http, options) = (http.clone(), Arc::clone(&options));
            let direct = args.direct_model.clone();
            tokio::spawn(async move {
                let begun = Instant::now();
                match direct {
                    Some(model) => {
                        let (a, b) = tokio::join!(
                            run_direct_stream(
                                &http,
                                &options.base,
                                &model,
                                &options.prompt,
                                &options
                            ),
                            run_direct_stream(
                                &http,
                                &options.base,
                                &model,
                                &options.prompt,
                                &options
                            ),
                        );
                        Ok(Outcome {
                            started: begun,
                            arrivals: [a?, b?],
                            total: begun.elapsed(),
                            vote: None,
                        })
                    }
                    None => {
                        let voter = Voter::new();
                        let times = run_battle(&http, &voter, &options, sequence).await?;
                        Ok::<_, Failure>(Outcome {
                            started: times.started,
                            arrivals: times.arrivals,
                            total: times.total,
                            vote: Some(times.vote),
                        })
                    }
                }
            })
        })
        .collect();

    let mut errors = Errors::default();
    let mut completed = 0u64;
    let mut first_delta = Samples::default();
    let mut gap = Samples::default();
    let mut excess = Samples::default();
    let (mut excess_body, mut excess_tail) = (Samples::default(), Samples::default());
    let mut stream_drift = Samples::default();
    let mut battle = Samples::default();
    let mut vote = Samples::default();
    let (mut deltas, mut replayed) = (0u64, 0u64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.duration_secs);
    for task in tasks {
        let outcome = match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(outcome))) => outcome,
            Ok(Ok(Err(failure))) => {
                errors.add(failure.0);
                continue;
            }
            Ok(Err(_)) => {
                errors.add("task_panicked");
                continue;
            }
            Err(_) => {
                errors.add("run_time_limit");
                continue;
            }
        };
        completed += 1;
        battle.push(outcome.total);
        if let Some(v) = outcome.vote {
            vote.push(v);
        }
        for side in &outcome.arrivals {
            deltas += side.len() as u64;
            replayed += side.iter().filter(|a| a.replayed).count() as u64;
            if let Some(first) = side.first() {
                first_delta.push(first.at.duration_since(outcome.started));
            }
            let live: Vec<&Arrival> = side.iter().filter(|a| !a.replayed).collect();
            for (i, pair) in live.windows(2).enumerate() {
                let ms = pair[1].at.duration_since(pair[0].at).as_secs_f64() * 1000.0;
                gap.push_ms(ms);
                excess.push_ms(ms - args.pace_ms);
                // The last chunks of a side are where the two sides of a
                // battle finish and commit: kept apart to show stalls there.
                if i + 1 + TAIL >= live.len() {
                    excess_tail.push_ms(ms - args.pace_ms);
                } else {
                    excess_body.push_ms(ms - args.pace_ms);
                }
            }
            if live.len() >= 2 {
                let span = live[live.len() - 1].at.duration_since(live[0].at);
                let per = span.as_secs_f64() * 1000.0 / (live.len() - 1) as f64;
                stream_drift.push_ms(per - args.pace_ms);
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(json!({
        "benchmark": "streams",
        "mode": mode,
        "url": options.base,
        "battles": args.battles,
        "streams": args.battles * 2,
        "pace_ms": args.pace_ms,
        "completed": completed,
        "failed": errors.total(),
        "errors": errors.to_json(),
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "deltas": deltas,
        "deltas_replayed": replayed,
        "first_delta_latency": first_delta.summary(),
        "delta_gap": gap.summary(),
        "delta_gap_excess": excess.summary(),
        "delta_gap_excess_last_chunks": excess_tail.summary(),
        "delta_gap_excess_other_chunks": excess_body.summary(),
        "stream_mean_excess_per_chunk": stream_drift.summary(),
        "battle_latency": battle.summary(),
        "vote_latency": vote.summary(),
        "cpu": meter.finish(completed.max(1)),
    }))
}
