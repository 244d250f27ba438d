//! Answering one completion request, streamed or whole.

use std::{io, sync::Arc, time::Duration};

use axum::{
    Json,
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::{
    answer,
    behaviour::Behaviour,
    stats::{Outcome, Stats},
};

type Frame = Result<Bytes, io::Error>;

/// Frames buffered per stream; small, so a slow client slows its stream.
const FRAME_BUFFER: usize = 8;

/// Pause before breaking a `cut` stream.
const CUT_DELAY: Duration = Duration::from_millis(20);

pub(crate) async fn respond(stats: Arc<Stats>, headers: HeaderMap, body: Value) -> Response {
    let model = body["model"].as_str().unwrap_or("echo").to_owned();
    let count = stats.request(&model);
    let behaviour = Behaviour::parse(&model);
    if let Some(code) = behaviour.status {
        return error(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    }
    if count <= behaviour.flaky {
        return error(StatusCode::SERVICE_UNAVAILABLE);
    }
    let tokens = answer::tokens(&behaviour, &body, &headers);
    let wants_stream = body["stream"].as_bool().unwrap_or(false) && !behaviour.nostream;
    if !wants_stream {
        tokio::time::sleep(behaviour.slow_first_token).await;
        stats.outcome(&model, Outcome::Completed);
        return Json(answer::completion(&model, &tokens)).into_response();
    }
    let include_usage = body["stream_options"]["include_usage"]
        .as_bool()
        .unwrap_or(false);
    let (tx, rx) = mpsc::channel(FRAME_BUFFER);
    tokio::spawn(async move {
        let outcome = produce(&behaviour, &model, &tokens, include_usage, &tx).await;
        stats.outcome(&model, outcome);
    });
    let mut response = Body::from_stream(ReceiverStream::new(rx)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn error(status: StatusCode) -> Response {
    let body = json!({"error": {
        "message": format!("mock error {}", status.as_u16()),
        "type": "mock_error",
        "code": status.as_u16(),
    }});
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
    }
    response
}

/// Writes the SSE frames of one answer; returns how the stream ended.
async fn produce(
    behaviour: &Behaviour,
    model: &str,
    tokens: &[String],
    include_usage: bool,
    tx: &mpsc::Sender<Frame>,
) -> Outcome {
    let send = |text: String| tx.send(Ok(Bytes::from(text)));
    if behaviour.hang {
        tx.closed().await;
        return Outcome::Aborted;
    }
    let role = json!({"role": "assistant", "content": ""});
    if send(answer::chunk_event(model, &role, &Value::Null))
        .await
        .is_err()
    {
        return Outcome::Aborted;
    }
    tokio::time::sleep(behaviour.slow_first_token).await;
    // Non-standard on purpose in keepalive mode: some servers send "".
    let finish = if behaviour.keepalive {
        json!("")
    } else {
        Value::Null
    };
    for (i, token) in tokens.iter().enumerate() {
        if Some(i) == behaviour.cut_after {
            return cut(tx).await;
        }
        if Some(i) == behaviour.malformed_after {
            let garbage = "data: {\"choices\": [{\"delta\": {\"content\": oops\n\n".to_owned();
            let _ = send(garbage).await;
            return Outcome::Broken;
        }
        if i > 0 && !behaviour.pace.is_zero() {
            tokio::time::sleep(behaviour.pace).await;
        }
        if behaviour.keepalive && send(": keep-alive\n\n".to_owned()).await.is_err() {
            return Outcome::Aborted;
        }
        let delta = json!({"content": token});
        if send(answer::chunk_event(model, &delta, &finish))
            .await
            .is_err()
        {
            return Outcome::Aborted;
        }
    }
    if behaviour.cut_after.is_some_and(|n| n >= tokens.len()) {
        return cut(tx).await;
    }
    let mut tail = answer::chunk_event(model, &json!({}), &json!("stop"));
    if include_usage || behaviour.keepalive {
        tail.push_str(&answer::usage_event(model, tokens.len()));
    }
    tail.push_str("data: [DONE]\n\n");
    if send(tail).await.is_err() {
        return Outcome::Aborted;
    }
    Outcome::Completed
}

/// An error frame makes the server drop the connection without ending the
/// chunked body, as a crashed upstream would.
async fn cut(tx: &mpsc::Sender<Frame>) -> Outcome {
    // Let the frames sent so far reach the client first: the server drops
    // whatever it still buffers when the body fails.
    tokio::time::sleep(CUT_DELAY).await;
    let _ = tx
        .send(Err(io::Error::new(io::ErrorKind::BrokenPipe, "mock cut")))
        .await;
    Outcome::Broken
}
