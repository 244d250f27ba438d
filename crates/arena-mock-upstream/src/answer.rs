//! The text the mock answers, and its wire format.

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::behaviour::Behaviour;

/// Words cycled through by `long:N`.
const FILLER: &[&str] = &[
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog.",
];

/// The answer as tokens (each a word with its following space).
pub(crate) fn tokens(behaviour: &Behaviour, body: &Value, headers: &HeaderMap) -> Vec<String> {
    let mut text = String::new();
    if behaviour.leak {
        text.push_str("I am GPT-4 by OpenAI. ");
    }
    if behaviour.inspect {
        text.push_str(&inspect(body, headers));
    } else if let Some(n) = behaviour.long {
        let words: Vec<&str> = FILLER.iter().copied().cycle().take(n).collect();
        text.push_str(&words.join(" "));
    } else {
        let last_user = body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .unwrap_or("");
        if last_user.trim().is_empty() {
            text.push_str("You said nothing.");
        } else {
            text.push_str("You said: ");
            text.push_str(last_user);
        }
    }
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// A one-line description of the request, for tests of what was sent.
fn inspect(body: &Value, headers: &HeaderMap) -> String {
    const KNOWN: &[&str] = &[
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
    ];
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
    let system = messages
        .iter()
        .find(|m| m["role"] == "system")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("-");
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let mut extra: Vec<&str> = body
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .map(String::as_str)
        .filter(|k| !KNOWN.contains(k))
        .collect();
    extra.sort_unstable();
    let field = |key: &str| body.get(key).map_or("-".to_owned(), Value::to_string);
    format!(
        "roles={} system={system} auth={auth} temperature={} top_p={} max_tokens={} usage={} extra={}",
        roles.join(","),
        field("temperature"),
        field("top_p"),
        field("max_tokens"),
        body["stream_options"]["include_usage"],
        extra.join(","),
    )
}

/// One SSE event carrying a chunk.
pub(crate) fn chunk_event(model: &str, delta: &Value, finish_reason: &Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    });
    format!("data: {chunk}\n\n")
}

/// The usage-only last chunk (`choices` empty), as OpenAI sends it.
pub(crate) fn usage_event(model: &str, completion_tokens: usize) -> String {
    let chunk = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": usage(completion_tokens),
    });
    format!("data: {chunk}\n\n")
}

/// A whole, non-streamed completion.
pub(crate) fn completion(model: &str, tokens: &[String]) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": tokens.concat()},
            "finish_reason": "stop",
        }],
        "usage": usage(tokens.len()),
    })
}

fn usage(completion_tokens: usize) -> Value {
    json!({
        "prompt_tokens": 1,
        "completion_tokens": completion_tokens,
        "total_tokens": completion_tokens + 1,
    })
}
