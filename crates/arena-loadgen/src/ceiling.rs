//! The `ceiling` benchmark: the same client against the cheapest possible
//! axum handler, served in this process on its own runtime. Whatever the
//! server does per request costs at least this much on this machine, so
//! `battles` figures are read as a fraction of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

use crate::client::http_client;
use crate::stats::{CpuMeter, Errors, Samples};

/// Options of `ceiling`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests in all.
    #[arg(long, default_value_t = 200_000)]
    requests: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Tokio worker threads of the in-process server (the real server uses
    /// one per core).
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
}

/// Starts the endpoint on a runtime of its own, so that client and server
/// are scheduled as two processes would be.
fn start_endpoint(threads: usize) -> anyhow::Result<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("ceiling-server".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = tx.send(Err(anyhow::Error::from(error)));
                    return;
                }
            };
            runtime.block_on(async move {
                let app = Router::new().route(
                    "/healthz",
                    get(|| async { axum::Json(json!({"status": "ok"})) }),
                );
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(error) => {
                        let _ = tx.send(Err(error.into()));
                        return;
                    }
                };
                let addr = listener.local_addr();
                let _ = tx.send(addr.map_err(Into::into));
                let _ = axum::serve(listener, app).await;
            });
        })
        .context("cannot start the endpoint thread")?;
    rx.recv().context("the endpoint thread died")?
}

/// Runs the benchmark and returns its JSON summary.
pub async fn run(args: Args) -> anyhow::Result<Value> {
    let addr = start_endpoint(args.server_threads)?;
    let url = Arc::new(format!("http://{addr}/healthz"));
    let http = http_client()?;
    eprintln!(
        "ceiling: {} in flight, up to {} requests or {} s against {url}",
        args.concurrency, args.requests, args.duration_secs
    );
    // The endpoint runs in this process: the client's CPU figure is the sum.
    let meter = CpuMeter::start(None);
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.duration_secs);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (http, url, next) = (http.clone(), Arc::clone(&url), Arc::clone(&next));
            let count = args.requests;
            tokio::spawn(async move {
                let mut latency = Samples::default();
                let mut errors = Errors::default();
                while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < count {
                    let start = Instant::now();
                    match http.get(url.as_str()).send().await {
                        Ok(response) if response.status().is_success() => {
                            match response.bytes().await {
                                Ok(_) => latency.push(start.elapsed()),
                                Err(_) => errors.add("body"),
                            }
                        }
                        Ok(response) => {
                            errors.add(format!("status_{}", response.status().as_u16()))
                        }
                        Err(_) => errors.add("transport"),
                    }
                }
                (latency, errors)
            })
        })
        .collect();
    let mut latency = Samples::default();
    let mut errors = Errors::default();
    for worker in workers {
        let (l, e) = worker.await.context("a worker panicked")?;
        latency.merge(l);
        errors.merge(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = latency.len() as u64;
    Ok(json!({
        "benchmark": "ceiling",
        "concurrency": args.concurrency,
        "completed": done,
        "failed": errors.total(),
        "errors": errors.to_json(),
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "requests_per_s": (done as f64 / elapsed).round(),
        "latency": latency.summary(),
        "cpu": meter.finish(done),
    }))
}
