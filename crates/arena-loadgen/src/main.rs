//! `arena-loadgen`: the load generator behind `scripts/bench-server` and the
//! figures in `BENCHMARKS.md`.
//!
//! Three benchmarks and a soak, each bounded by a count and a time limit, each printing
//! one JSON object on standard output (progress goes to standard error):
//!
//! - `battles`: C simulated voters each loop create → stream to `end` →
//!   vote; reports complete battles per second and latency percentiles.
//! - `ceiling`: the same client against a trivial in-process axum endpoint:
//!   what this machine can do at all, measured in the same run, so that
//!   `battles` figures can be read against it.
//! - `streams`: N battles at once against a server whose models are the mock
//!   upstream with a fixed pace; every battle must complete, and the gaps
//!   between deltas at the client are compared with the pace (the latency
//!   the server adds per streamed chunk). `--direct-model` runs the same
//!   measurement straight against the mock, as the baseline.
//! - `soak`: open-loop mixed traffic (battles with second turns, reads and
//!   votes, leaderboard reads, exports) at a fixed arrival rate for a fixed
//!   time, recorded per 10-second window with the server's memory; the
//!   traffic of `scripts/soak`, which checks and reports the result.
//!
//! With `--server-pid` each summary also holds the server's CPU time over
//! the run and its peak resident memory, read from `/proc`.

mod battles;
mod ceiling;
mod client;
mod soak;
mod sse;
mod stats;
mod streams;

use std::io::Write as _;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Load generator for Arena's benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Tokio worker threads for the client.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Complete battles (create, stream, vote) from C concurrent voters.
    Battles(battles::Args),
    /// Requests per second against a trivial in-process endpoint.
    Ceiling(ceiling::Args),
    /// N concurrent battles at once; added latency per streamed chunk.
    Streams(streams::Args),
    /// Mixed open-loop traffic for a fixed time, per-window records.
    Soak(soak::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the Tokio runtime")?;
    let summary = runtime.block_on(async {
        match cli.command {
            Command::Battles(args) => battles::run(args).await,
            Command::Ceiling(args) => ceiling::run(args).await,
            Command::Streams(args) => streams::run(args).await,
            Command::Soak(args) => soak::run(args).await,
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &summary).context("cannot write the summary")?;
    writeln!(stdout).context("cannot write the summary")?;
    Ok(())
}
