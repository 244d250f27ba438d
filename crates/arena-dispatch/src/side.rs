//! One side of a turn: runs its backend under the cancellation and total
//! limits, collects the answer, and reports it as events.

use std::{sync::Arc, time::Instant};

use arena_core::Side;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    ChatMessage, Failure, FailureKind, SideStats, TurnEvent, TurnRequest, demo, dispatcher::Shared,
    leak::mentions_identity, openai,
};

/// Whether a backend should keep generating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// The answer reached its length limit, or nobody listens any more.
    Stop,
}

/// Collects one side's answer and forwards each piece as a delta.
#[derive(Debug)]
pub(crate) struct Sink {
    side: Side,
    tx: mpsc::Sender<TurnEvent>,
    started: Instant,
    answer: String,
    chars: usize,
    max_chars: usize,
    first_token_ms: Option<u64>,
    output_tokens: Option<u64>,
    truncated: bool,
}

impl Sink {
    pub(crate) fn new(side: Side, tx: mpsc::Sender<TurnEvent>, max_chars: usize) -> Self {
        Self {
            side,
            tx,
            started: Instant::now(),
            answer: String::new(),
            chars: 0,
            max_chars,
            first_token_ms: None,
            output_tokens: None,
            truncated: false,
        }
    }

    /// When the side started; the timeouts count from here.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Whether any answer text has arrived.
    pub(crate) fn has_text(&self) -> bool {
        self.first_token_ms.is_some()
    }

    pub(crate) fn set_output_tokens(&mut self, tokens: u64) {
        self.output_tokens = Some(tokens);
    }

    /// Appends answer text, cutting it at the length limit.
    pub(crate) async fn push(&mut self, text: &str) -> Flow {
        if text.is_empty() {
            return Flow::Continue;
        }
        let room = self.max_chars - self.chars;
        let (text, cut) = match text.char_indices().nth(room) {
            Some((at, _)) => (&text[..at], true),
            None => (text, false),
        };
        if !text.is_empty() {
            self.first_token_ms
                .get_or_insert_with(|| millis(self.started));
            self.answer.push_str(text);
            self.chars += text.chars().count();
            let delta = TurnEvent::Delta {
                side: self.side,
                text: text.to_owned(),
            };
            if self.tx.send(delta).await.is_err() {
                return Flow::Stop;
            }
        }
        if cut {
            self.truncated = true;
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn into_stats(self, identity: &[String]) -> (SideStats, mpsc::Sender<TurnEvent>) {
        let stats = SideStats {
            identity_leak: mentions_identity(&self.answer, identity),
            answer: self.answer,
            first_token_ms: self.first_token_ms,
            total_ms: millis(self.started),
            output_tokens: self.output_tokens,
            truncated: self.truncated,
        };
        (stats, self.tx)
    }
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The conversation sent upstream: the backend's system prompt, then the
/// side's history.
pub(crate) fn conversation(request: &TurnRequest) -> Vec<ChatMessage> {
    let system = request
        .backend
        .system_prompt
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(ChatMessage::system);
    system
        .into_iter()
        .chain(request.history.iter().cloned())
        .collect()
}

/// Runs one side to its end and sends its last event.
#[tracing::instrument(name = "dispatch_side", skip_all, fields(side = side.as_str(), model = %request.backend.model))]
pub(crate) async fn run(
    side: Side,
    request: TurnRequest,
    shared: Arc<Shared>,
    tx: mpsc::Sender<TurnEvent>,
    cancel: CancellationToken,
) {
    let config = &shared.config;
    let mut sink = Sink::new(side, tx, config.max_answer_chars);
    let messages = conversation(&request);
    let deadline = sink.started() + config.total_timeout;
    let result = tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Failure::new(FailureKind::Cancelled, "turn cancelled")),
        outcome = tokio::time::timeout_at(
            deadline.into(),
            generate(&shared, &request, &messages, &mut sink),
        ) => outcome.unwrap_or_else(|_| Err(Failure::new(
            FailureKind::Timeout,
            format!("no end within the total limit of {:?}", config.total_timeout),
        ))),
    };
    let (stats, tx) = sink.into_stats(&request.identity);
    let event = match result {
        Ok(()) => {
            tracing::debug!(
                total_ms = stats.total_ms,
                chars = stats.answer.len(),
                "side done"
            );
            TurnEvent::Done { side, stats }
        }
        Err(failure) => {
            tracing::warn!(kind = failure.kind.as_str(), detail = %failure.detail, "side failed");
            TurnEvent::Failed {
                side,
                failure,
                stats,
            }
        }
    };
    // Nobody listening is not an error: the turn was abandoned.
    let _ = tx.send(event).await;
}

async fn generate(
    shared: &Shared,
    request: &TurnRequest,
    messages: &[ChatMessage],
    sink: &mut Sink,
) -> Result<(), Failure> {
    if request.backend.is_demo() {
        demo::generate(&request.backend, messages, shared.config.demo_pace, sink).await
    } else {
        openai::generate(
            &shared.http,
            &shared.config,
            &request.backend,
            messages,
            sink,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sink_cuts_at_the_limit_on_a_character_boundary() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut sink = Sink::new(Side::A, tx, 5);
        assert_eq!(sink.push("héé").await, Flow::Continue);
        assert_eq!(sink.push("llo wörld").await, Flow::Stop);
        let (stats, _) = sink.into_stats(&[]);
        assert_eq!(stats.answer, "hééll");
        assert!(stats.truncated);
        assert!(stats.first_token_ms.is_some());
        let mut deltas = Vec::new();
        while let Ok(TurnEvent::Delta { text, .. }) = rx.try_recv() {
            deltas.push(text);
        }
        assert_eq!(deltas, ["héé", "ll"]);
    }
}
