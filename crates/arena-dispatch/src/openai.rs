//! The OpenAI-compatible backend: one streamed `POST …/chat/completions`.
//!
//! The request body is built with async-openai's request types (so field
//! names and shapes follow the API), then sent with our shared reqwest
//! client, and the response is read by our own lenient SSE and chunk
//! parsers (see [`crate::sse`] and [`crate::chunk`]). A server that ignores
//! `stream: true` and answers with one JSON completion is accepted too.

use std::time::{Duration, Instant};

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest,
};
use futures_util::StreamExt;
use reqwest::{StatusCode, header};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::time::timeout_at;

use crate::{
    BackendSpec, ChatMessage, DispatchConfig, Failure, FailureKind, Role,
    chunk::{self, Payload},
    side::{Flow, Sink},
    sse::{SseEvent, SseParser},
};

/// How long to wait for `[DONE]` (or the end of the body) once a
/// `finish_reason` arrived, before calling the answer done anyway.
const FINISH_GRACE: Duration = Duration::from_secs(2);

/// How much of an error body is kept for the logs.
const ERROR_BODY_CHARS: usize = 300;

/// Streams one answer from an OpenAI-compatible server into `sink`.
pub(crate) async fn generate(
    http: &reqwest::Client,
    config: &DispatchConfig,
    spec: &BackendSpec,
    messages: &[ChatMessage],
    sink: &mut Sink,
) -> Result<(), Failure> {
    let url = completions_url(&spec.base_url);
    let body = request_body(spec, messages)?;
    let first_token_deadline = sink.started() + config.first_token_timeout;
    let response = open(http, config, spec, &url, &body, first_token_deadline).await?;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        read_whole(response, sink, first_token_deadline).await
    } else {
        read_stream(response, sink, first_token_deadline).await
    }
}

/// `…/v1` + `/chat/completions`; a URL that already names the endpoint is
/// kept as is.
pub(crate) fn completions_url(base_url: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_owned()
    } else {
        format!("{base}/chat/completions")
    }
}

/// The JSON body: typed fields first, then `params.extra` on top.
pub(crate) fn request_body(spec: &BackendSpec, messages: &[ChatMessage]) -> Result<Value, Failure> {
    let params = &spec.params;
    #[allow(deprecated)] // `max_tokens` is what most OpenAI-compatible servers understand
    let request = CreateChatCompletionRequest {
        model: spec.model.clone(),
        messages: messages.iter().map(to_openai).collect(),
        stream: Some(true),
        stream_options: Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            ..Default::default()
        }),
        max_tokens: params.max_tokens,
        ..Default::default()
    };
    let mut body = serde_json::to_value(&request).map_err(|e| {
        Failure::new(
            FailureKind::UpstreamError,
            format!("cannot encode request: {e}"),
        )
    })?;
    if let Some(object) = body.as_object_mut() {
        // Set here rather than through the typed request, whose `f32`
        // fields would send 0.7 as 0.699999988.
        let floats = [("temperature", params.temperature), ("top_p", params.top_p)];
        for (key, value) in floats {
            if let Some(value) = value {
                object.insert(key.to_owned(), value.into());
            }
        }
        for (key, value) in &params.extra {
            if matches!(key.as_str(), "model" | "messages" | "stream") {
                continue;
            }
            if value.is_null() {
                object.remove(key);
            } else {
                object.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(body)
}

fn to_openai(message: &ChatMessage) -> ChatCompletionRequestMessage {
    let content = message.content.as_str();
    match message.role {
        Role::System => ChatCompletionRequestSystemMessage::from(content).into(),
        Role::User => ChatCompletionRequestUserMessage::from(content).into(),
        Role::Assistant => ChatCompletionRequestAssistantMessage::from(content).into(),
    }
}

/// Sends the request until it is accepted, retrying connection failures,
/// 429 and 5xx with exponential backoff while the first-token deadline
/// allows. Nothing has been shown yet at this point, so a retry is safe.
async fn open(
    http: &reqwest::Client,
    config: &DispatchConfig,
    spec: &BackendSpec,
    url: &str,
    body: &Value,
    first_token_deadline: Instant,
) -> Result<reqwest::Response, Failure> {
    let mut attempt: u32 = 0;
    loop {
        let mut request = http
            .post(url)
            .header(header::ACCEPT, "text/event-stream")
            .json(body);
        if let Some(key) = &spec.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let sent = timeout_at(first_token_deadline.into(), request.send())
            .await
            .map_err(|_| timeout_before_first_token(config))?;
        let (failure, retryable, retry_after) = match sent {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => status_failure(response).await,
            Err(error) => transport_failure(&error),
        };
        if !retryable || attempt >= config.max_retries {
            return Err(failure);
        }
        let backoff = config
            .retry_backoff
            .saturating_mul(2u32.saturating_pow(attempt));
        let delay = backoff.max(retry_after.unwrap_or_default());
        if Instant::now() + delay >= first_token_deadline {
            return Err(failure);
        }
        attempt += 1;
        tracing::debug!(attempt, kind = failure.kind.as_str(), detail = %failure.detail, ?delay, "retrying");
        tokio::time::sleep(delay).await;
    }
}

fn timeout_before_first_token(config: &DispatchConfig) -> Failure {
    Failure::new(
        FailureKind::Timeout,
        format!("no first token within {:?}", config.first_token_timeout),
    )
}

/// A failure from a non-success status, whether to retry it, and the
/// upstream's `Retry-After` (seconds form only).
async fn status_failure(response: reqwest::Response) -> (Failure, bool, Option<Duration>) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // The body explains the error; bounded so a slow error body cannot
    // hold the side.
    let body = tokio::time::timeout(Duration::from_secs(1), response.text())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let body: String = body.chars().take(ERROR_BODY_CHARS).collect();
    let detail = format!("status {status}: {body}");
    if status == StatusCode::TOO_MANY_REQUESTS {
        (
            Failure::new(FailureKind::RateLimited, detail),
            true,
            retry_after,
        )
    } else {
        let retryable = status.is_server_error();
        (
            Failure::new(FailureKind::UpstreamError, detail),
            retryable,
            retry_after,
        )
    }
}

fn transport_failure(error: &reqwest::Error) -> (Failure, bool, Option<Duration>) {
    let detail = error_chain(error);
    if error.is_builder() {
        (
            Failure::new(FailureKind::ConnectFailed, detail),
            false,
            None,
        )
    } else if error.is_connect() || error.is_timeout() {
        // The client has only a connect timeout, so a timeout here is one.
        (Failure::new(FailureKind::ConnectFailed, detail), true, None)
    } else {
        // Connected, but the connection broke before a response: nothing
        // was generated for us, so trying again is harmless.
        (Failure::new(FailureKind::UpstreamError, detail), true, None)
    }
}

/// reqwest's message plus its causes, which hold the useful part
/// ("connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads an SSE body chunk by chunk.
async fn read_stream(
    response: reqwest::Response,
    sink: &mut Sink,
    first_token_deadline: Instant,
) -> Result<(), Failure> {
    let mut body = response.bytes_stream();
    let mut parser = SseParser::default();
    let mut finished = false;
    loop {
        let next = if finished {
            match tokio::time::timeout(FINISH_GRACE, body.next()).await {
                Ok(next) => next,
                Err(_) => return Ok(()),
            }
        } else if sink.has_text() {
            body.next().await
        } else {
            // Role-only chunks and keep-alives do not count as a first token.
            timeout_at(first_token_deadline.into(), body.next())
                .await
                .map_err(|_| {
                    Failure::new(FailureKind::Timeout, "no first token before the deadline")
                })?
        };
        let (events, at_end) = match next {
            Some(Ok(bytes)) => (parser.feed(&bytes), false),
            Some(Err(error)) => {
                return Err(Failure::new(
                    FailureKind::StreamCut,
                    format!("stream broke: {}", error_chain(&error)),
                ));
            }
            None => (parser.finish().into_iter().collect(), true),
        };
        for event in events {
            match on_event(event, sink, &mut finished).await? {
                Flow::Continue => {}
                Flow::Stop => return Ok(()),
            }
        }
        if at_end {
            return if finished {
                Ok(())
            } else {
                Err(Failure::new(
                    FailureKind::StreamCut,
                    "stream ended without finish_reason or [DONE]",
                ))
            };
        }
    }
}

/// Handles one SSE event; `Stop` means the answer is complete.
async fn on_event(event: SseEvent, sink: &mut Sink, finished: &mut bool) -> Result<Flow, Failure> {
    if event.event == "error" {
        return Err(Failure::new(FailureKind::UpstreamError, event.data));
    }
    let payload = chunk::parse_payload(&event.data)
        .map_err(|detail| Failure::new(FailureKind::MalformedResponse, detail))?;
    match payload {
        Payload::Done => Ok(Flow::Stop),
        Payload::Error(message) => Err(Failure::new(FailureKind::UpstreamError, message)),
        Payload::Chunk(chunk) => {
            if let Some(tokens) = chunk.output_tokens {
                sink.set_output_tokens(tokens);
            }
            *finished |= chunk.finished;
            Ok(sink.push(&chunk.text).await)
        }
    }
}

/// Reads a whole, non-streamed completion.
async fn read_whole(
    response: reqwest::Response,
    sink: &mut Sink,
    first_token_deadline: Instant,
) -> Result<(), Failure> {
    let bytes = timeout_at(first_token_deadline.into(), response.bytes())
        .await
        .map_err(|_| Failure::new(FailureKind::Timeout, "no answer before the deadline"))?
        .map_err(|e| Failure::new(FailureKind::StreamCut, error_chain(&e)))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            FailureKind::MalformedResponse,
            format!("completion is not json: {e}"),
        )
    })?;
    match chunk::interpret(&value) {
        Payload::Chunk(chunk) => {
            if let Some(tokens) = chunk.output_tokens {
                sink.set_output_tokens(tokens);
            }
            sink.push(&chunk.text).await;
            Ok(())
        }
        Payload::Error(message) => Err(Failure::new(FailureKind::UpstreamError, message)),
        Payload::Done => Err(Failure::new(
            FailureKind::MalformedResponse,
            "bare [DONE] as body",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GenerationParams;

    fn spec(params: GenerationParams) -> BackendSpec {
        BackendSpec {
            base_url: "http://localhost:1/v1".into(),
            model: "m".into(),
            api_key: None,
            params,
            system_prompt: None,
        }
    }

    #[test]
    fn completions_url_appends_the_endpoint_once() {
        assert_eq!(
            completions_url("http://h/v1"),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            completions_url("http://h/v1/"),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            completions_url("http://h/v1/chat/completions"),
            "http://h/v1/chat/completions"
        );
    }

    #[test]
    fn body_has_typed_params_and_extra_on_top() {
        let mut extra = serde_json::Map::new();
        extra.insert("seed".into(), 7.into());
        extra.insert("stream_options".into(), Value::Null);
        extra.insert("model".into(), "hijack".into());
        let params = GenerationParams {
            temperature: Some(0.7),
            top_p: None,
            max_tokens: Some(64),
            extra,
        };
        let body = request_body(
            &spec(params),
            &[ChatMessage::system("s"), ChatMessage::user("hi")],
        )
        .unwrap();
        assert_eq!(body["model"], "m");
        assert_eq!(body["stream"], true);
        assert_eq!(body["temperature"], 0.7);
        assert_eq!(body["max_tokens"], 64);
        assert_eq!(body["seed"], 7);
        assert!(body.get("top_p").is_none());
        assert!(body.get("stream_options").is_none());
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][1]["content"], "hi");
    }

    #[test]
    fn body_asks_for_usage_by_default() {
        let body = request_body(
            &spec(GenerationParams::default()),
            &[ChatMessage::user("hi")],
        )
        .unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
    }
}
