//! Reading one streamed chat-completion chunk, leniently.
//!
//! Parsed as `serde_json::Value` rather than async-openai's chunk type,
//! whose strict fields reject real servers (a `finish_reason` of `""`, a
//! usage-only chunk without `choices`, missing `id` or `created`).

use serde_json::Value;

/// What one `data:` payload says.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Chunk {
    /// Answer text of the first choice (empty when none).
    pub text: String,
    /// A non-empty `finish_reason` was given.
    pub finished: bool,
    /// `usage.completion_tokens`, when present.
    pub output_tokens: Option<u64>,
}

/// The kinds of payload.
#[derive(Debug, PartialEq)]
pub(crate) enum Payload {
    /// `[DONE]`: the stream is complete.
    Done,
    /// A chunk, possibly carrying no text.
    Chunk(Chunk),
    /// An `{"error": …}` object: the upstream gave up mid-stream.
    Error(String),
}

/// Interprets one payload; `Err` holds a log detail for a payload that is
/// not JSON at all.
pub(crate) fn parse_payload(data: &str) -> Result<Payload, String> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(Payload::Done);
    }
    let value: Value = serde_json::from_str(data).map_err(|e| {
        let shown: String = data.chars().take(120).collect();
        format!("chunk is not json ({e}): {shown}")
    })?;
    Ok(interpret(&value))
}

/// Reads a parsed chunk, or a whole non-streamed completion (its
/// `message` instead of `delta`).
pub(crate) fn interpret(value: &Value) -> Payload {
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| error.to_string(), str::to_owned);
        return Payload::Error(message);
    }
    let mut chunk = Chunk {
        output_tokens: value
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64),
        ..Chunk::default()
    };
    // Battles ask for one choice; a server that sends more (or numbers them
    // oddly) gets its first one read.
    if let Some(choice) = value.get("choices").and_then(|c| c.get(0)) {
        let text = ["/delta/content", "/message/content", "/text"]
            .iter()
            .find_map(|path| choice.pointer(path).and_then(Value::as_str));
        chunk.text = text.unwrap_or_default().to_owned();
        chunk.finished = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .is_some_and(|r| !r.is_empty());
    }
    Payload::Chunk(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str, finished: bool, output_tokens: Option<u64>) -> Payload {
        Payload::Chunk(Chunk {
            text: text.to_owned(),
            finished,
            output_tokens,
        })
    }

    #[test]
    fn reads_standard_and_odd_chunks() {
        let cases = [
            ("[DONE]", Payload::Done),
            (" [DONE] ", Payload::Done),
            (
                r#"{"id":"x","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
                chunk("Hi", false, None),
            ),
            (
                r#"{"choices":[{"delta":{"role":"assistant"}}]}"#,
                chunk("", false, None),
            ),
            (
                r#"{"choices":[{"delta":{"content":"x"},"finish_reason":""}]}"#,
                chunk("x", false, None),
            ),
            (
                r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
                chunk("", true, None),
            ),
            (
                r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9}}"#,
                chunk("", false, Some(9)),
            ),
            (r#"{"usage":null}"#, chunk("", false, None)),
            (
                r#"{"choices":[{"message":{"content":"whole"},"finish_reason":"stop"}]}"#,
                chunk("whole", true, None),
            ),
            (
                r#"{"choices":[{"text":"legacy"}]}"#,
                chunk("legacy", false, None),
            ),
            (
                r#"{"error":{"message":"overloaded"}}"#,
                Payload::Error("overloaded".into()),
            ),
            (r#"{"error":null,"choices":[]}"#, chunk("", false, None)),
        ];
        for (data, expected) in cases {
            assert_eq!(parse_payload(data).unwrap(), expected, "{data}");
        }
    }

    #[test]
    fn rejects_what_is_not_json() {
        assert!(parse_payload("{garbage").is_err());
        assert!(parse_payload("hello").is_err());
    }
}
