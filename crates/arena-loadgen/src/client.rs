//! The simulated voter: one battle from prompt to vote, timed step by step.
//!
//! Every request goes through one shared `reqwest::Client` (one connection
//! pool), as a real load balancer in front of many browsers would present
//! them: many keep-alive connections, each voter with its own cookie.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderValue};
use serde_json::json;

use crate::sse::{SseEvent, SseParser};

/// Builds the HTTP client shared by all simulated voters.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    // reqwest is built without a default TLS provider (the workspace picks
    // ring); only plain HTTP is used here, but the builder insists on one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")
}

/// Why a battle did not complete, as counted in the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl Failure {
    fn status(step: &str, status: StatusCode) -> Self {
        Self(format!("{step}_status_{}", status.as_u16()))
    }

    fn transport(step: &str, error: &reqwest::Error) -> Self {
        let what = if error.is_timeout() {
            "timeout"
        } else if error.is_connect() {
            "connect"
        } else {
            "transport"
        };
        Self(format!("{step}_{what}"))
    }
}

/// One simulated voter: the cookie the server would have set.
#[derive(Debug, Clone)]
pub struct Voter {
    cookie: HeaderValue,
}

impl Voter {
    /// A fresh voter. The server accepts any cookie value it could have
    /// issued (32+ hex digits), so no round trip is needed to get one.
    pub fn new() -> Self {
        let value = format!("arena_voter={}", uuid::Uuid::new_v4().simple());
        Self {
            cookie: HeaderValue::from_str(&value).expect("hex is a valid header value"),
        }
    }

    /// The `Cookie` header this voter sends.
    pub fn cookie(&self) -> &HeaderValue {
        &self.cookie
    }
}

/// When one delta reached the client.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Arrival time (when the read holding it returned).
    pub at: Instant,
    /// True when it came in the replay sent on connect rather than live:
    /// its timing says when the client connected, not how fast the server
    /// relays, so gap statistics leave it out.
    pub replayed: bool,
}

/// Timings of one complete battle.
#[derive(Debug, Clone)]
pub struct BattleTimes {
    /// When the create request was sent.
    pub started: Instant,
    /// `POST /battles` round trip.
    pub create: Duration,
    /// `GET …/events` from request to the end of the stream.
    pub stream: Duration,
    /// `POST …/vote` round trip.
    pub vote: Duration,
    /// Create start to vote answer.
    pub total: Duration,
    /// Deltas per side (only when arrivals are traced).
    pub arrivals: [Vec<Arrival>; 2],
    /// Delta events received, both sides.
    pub deltas: u64,
}

/// Options of a battle run.
#[derive(Debug, Clone)]
pub struct BattleOptions {
    /// Server root, without trailing slash.
    pub base: String,
    /// The prompt to send.
    pub prompt: String,
    /// Record each delta's arrival (the `streams` benchmark).
    pub trace: bool,
    /// Deltas arriving sooner than this after the stream's headers count
    /// as replayed.
    pub replay_window: Duration,
    /// Limit on each request, the event stream included.
    pub timeout: Duration,
}

/// The answers a vote may give, in the order runs cycle through them.
pub const WINNERS: [&str; 4] = ["model_a", "model_b", "tie", "both_bad"];

/// Runs one battle: create, stream to `end` (both sides `done`), vote.
pub async fn run_battle(
    http: &reqwest::Client,
    voter: &Voter,
    options: &BattleOptions,
    sequence: u64,
) -> Result<BattleTimes, Failure> {
    let started = Instant::now();
    let created = http
        .post(format!("{}/api/v1/battles", options.base))
        .header(COOKIE, voter.cookie.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"prompt": options.prompt}).to_string())
        .timeout(options.timeout)
        .send()
        .await
        .map_err(|e| Failure::transport("create", &e))?;
    if created.status() != StatusCode::CREATED {
        return Err(Failure::status("create", created.status()));
    }
    let body = created
        .bytes()
        .await
        .map_err(|e| Failure::transport("create", &e))?;
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["battle_id"].as_str().map(str::to_owned))
        .ok_or_else(|| Failure("create_bad_body".into()))?;
    let create = started.elapsed();

    let stream_start = Instant::now();
    let (arrivals, deltas) = stream_events(http, voter, options, &id).await?;
    let stream = stream_start.elapsed();

    let vote_start = Instant::now();
    let winner = WINNERS[(sequence % 4) as usize];
    let voted = http
        .post(format!("{}/api/v1/battles/{id}/vote", options.base))
        .header(COOKIE, voter.cookie.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(format!(r#"{{"winner":"{winner}"}}"#))
        .timeout(options.timeout)
        .send()
        .await
        .map_err(|e| Failure::transport("vote", &e))?;
    let status = voted.status();
    // Read the body so the connection goes back to the pool.
    let _ = voted.bytes().await;
    if status != StatusCode::OK {
        return Err(Failure::status("vote", status));
    }
    let vote = vote_start.elapsed();
    Ok(BattleTimes {
        started,
        create,
        stream,
        vote,
        total: started.elapsed(),
        arrivals,
        deltas,
    })
}

/// Which side an event's JSON names. The server writes `turn`, then `side`,
/// then the text, so the first `"side":"` is the field itself; this avoids
/// a full JSON parse per delta on a client that shares the CPU with the
/// server it measures.
fn side_of(data: &str) -> Option<usize> {
    let at = data.find(r#""side":""#)? + 8;
    match data.as_bytes().get(at)? {
        b'a' => Some(0),
        b'b' => Some(1),
        _ => None,
    }
}

/// Reads the event stream to its `end`, checking that both sides finished.
async fn stream_events(
    http: &reqwest::Client,
    voter: &Voter,
    options: &BattleOptions,
    id: &str,
) -> Result<([Vec<Arrival>; 2], u64), Failure> {
    let mut response = http
        .get(format!("{}/api/v1/battles/{id}/events", options.base))
        .header(COOKIE, voter.cookie.clone())
        .timeout(options.timeout)
        .send()
        .await
        .map_err(|e| Failure::transport("events", &e))?;
    if response.status() != StatusCode::OK {
        return Err(Failure::status("events", response.status()));
    }
    let headers_at = Instant::now();
    let mut parser = SseParser::default();
    let mut events: Vec<SseEvent> = Vec::new();
    let mut arrivals: [Vec<Arrival>; 2] = [Vec::new(), Vec::new()];
    let mut deltas = [0u64; 2];
    let mut done = [false; 2];
    let mut failed = false;
    let mut ended = false;
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| Failure::transport("events", &e))?;
        let Some(chunk) = chunk else { break };
        let at = Instant::now();
        let replayed = at.duration_since(headers_at) < options.replay_window;
        parser.feed(&chunk, &mut events);
        for event in events.drain(..) {
            match event.name.as_str() {
                "delta" => {
                    let side = side_of(&event.data).ok_or_else(|| Failure("bad_delta".into()))?;
                    deltas[side] += 1;
                    if options.trace {
                        arrivals[side].push(Arrival { at, replayed });
                    }
                }
                "done" => {
                    done[side_of(&event.data).ok_or_else(|| Failure("bad_done".into()))?] = true
                }
                "error" => failed = true,
                "end" => ended = true,
                _ => {}
            }
        }
        // The server closes the stream right after `end`; reading to the
        // close keeps the connection reusable.
    }
    if !ended {
        return Err(Failure("stream_without_end".into()));
    }
    if failed {
        return Err(Failure("side_error".into()));
    }
    if done != [true, true] || deltas.contains(&0) {
        return Err(Failure("side_incomplete".into()));
    }
    Ok((arrivals, deltas[0] + deltas[1]))
}

/// Streams one chat completion straight from an OpenAI-compatible upstream
/// (the mock), recording when each content chunk arrives: the baseline the
/// `streams` benchmark compares the server against.
pub async fn run_direct_stream(
    http: &reqwest::Client,
    base: &str,
    model: &str,
    prompt: &str,
    options: &BattleOptions,
) -> Result<Vec<Arrival>, Failure> {
    let body = json!({
        "model": model,
        "stream": true,
        "messages": [{"role": "user", "content": prompt}],
    });
    let mut response = http
        .post(format!("{base}/chat/completions"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .timeout(options.timeout)
        .send()
        .await
        .map_err(|e| Failure::transport("upstream", &e))?;
    if response.status() != StatusCode::OK {
        return Err(Failure::status("upstream", response.status()));
    }
    let headers_at = Instant::now();
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    let mut arrivals = Vec::new();
    let mut finished = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::transport("upstream", &e))?
    {
        let at = Instant::now();
        let replayed = at.duration_since(headers_at) < options.replay_window;
        parser.feed(&chunk, &mut events);
        for event in events.drain(..) {
            if event.data == "[DONE]" {
                finished = true;
            } else if event.data.contains(r#""content":""#)
                && !event.data.contains(r#""content":"""#)
            {
                arrivals.push(Arrival { at, replayed });
            }
        }
    }
    if !finished || arrivals.is_empty() {
        return Err(Failure("upstream_incomplete".into()));
    }
    Ok(arrivals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_side() {
        assert_eq!(side_of(r#"{"turn":1,"side":"a","text":"x"}"#), Some(0));
        assert_eq!(
            side_of(r#"{"turn":1,"side":"b","text":"\"side\":\"a"}"#),
            Some(1)
        );
        assert_eq!(side_of(r#"{"turn":1}"#), None);
    }
}
