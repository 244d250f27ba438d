//! Prompt dispatch: the only part of Arena that talks to model backends.
//!
//! [`Dispatcher::run_turn`] runs one turn of a battle: both sides at once,
//! each against its own backend with its own conversation, and returns a
//! channel of [`TurnEvent`]s in the order the voter should see them. The
//! boundary uses this crate's own types only; async-openai and reqwest stay
//! inside.
//!
//! # Backends
//!
//! - **OpenAI-compatible** (`base_url` such as `http://host:8000/v1`): one
//!   streamed `POST {base_url}/chat/completions`. The body is built with
//!   async-openai's request types, plus the model's
//!   [`GenerationParams::extra`] on top. The response is read with our own
//!   lenient SSE and chunk parsing instead of async-openai's stream, whose
//!   strict chunk types reject real servers: keep-alive comments, an empty
//!   `finish_reason`, a usage-only last chunk with no `choices`, a missing
//!   `[DONE]` after a `finish_reason`, a non-streamed JSON answer are all
//!   accepted. Reasoning text sent apart from `content` is not part of the
//!   answer. All requests share one tuned reqwest client (connection pool,
//!   TCP keep-alive, connect timeout).
//! - **Demo** (`base_url` starting with `demo://`): built-in, no network;
//!   see [`demo_models`].
//!
//! # Limits and failures
//!
//! Connection failures, 429 and 5xx are retried with exponential backoff
//! ([`DispatchConfig::max_retries`], honouring a `Retry-After` in seconds),
//! but only before the first token and within the first-token limit: once
//! text was shown, a failure ends the side. Timeouts: connect, first token
//! (from the start of the side, retries included) and total. An answer
//! longer than [`DispatchConfig::max_answer_chars`] is cut there and ends
//! as done with [`SideStats::truncated`] set, rather than failing: a voter
//! can still judge a long answer, while a failed side blocks the vote.
//! Failures carry a [`FailureKind`], whose
//! [`voter_message`](FailureKind::voter_message) is safe to show, and a
//! detail for logs only.
//!
//! # Presentation
//!
//! [`StreamingMode`] decides how the two answers are revealed: live,
//! paired (both at the same pace, so speed does not identify a model) or
//! complete (all at once when both are done).
//!
//! # Identity and health
//!
//! Each side's answer is checked with [`mentions_identity`]; the result is
//! in [`SideStats::identity_leak`]. [`HealthTracker`] keeps per-backend
//! failure counts and cool-downs; the server feeds it, the dispatcher does
//! not read it.
//!
//! Cancellation uses [`CancellationToken`] (re-exported from tokio-util).
//!
//! **Architecture invariant:** this crate knows nothing about HTTP routes,
//! storage or ratings, and nothing about which model a voter sees on which
//! side beyond the [`Side`](arena_core::Side) it is told.

mod chunk;
mod config;
mod demo;
mod dispatcher;
mod error;
mod event;
mod health;
mod leak;
mod openai;
mod pacing;
mod side;
mod sse;
mod types;

pub use config::{DispatchConfig, StreamingMode};
pub use demo::{DemoModel, demo_answer, demo_models};
pub use dispatcher::Dispatcher;
pub use error::DispatchError;
pub use event::{Failure, FailureKind, SideStats, TurnEvent};
pub use health::{BackendHealth, HealthConfig, HealthTracker};
pub use leak::mentions_identity;
/// The token that cancels a turn; re-exported so callers need not depend
/// on tokio-util.
pub use tokio_util::sync::CancellationToken;
pub use types::{BackendSpec, ChatMessage, GenerationParams, Role, TurnRequest};
