//! A mock OpenAI-compatible server for Arena's tests and benchmarks.
//!
//! Serves `POST /v1/chat/completions` (streamed and not), `GET /v1/models`
//! and `GET /stats` (per-model counters: `requests`, `completed`,
//! `aborted` by the client, `broken` on purpose). What a completion does is
//! chosen by its `model` string, `+`-separated parts such as
//! `echo+pace:20+tag:t1`:
//!
//! | part | effect |
//! |---|---|
//! | `echo` (default) | answers `You said: <last user message>`, one chunk per word |
//! | `long:N` | answers N words instead |
//! | `inspect` | answers a line describing the request (roles, system prompt, `Authorization`, params, extra fields) |
//! | `leak` | the answer starts with `I am GPT-4 by OpenAI.` |
//! | `slow-first-token:MS` | waits MS milliseconds before the first content chunk (after the role chunk) |
//! | `pace:MS` | waits MS milliseconds between content chunks |
//! | `status:CODE` | answers CODE with an OpenAI-style error body (`Retry-After: 0` on 429) |
//! | `flaky:K` | the first K requests for this model string get a 503 |
//! | `cut:N` | breaks the connection after N content chunks, without `[DONE]` |
//! | `malformed:N` | sends a non-JSON `data:` line after N content chunks |
//! | `hang` | sends the headers, then nothing, until the client leaves |
//! | `keepalive` | `: keep-alive` comments between chunks, `finish_reason: ""` on content chunks, a usage-only last chunk |
//! | `nostream` | answers one JSON completion even when asked to stream |
//! | `tag:ANY` | ignored; gives a test its own counters |
//!
//! A usage-only chunk is also sent when the request asks for
//! `stream_options.include_usage`. Each stream runs on its own small task
//! writing to a bounded channel, so thousands of concurrent streams are
//! cheap.

mod answer;
mod behaviour;
mod stats;
mod stream;

use std::{io, net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::State,
    http::HeaderMap,
    response::Response,
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};

use crate::{behaviour::MODES, stats::Stats};

/// Pending connections the listener accepts; the default (1,024) is short
/// for a benchmark opening thousands of streams at once.
const BACKLOG: u32 = 8192;

/// The mock's routes, with fresh counters.
pub fn router() -> Router {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/stats", get(stats))
        .with_state(Arc::new(Stats::default()))
}

/// Binds `addr` (port 0 for any free port) with a long accept backlog.
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves the mock on `listener` until the process ends.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    axum::serve(listener, router()).await
}

/// Starts the mock on `127.0.0.1` at a free port, on the current Tokio
/// runtime, and returns its address. For tests.
pub async fn spawn() -> io::Result<SocketAddr> {
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener));
    Ok(addr)
}

async fn completions(
    State(stats): State<Arc<Stats>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    stream::respond(stats, headers, body).await
}

async fn models() -> Json<Value> {
    let data: Vec<Value> = MODES
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "arena-mock"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

async fn stats(State(stats): State<Arc<Stats>>) -> Json<Value> {
    Json(stats.to_json())
}
