//! The `soak` run: mixed open-loop traffic against one server for a fixed
//! time, recorded per window, for `scripts/soak`.
//!
//! `scripts/soak` keeps the orchestration (processes, models, tokens), the
//! checks and the report; this generates the traffic. It lives here because
//! the soak must run at half the measured peak (hundreds of battles per
//! second) on the same two cores as the server, which a thread-per-request
//! Python client cannot do: here every job is a task and every request goes
//! through one keep-alive connection pool.
//!
//! The mix, per second of the run:
//!
//! - battles at `--rate`: create (a prompt, the cookie of one of `--voters`
//!   voters), stream the events to `end`; 10% a second turn (409
//!   `battle_failed` expected when a side failed) and its stream; 10% a read
//!   of the battle; then a vote. A battle with a failed side (an `error`
//!   event) is abandoned half the time, as people do, and otherwise voted
//!   on, 409 `battle_failed` being an expected answer;
//! - leaderboard reads at `max(1, rate / 2)`, rotating over the four views;
//! - an export every `--export-every-secs` (JSONL, CSV, Parquet in turn,
//!   read to the end) with the researcher token;
//! - the server's resident memory (`VmRSS` and its parts) every second.
//!
//! Arrivals follow the clock whatever the server does (open loop): a closed
//! loop slows down with the server and hides the overload a soak is there to
//! show. At most `--max-in-flight` jobs run at once; an arrival over the
//! bound is skipped and counted, so a client (or a server) that cannot keep
//! up says so. Battles leave an eighth of the bound to reads and exports,
//! which would otherwise stop when an overloaded server holds every battle.
//!
//! Every answer is classified `ok`, `expected` (a 409 whose code the mix
//! allows), `unexpected_4xx`, `server_error` (5xx, or an event stream that
//! closes before `end`) or `transport`, and timed. Latencies are kept whole
//! (a `u32` of microseconds per request: a few MB for ten minutes) so the
//! percentiles are exact; nothing is sketched away from the tail.
//!
//! The JSON summary holds, per window of `--window-secs`: counts by kind
//! (with the notes `battles_complete`, `battles_failed_side`,
//! `skipped_arrivals`), by status and by class, latency percentiles per
//! kind, and the memory samples; then the same over the whole run, the
//! first 50 unexpected answers, and what the scheduler achieved. Answers
//! that arrive after the last window (jobs finishing after the deadline)
//! are counted in the last window, so the windows add up to the totals.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderValue};
use reqwest::{RequestBuilder, Url};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

use crate::client::{Voter, WINNERS, http_client};
use crate::sse::SseParser;
use crate::stats::{CpuMeter, Resident, nearest_rank};

/// Options of `soak`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server root on a loopback address, e.g. `http://127.0.0.1:8080`.
    #[arg(long)]
    url: String,
    /// Battle arrivals per second.
    #[arg(long)]
    rate: f64,
    /// Seconds of traffic.
    #[arg(long, default_value_t = 30.0)]
    duration_secs: f64,
    /// Seconds between exports.
    #[arg(long, default_value_t = 10.0)]
    export_every_secs: f64,
    /// Simulated voters (cookies); each battle draws one.
    #[arg(long, default_value_t = 50)]
    voters: usize,
    /// Jobs (battles, reads, exports) running at most at once; arrivals
    /// beyond are skipped and counted. An eighth of it (at least 4) is
    /// kept for reads and exports.
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Limit on each request, event streams and exports included, seconds;
    /// also the time jobs still running at the deadline get to finish.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Researcher token for the exports (from the environment, so that it
    /// does not show in the process list); without it no export is sent.
    #[arg(long, env = "ARENA_SOAK_RESEARCHER_TOKEN", hide_env_values = true)]
    researcher_token: Option<String>,
    /// Server process whose memory is sampled every second.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seed of the draws (voter, prompt, second turn, read, abandon, vote).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Length of a recording window, seconds.
    #[arg(long, default_value_t = 10)]
    window_secs: u64,
}

/// Prompts of new battles (those of the Python soak).
const PROMPTS: [&str; 6] = [
    "Explain the difference between a list and a tuple in Python.",
    "Write a haiku about the sea.",
    "What is the capital of Australia, and why is it not Sydney?",
    "Give me three tips for writing clear commit messages.",
    "Summarize the plot of Hamlet in two sentences.",
    "How do I reverse a linked list? Show code.",
];

/// The leaderboard views read in turn.
const LEADERBOARDS: [&str; 4] = [
    "/api/v1/leaderboard",
    "/api/v1/leaderboard?method=elo",
    "/api/v1/leaderboard/matrix?kind=win_rate",
    "/api/v1/leaderboard/categories",
];

/// Export formats asked for in turn.
const EXPORT_FORMATS: [&str; 3] = ["jsonl", "csv", "parquet"];

/// Bytes of an answer's body kept (for the battle id and error samples);
/// the rest of a large body (an export) is read and dropped.
const KEEP_BODY: usize = 64 * 1024;

/// Unexpected answers kept as samples, and the characters kept of each body.
const MAX_SAMPLES: usize = 50;
const SAMPLE_CHARS: usize = 300;

/// Runs the soak and returns its JSON summary.
pub async fn run(args: Args) -> anyhow::Result<Value> {
    let base = loopback_base(&args.url)?;
    ensure!(
        args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0,
        "--rate must be in (0, 100000]"
    );
    ensure!(
        args.duration_secs.is_finite() && args.duration_secs > 0.0 && args.duration_secs <= 3600.0,
        "--duration-secs must be in (0, 3600]"
    );
    ensure!(
        args.export_every_secs.is_finite() && args.export_every_secs > 0.0,
        "--export-every-secs must be positive"
    );
    ensure!(
        args.voters > 0 && args.max_in_flight > 0 && args.window_secs > 0,
        "--voters, --max-in-flight and --window-secs must be positive"
    );
    let researcher = match &args.researcher_token {
        Some(token) => Some(
            HeaderValue::from_str(&format!("Bearer {token}"))
                .context("the researcher token is not a valid header value")?,
        ),
        None => {
            eprintln!("soak: no researcher token, so no exports");
            None
        }
    };
    let duration = Duration::from_secs_f64(args.duration_secs);
    let window = Duration::from_secs(args.window_secs);
    let timeout = Duration::from_secs(args.timeout_secs);
    let read_rate = (args.rate / 2.0).max(1.0);
    eprintln!(
        "soak: {} s against {base}: {} battles/s, {read_rate} leaderboard reads/s, an export every {} s, at most {} jobs in flight",
        args.duration_secs, args.rate, args.export_every_secs, args.max_in_flight
    );

    let start = Instant::now();
    let soak = Arc::new(Soak {
        http: http_client()?,
        base,
        timeout,
        voters: (0..args.voters).map(|_| Voter::new()).collect(),
        researcher,
        recorder: Recorder::new(start, window, duration),
    });
    let meter = CpuMeter::start(args.server_pid);
    let permits = Arc::new(Semaphore::new(args.max_in_flight));
    let sampler = tokio::spawn(sample_memory(
        Arc::clone(&soak),
        Arc::clone(&permits),
        args.server_pid,
        args.max_in_flight,
    ));

    let mut scheduler = Scheduler {
        soak: Arc::clone(&soak),
        permits,
        max_in_flight: args.max_in_flight,
        reserve: (args.max_in_flight / 8).max(4).min(args.max_in_flight - 1),
        jobs: JoinSet::new(),
        rng: StdRng::seed_from_u64(args.seed),
        counts: [ArrivalCounts::default(); 3],
        lag_us: Vec::new(),
        peak_in_flight: 0,
    };
    let deadline = start + duration;
    let intervals = [
        Duration::from_secs_f64(1.0 / args.rate),
        Duration::from_secs_f64(1.0 / read_rate),
        Duration::from_secs_f64(args.export_every_secs),
    ];
    let mut due = [start; 3];
    if soak.researcher.is_none() {
        due[Stream::Export as usize] = deadline;
    }
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        scheduler.reap();
        for stream in Stream::ALL {
            let i = stream as usize;
            // Catch up on every arrival that is due: open loop, so a late
            // scheduler sends a burst rather than quietly lowering the rate.
            while due[i] <= now {
                scheduler.arrive(stream, now.duration_since(due[i]));
                due[i] += intervals[i];
            }
        }
        let next = due.iter().copied().min().unwrap_or(deadline).min(deadline);
        tokio::time::sleep_until(next.into()).await;
    }
    let traffic_s = start.elapsed().as_secs_f64();

    // Jobs still running get one request timeout to finish; whatever is
    // left then is cut and counted against the server.
    let drain_start = Instant::now();
    let finished = tokio::time::timeout(timeout, async {
        while let Some(result) = scheduler.jobs.join_next().await {
            scheduler.finished(result);
        }
    })
    .await;
    let cut = if finished.is_err() {
        let cut = scheduler.jobs.len();
        scheduler.jobs.abort_all();
        while scheduler.jobs.join_next().await.is_some() {}
        for _ in 0..cut {
            soak.recorder.request(
                "job",
                Status::Other("cut at end"),
                timeout,
                Class::Transport,
                || format!("still running {} s after the deadline", timeout.as_secs()),
            );
        }
        cut
    } else {
        0
    };
    let drain_s = drain_start.elapsed().as_secs_f64();
    if let Err(error) = sampler.await {
        eprintln!("soak: the memory sampler failed: {error}");
    }

    let started = scheduler.counts[Stream::Battle as usize].started;
    let cpu = meter.finish(started);
    let skipped: u64 = scheduler.counts.iter().map(|c| c.skipped).sum();
    let mut arrivals = serde_json::Map::new();
    for stream in Stream::ALL {
        let counts = scheduler.counts[stream as usize];
        arrivals.insert(
            stream.name().to_owned(),
            json!({"due": counts.due, "started": counts.started, "skipped": counts.skipped}),
        );
    }
    scheduler.lag_us.sort_unstable();
    let scheduler_json = json!({
        "skipped_arrivals": skipped,
        "arrivals": arrivals,
        "offered_battle_rate_per_s": round(scheduler.counts[Stream::Battle as usize].due as f64 / traffic_s, 1),
        "achieved_battle_rate_per_s": round(started as f64 / traffic_s, 1),
        "traffic_s": round(traffic_s, 3),
        "drain_s": round(drain_s, 3),
        "jobs_cut_at_end": cut,
        "peak_in_flight": scheduler.peak_in_flight,
        "reserved_for_reads_and_exports": scheduler.reserve,
        "battle_dispatch_lag_ms": latency_json(&scheduler.lag_us),
    });
    let mut summary = soak.recorder.summary();
    summary["benchmark"] = json!("soak");
    summary["url"] = json!(soak.base);
    summary["duration_s"] = json!(args.duration_secs);
    summary["battle_rate_per_s"] = json!(args.rate);
    summary["leaderboard_rate_per_s"] = json!(read_rate);
    summary["export_every_s"] = json!(args.export_every_secs);
    summary["voters"] = json!(args.voters);
    summary["max_in_flight"] = json!(args.max_in_flight);
    summary["timeout_s"] = json!(args.timeout_secs);
    summary["window_s"] = json!(args.window_secs);
    summary["percentiles"] = json!("nearest rank over every sample, milliseconds");
    summary["scheduler"] = scheduler_json;
    summary["cpu"] = cpu;
    Ok(summary)
}

/// The server root, refused unless it is plain HTTP on a loopback address:
/// a soak sends hundreds of requests a second and must never be pointed
/// at a machine that is not the one running it.
fn loopback_base(url: &str) -> anyhow::Result<String> {
    let parsed = Url::parse(url).with_context(|| format!("bad --url {url:?}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if parsed.scheme() != "http" || !loopback {
        bail!("--url must be http:// on a loopback address (127.0.0.1), not {url:?}");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

// ------------------------------------------------------------ scheduling

/// The three arrival streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Battle = 0,
    Leaderboard = 1,
    Export = 2,
}

impl Stream {
    const ALL: [Stream; 3] = [Stream::Battle, Stream::Leaderboard, Stream::Export];

    fn name(self) -> &'static str {
        match self {
            Stream::Battle => "battle",
            Stream::Leaderboard => "leaderboard",
            Stream::Export => "export",
        }
    }
}

/// Arrivals of one stream.
#[derive(Debug, Clone, Copy, Default)]
struct ArrivalCounts {
    /// Arrivals the clock asked for.
    due: u64,
    /// Jobs started.
    started: u64,
    /// Arrivals dropped because the bound on jobs in flight was reached.
    skipped: u64,
}

/// The scheduler's state: it alone draws random numbers, so a run's
/// choices depend on the seed only, not on the order tasks run in.
struct Scheduler {
    soak: Arc<Soak>,
    permits: Arc<Semaphore>,
    max_in_flight: usize,
    /// Permits battles leave to reads and exports.
    reserve: usize,
    jobs: JoinSet<()>,
    rng: StdRng,
    counts: [ArrivalCounts; 3],
    /// How late each battle arrival was sent, µs: a scheduler that falls
    /// behind would otherwise pass for a slow server.
    lag_us: Vec<u32>,
    peak_in_flight: usize,
}

impl Scheduler {
    /// One arrival of `stream`, `lag` after it was due.
    fn arrive(&mut self, stream: Stream, lag: Duration) {
        let counts = &mut self.counts[stream as usize];
        counts.due += 1;
        if stream == Stream::Battle {
            self.lag_us.push(micros(lag));
        }
        // Battles last seconds, reads and exports milliseconds: on an
        // overloaded server battles would hold every permit and the short
        // jobs would stop, and a soak that stops exporting under load does
        // not test exports under load. So battles leave a reserve. Only
        // this task takes permits, so the check cannot race another taker.
        let reserve = if stream == Stream::Battle {
            self.reserve
        } else {
            0
        };
        let permit = if self.permits.available_permits() > reserve {
            Arc::clone(&self.permits).try_acquire_owned().ok()
        } else {
            None
        };
        let Some(permit) = permit else {
            counts.skipped += 1;
            self.soak.recorder.note("skipped_arrivals");
            return;
        };
        let sequence = counts.started;
        counts.started += 1;
        let soak = Arc::clone(&self.soak);
        match stream {
            Stream::Battle => {
                let plan = BattlePlan::draw(&mut self.rng, soak.voters.len());
                self.jobs.spawn(async move {
                    soak.battle(plan).await;
                    drop(permit);
                });
            }
            Stream::Leaderboard => {
                let path = LEADERBOARDS[sequence as usize % LEADERBOARDS.len()];
                self.jobs.spawn(async move {
                    soak.leaderboard(path).await;
                    drop(permit);
                });
            }
            Stream::Export => {
                let format = EXPORT_FORMATS[sequence as usize % EXPORT_FORMATS.len()];
                self.jobs.spawn(async move {
                    soak.export(format).await;
                    drop(permit);
                });
            }
        }
        let in_flight = self.max_in_flight - self.permits.available_permits();
        self.peak_in_flight = self.peak_in_flight.max(in_flight);
    }

    /// Collects finished jobs, so the set does not grow with the run.
    fn reap(&mut self) {
        while let Some(result) = self.jobs.try_join_next() {
            self.finished(result);
        }
    }

    /// A job ended; a panic is a bug of this client and must not pass
    /// silently.
    fn finished(&self, result: Result<(), JoinError>) {
        if let Err(error) = result
            && error.is_panic()
        {
            self.soak.recorder.request(
                "script",
                Status::Other("panic"),
                Duration::ZERO,
                Class::Transport,
                || format!("a job panicked: {error}"),
            );
        }
    }
}

/// What a battle will do, drawn when it arrives.
#[derive(Debug, Clone, Copy)]
struct BattlePlan {
    voter: usize,
    prompt: &'static str,
    second_turn: bool,
    read: bool,
    abandon_if_failed: bool,
    winner: &'static str,
}

impl BattlePlan {
    /// Draws a battle's plan: a voter among `voters`, a prompt, a winner,
    /// and 10 % second turns, 10 % reads, half the failed battles abandoned.
    fn draw(rng: &mut StdRng, voters: usize) -> Self {
        BattlePlan {
            voter: rng.random_range(0..voters),
            prompt: PROMPTS[rng.random_range(0..PROMPTS.len())],
            second_turn: rng.random_bool(0.1),
            read: rng.random_bool(0.1),
            abandon_if_failed: rng.random_bool(0.5),
            winner: WINNERS[rng.random_range(0..WINNERS.len())],
        }
    }
}

/// Samples the server's memory every second until the deadline, and prints
/// each finished window's figures to standard error as progress.
async fn sample_memory(
    soak: Arc<Soak>,
    permits: Arc<Semaphore>,
    server_pid: Option<u32>,
    max_in_flight: usize,
) {
    let recorder = &soak.recorder;
    let mut ticks = tokio::time::interval_at(recorder.start.into(), Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut reported = 0;
    loop {
        let tick = ticks.tick().await.into_std();
        if tick >= recorder.deadline {
            break;
        }
        if let Some(pid) = server_pid
            && let Some(resident) = Resident::read(pid)
        {
            recorder.sample_memory(resident);
        }
        let current = recorder.window_of(tick);
        if current > reported {
            let in_flight = max_in_flight - permits.available_permits();
            eprintln!(
                "soak: {} ({in_flight} in flight)",
                recorder.progress(reported)
            );
            reported = current;
        }
    }
    eprintln!("soak: {}", recorder.progress(reported));
}

// -------------------------------------------------------------- traffic

/// What every job shares.
struct Soak {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
    voters: Vec<Voter>,
    researcher: Option<HeaderValue>,
    recorder: Recorder,
}

/// How an answer counts: `ok` when its status is `ok`, `expected` for a 409
/// whose error code is in `conflicts`, else a server error (5xx) or an
/// unexpected 4xx.
fn classify(status: u16, ok: u16, code: Option<&str>, conflicts: &[&str]) -> Class {
    if status == ok {
        Class::Ok
    } else if status == 409 && code.is_some_and(|c| conflicts.contains(&c)) {
        Class::Expected
    } else if status >= 500 {
        Class::ServerError
    } else {
        Class::Unexpected4xx
    }
}

/// An answer's status and the first `KEEP_BODY` bytes of its body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Soak {
    /// A JSON POST as `voter`.
    fn post(&self, path: &str, voter: &Voter, body: &Value) -> RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, voter.cookie().clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }

    /// One battle, as `scripts/soak` describes it.
    async fn battle(&self, plan: BattlePlan) {
        let voter = &self.voters[plan.voter];
        let create = self.post("/api/v1/battles", voter, &json!({"prompt": plan.prompt}));
        let Some(created) = self.call("create", create, 201, &["no_models"]).await else {
            return;
        };
        if created.status != 201 {
            return;
        }
        let Some(id) = battle_id(&created.body) else {
            // 201 without an id: the server broke its contract.
            self.recorder.request(
                "script",
                Status::Other("create without battle_id"),
                Duration::ZERO,
                Class::ServerError,
                || String::from_utf8_lossy(&created.body).into_owned(),
            );
            return;
        };
        let Some(mut failed) = self.stream(voter, &id).await else {
            return;
        };
        self.recorder.note(if failed {
            "battles_failed_side"
        } else {
            "battles_complete"
        });
        if !failed && plan.second_turn {
            let turn = self.post(
                &format!("/api/v1/battles/{id}/turns"),
                voter,
                &json!({"prompt": "Say more."}),
            );
            let answer = self.call("turn", turn, 201, &["battle_failed"]).await;
            if answer.is_some_and(|a| a.status == 201) {
                let Some(again) = self.stream(voter, &id).await else {
                    return;
                };
                failed = again;
            }
        }
        if plan.read {
            let read = self
                .http
                .get(format!("{}/api/v1/battles/{id}", self.base))
                .header(COOKIE, voter.cookie().clone());
            self.call("read", read, 200, &[]).await;
        }
        if failed && plan.abandon_if_failed {
            return; // a person gives up on a failed battle half the time
        }
        let vote = self.post(
            &format!("/api/v1/battles/{id}/vote"),
            voter,
            &json!({"winner": plan.winner}),
        );
        let conflicts: &[&str] = if failed { &["battle_failed"] } else { &[] };
        self.call("vote", vote, 200, conflicts).await;
    }

    /// One leaderboard read.
    async fn leaderboard(&self, path: &str) {
        let request = self.http.get(format!("{}{path}", self.base));
        self.call("leaderboard", request, 200, &[]).await;
    }

    /// One export, read to the end.
    async fn export(&self, format: &str) {
        let Some(token) = &self.researcher else {
            return;
        };
        let request = self
            .http
            .get(format!("{}/api/v1/export?format={format}", self.base))
            .header(AUTHORIZATION, token.clone());
        self.call("export", request, 200, &[]).await;
    }

    /// Sends one request, reads its body to the end and records it: `ok`
    /// when the status is `ok`, `expected` for a 409 whose code is in
    /// `conflicts`. `None` on a transport error.
    async fn call(
        &self,
        kind: &'static str,
        request: RequestBuilder,
        ok: u16,
        conflicts: &[&str],
    ) -> Option<Answer> {
        let started = Instant::now();
        let result = async {
            let mut response = request.timeout(self.timeout).send().await?;
            let status = response.status().as_u16();
            let json = is_json(&response);
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                let room = KEEP_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok::<_, reqwest::Error>((status, json, body))
        }
        .await;
        let elapsed = started.elapsed();
        match result {
            Err(error) => {
                self.transport_error(kind, elapsed, || describe(&error));
                None
            }
            Ok((status, json, body)) => {
                let code = if status >= 400 && json {
                    error_code(&body)
                } else {
                    None
                };
                let class = classify(status, ok, code.as_deref(), conflicts);
                self.recorder
                    .request(kind, Status::Http(status, code), elapsed, class, || {
                        String::from_utf8_lossy(&body).into_owned()
                    });
                Some(Answer { status, body })
            }
        }
    }

    /// Records a request that got no answer (connection, timeout, cut body).
    fn transport_error(
        &self,
        kind: &'static str,
        elapsed: Duration,
        detail: impl FnOnce() -> String,
    ) {
        self.recorder.request(
            kind,
            Status::Other("transport"),
            elapsed,
            Class::Transport,
            detail,
        );
    }

    /// Reads a battle's event stream to its close and records it; whether
    /// a side failed (an `error` event), or `None` when the stream failed:
    /// a bad status, a transport error, or no `end` event (a server error,
    /// since the server always ends a turn's stream with `end`).
    async fn stream(&self, voter: &Voter, id: &str) -> Option<bool> {
        let started = Instant::now();
        let sent = self
            .http
            .get(format!("{}/api/v1/battles/{id}/events", self.base))
            .header(COOKIE, voter.cookie().clone())
            .header(ACCEPT, "text/event-stream")
            .timeout(self.timeout)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                self.transport_error("events", started.elapsed(), || describe(&error));
                return None;
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            let json = is_json(&response);
            let body = response.bytes().await.unwrap_or_default();
            let code = if json { error_code(&body) } else { None };
            let class = classify(status, 200, code.as_deref(), &[]);
            self.recorder.request(
                "events",
                Status::Http(status, code),
                started.elapsed(),
                class,
                || String::from_utf8_lossy(&body).into_owned(),
            );
            return None;
        }
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let mut first_byte = None;
        let (mut seen, mut failed, mut ended) = (0usize, false, false);
        // Read to the close rather than stopping at `end`: the server
        // closes right after it, and a finished body lets the connection
        // go back to the pool instead of leaving a socket in TIME_WAIT per
        // battle (hundreds a second would exhaust the ephemeral ports).
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    first_byte.get_or_insert_with(|| started.elapsed());
                    parser.feed(&chunk, &mut events);
                    for event in events.drain(..) {
                        seen += 1;
                        match event.name.as_str() {
                            "error" => failed = true,
                            "end" => ended = true,
                            _ => {}
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    self.transport_error("events", started.elapsed(), || {
                        format!("after {seen} events: {}", describe(&error))
                    });
                    return None;
                }
            }
        }
        let elapsed = started.elapsed();
        if ended {
            self.recorder.request(
                "events",
                Status::Http(200, None),
                elapsed,
                Class::Ok,
                String::new,
            );
        } else {
            self.recorder.request(
                "events",
                Status::Other("200 no-end"),
                elapsed,
                Class::ServerError,
                || format!("stream closed before `end` after {seen} events"),
            );
        }
        if let Some(first_byte) = first_byte {
            self.recorder.latency("events_first_byte", first_byte);
        }
        ended.then_some(failed)
    }
}

/// True when the answer says it is JSON (error bodies are).
fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `battle_id` of a create answer.
fn battle_id(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    Some(value["battle_id"].as_str()?.to_owned())
}

/// `error.code` of an error answer (`{"error": {"code": …}}`).
fn error_code(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    Some(value["error"]["code"].as_str()?.to_owned())
}

/// A transport error with its causes (reqwest's own message is terse:
/// "error sending request"; the cause says refused, reset or timed out).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_timeout() {
        text.push_str(" (timeout)");
    }
    text
}

// ------------------------------------------------------------- recording

/// How an answer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ok = 0,
    Expected = 1,
    Unexpected4xx = 2,
    ServerError = 3,
    Transport = 4,
}

impl Class {
    const NAMES: [&'static str; 5] = [
        "ok",
        "expected",
        "unexpected_4xx",
        "server_error",
        "transport",
    ];

    fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// An answer's status as reported: the HTTP status with the error code of
/// its body (`409 battle_failed`), or what happened instead of an answer.
#[derive(Debug, Clone)]
enum Status {
    Http(u16, Option<String>),
    Other(&'static str),
}

impl Status {
    fn label(&self) -> String {
        match self {
            Status::Http(status, Some(code)) => format!("{status} {code}"),
            Status::Http(status, None) => status.to_string(),
            Status::Other(what) => (*what).to_owned(),
        }
    }

    /// A number when it is a bare HTTP status, as the Python soak wrote it.
    fn to_json(&self) -> Value {
        match self {
            Status::Http(status, None) => json!(status),
            _ => json!(self.label()),
        }
    }
}

/// One window's records.
#[derive(Debug, Default)]
struct Window {
    requests: u64,
    /// Requests by kind.
    by_kind: BTreeMap<&'static str, u64>,
    /// Events that are not requests (`battles_complete`, …).
    notes: BTreeMap<&'static str, u64>,
    by_status: BTreeMap<String, u64>,
    by_class: [u64; 5],
    /// Latency samples by kind, µs, in arrival order.
    latency: BTreeMap<&'static str, Vec<u32>>,
    /// `VmRSS` samples, KiB.
    rss: Vec<u64>,
    /// `RssAnon` samples (heap and stacks), KiB.
    rss_anon: Vec<u64>,
    /// The window's last memory sample.
    rss_parts: Option<Resident>,
}

/// Everything recorded, behind one lock: a few thousand records a second
/// make no contention worth a cleverer structure.
#[derive(Debug, Default)]
struct Record {
    windows: Vec<Window>,
    /// `"{kind} {status}"` over the run.
    kind_status: BTreeMap<String, u64>,
    unexpected: Vec<Value>,
}

/// Thread-safe per-window counters, latencies and memory samples.
struct Recorder {
    start: Instant,
    deadline: Instant,
    window: Duration,
    record: Mutex<Record>,
}

impl Recorder {
    fn new(start: Instant, window: Duration, duration: Duration) -> Self {
        // Windows 0..=last cover the run; a partial last window counts.
        let last = ((duration.as_secs_f64() - 1e-3).max(0.0) / window.as_secs_f64()) as usize;
        let windows = (0..=last).map(|_| Window::default()).collect();
        Self {
            start,
            deadline: start + duration,
            window,
            record: Mutex::new(Record {
                windows,
                ..Record::default()
            }),
        }
    }

    /// The window `at` falls in; after the run, the last one.
    fn window_of(&self, at: Instant) -> usize {
        (at.saturating_duration_since(self.start).as_secs_f64() / self.window.as_secs_f64())
            as usize
    }

    fn with<R>(&self, f: impl FnOnce(&mut Record, usize) -> R) -> R {
        let w = self.window_of(Instant::now());
        // A panic elsewhere while holding the lock leaves counters that
        // are still counters: keep recording.
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        let w = w.min(record.windows.len() - 1);
        f(&mut record, w)
    }

    /// Records one answer (or its absence); `detail` is only built for the
    /// unexpected ones that are kept as samples.
    fn request(
        &self,
        kind: &'static str,
        status: Status,
        elapsed: Duration,
        class: Class,
        detail: impl FnOnce() -> String,
    ) {
        let label = status.label();
        let t = self.start.elapsed().as_secs_f64();
        self.with(|record, w| {
            let window = &mut record.windows[w];
            window.requests += 1;
            *window.by_kind.entry(kind).or_default() += 1;
            window.by_class[class as usize] += 1;
            window
                .latency
                .entry(kind)
                .or_default()
                .push(micros(elapsed));
            *window.by_status.entry(label.clone()).or_default() += 1;
            *record
                .kind_status
                .entry(format!("{kind} {label}"))
                .or_default() += 1;
            let bad = matches!(
                class,
                Class::Unexpected4xx | Class::ServerError | Class::Transport
            );
            if bad && record.unexpected.len() < MAX_SAMPLES {
                let detail: String = detail().chars().take(SAMPLE_CHARS).collect();
                record.unexpected.push(json!({
                    "t": round(t, 1),
                    "kind": kind,
                    "status": status.to_json(),
                    "class": class.name(),
                    "detail": detail,
                }));
            }
        });
    }

    /// A latency that is not a request of its own (the first event byte).
    fn latency(&self, kind: &'static str, elapsed: Duration) {
        self.with(|record, w| {
            record.windows[w]
                .latency
                .entry(kind)
                .or_default()
                .push(micros(elapsed));
        });
    }

    /// Counts one event that is not a request.
    fn note(&self, name: &'static str) {
        self.with(|record, w| *record.windows[w].notes.entry(name).or_default() += 1);
    }

    fn sample_memory(&self, resident: Resident) {
        self.with(|record, w| {
            let window = &mut record.windows[w];
            window.rss.push(resident.vm_rss);
            window.rss_anon.push(resident.rss_anon);
            window.rss_parts = Some(resident);
        });
    }

    /// One line on window `w` for the progress output.
    fn progress(&self, w: usize) -> String {
        let record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(window) = record.windows.get(w) else {
            return String::new();
        };
        let bad: u64 = window.by_class[2..].iter().sum();
        format!(
            "{:>4} s: {} requests, {} battles complete, {} unexpected, {} skipped arrivals, RSS {} MiB",
            w as u64 * self.window.as_secs(),
            window.requests,
            window.notes.get("battles_complete").copied().unwrap_or(0),
            bad,
            window.notes.get("skipped_arrivals").copied().unwrap_or(0),
            window.rss.iter().max().map_or(0, |kib| kib / 1024),
        )
    }

    /// The per-window and whole-run figures (the part of the summary that
    /// comes from the records).
    fn summary(&self) -> Value {
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        let mut overall: BTreeMap<&'static str, Vec<u32>> = BTreeMap::new();
        let mut windows = Vec::new();
        let window_s = self.window.as_secs();
        for (w, window) in record.windows.iter_mut().enumerate() {
            *totals.entry("requests".into()).or_default() += window.requests;
            for (class, &count) in Class::NAMES.iter().zip(&window.by_class) {
                if count > 0 {
                    *totals.entry(format!("class:{class}")).or_default() += count;
                }
            }
            let mut latency = serde_json::Map::new();
            for (kind, values) in &mut window.latency {
                overall.entry(kind).or_default().extend_from_slice(values);
                values.sort_unstable();
                latency.insert((*kind).to_owned(), latency_json(values));
            }
            for (name, &count) in &window.notes {
                *totals.entry((*name).to_owned()).or_default() += count;
            }
            // by_kind holds the notes too, as the Python soak had it.
            let mut by_kind = window.by_kind.clone();
            by_kind.extend(&window.notes);
            let bad: u64 = window.by_class[2..].iter().sum();
            let error_rate = if window.requests > 0 {
                round(bad as f64 / window.requests as f64, 4)
            } else {
                0.0
            };
            windows.push(json!({
                "window": w,
                "t_start_s": w as u64 * window_s,
                "requests": window.requests,
                "by_kind": by_kind,
                "by_status": window.by_status,
                "expected_conflicts": window.by_class[Class::Expected as usize],
                "server_errors": window.by_class[Class::ServerError as usize],
                "transport_errors": window.by_class[Class::Transport as usize],
                "unexpected_4xx": window.by_class[Class::Unexpected4xx as usize],
                "error_rate": error_rate,
                "latency_ms": latency,
                "rss_samples_kib": window.rss,
                "rss_max_kib": window.rss.iter().max(),
                "rss_anon_samples_kib": window.rss_anon,
                "rss_last_parts_kib": window.rss_parts.map(Resident::to_json),
            }));
        }
        for (key, &count) in &record.kind_status {
            totals.insert(key.clone(), count);
        }
        let mut latency_overall = serde_json::Map::new();
        for (kind, values) in &mut overall {
            values.sort_unstable();
            latency_overall.insert((*kind).to_owned(), latency_json(values));
        }
        json!({
            "totals": totals,
            "latency_ms_overall": latency_overall,
            "windows": windows,
            "unexpected_samples": record.unexpected,
        })
    }
}

/// `{p50, p95, p99, max, n}` in milliseconds of sorted µs samples.
fn latency_json(sorted: &[u32]) -> Value {
    let Some(&max) = sorted.last() else {
        return json!({"n": 0});
    };
    let ms = |us: u32| round(f64::from(us) / 1000.0, 2);
    json!({
        "p50": ms(nearest_rank(sorted, 50.0)),
        "p95": ms(nearest_rank(sorted, 95.0)),
        "p99": ms(nearest_rank(sorted, 99.0)),
        "max": ms(max),
        "n": sorted.len(),
    })
}

/// A duration in whole microseconds (saturating at 71 minutes, longer
/// than any request of a run can take).
fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        assert_eq!(
            loopback_base("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(loopback_base("http://localhost:1").is_ok());
        assert!(loopback_base("http://[::1]:1").is_ok());
        assert!(loopback_base("http://10.0.0.1:8080").is_err());
        assert!(loopback_base("https://127.0.0.1:8080").is_err());
        assert!(loopback_base("http://example.com").is_err());
    }

    #[test]
    fn plans_depend_on_the_seed_only() {
        let plans = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..1000)
                .map(|_| {
                    let p = BattlePlan::draw(&mut rng, 50);
                    (p.voter, p.prompt, p.second_turn, p.read, p.winner)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(plans(7), plans(7));
        assert_ne!(plans(7), plans(8));
        let seconds = plans(7).iter().filter(|p| p.2).count();
        assert!((50..150).contains(&seconds), "{seconds} second turns");
    }

    #[test]
    fn records_fill_windows_and_totals() {
        let start = Instant::now() - Duration::from_secs(25);
        let recorder = Recorder::new(start, Duration::from_secs(10), Duration::from_secs(20));
        // 25 s after the start of a 20 s run: counted in the last window.
        recorder.request(
            "vote",
            Status::Http(200, None),
            Duration::from_millis(3),
            Class::Ok,
            String::new,
        );
        recorder.request(
            "vote",
            Status::Http(409, Some("battle_failed".into())),
            Duration::from_millis(5),
            Class::Expected,
            String::new,
        );
        recorder.request(
            "events",
            Status::Other("transport"),
            Duration::from_secs(1),
            Class::Transport,
            || "x".repeat(1000),
        );
        recorder.note("battles_complete");
        let summary = recorder.summary();
        let windows = summary["windows"].as_array().unwrap();
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[1]["requests"], 3);
        assert_eq!(windows[1]["by_status"]["409 battle_failed"], 1);
        assert_eq!(windows[1]["by_kind"]["battles_complete"], 1);
        assert_eq!(windows[1]["latency_ms"]["vote"]["p99"], 5.0);
        let totals = &summary["totals"];
        assert_eq!(totals["requests"], 3);
        assert_eq!(totals["class:transport"], 1);
        assert_eq!(totals["vote 409 battle_failed"], 1);
        assert_eq!(totals["battles_complete"], 1);
        assert!(totals.get("vote").is_none());
        let samples = summary["unexpected_samples"].as_array().unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0]["detail"].as_str().unwrap().len(), SAMPLE_CHARS);
    }
}
