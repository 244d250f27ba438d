//! Generation of one turn: dispatch to both backends, fan events out to
//! subscribers, commit each side's result before telling anyone it is final.

use std::time::{Duration, Instant};

use arena_core::Side;
use arena_dispatch::{BackendSpec, ChatMessage, GenerationParams, TurnEvent, TurnRequest};
use arena_storage::{Battle, Model, SideOutcome, SideStatus};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::battles::hub::BattleEvent;
use crate::state::{AppState, now_ms};

/// How often the text streamed so far is saved for other instances.
const PARTIAL_SAVE_EVERY: Duration = Duration::from_millis(500);

/// Builds the dispatch request for one model. The key comes from the literal
/// value or, when the registration names a variable, from the environment at
/// call time (so rotating the variable needs no restart of the registry).
pub fn backend_spec(model: &Model) -> BackendSpec {
    let api_key = model.api_key.clone().or_else(|| {
        model
            .api_key_env
            .as_ref()
            .and_then(|name| std::env::var(name).ok())
            .map(SecretString::from)
    });
    let params: GenerationParams = serde_json::from_value(model.params.clone()).unwrap_or_default();
    BackendSpec {
        base_url: model.base_url.clone(),
        model: model.upstream_model.clone(),
        api_key,
        params,
        system_prompt: model.system_prompt.clone(),
    }
}

/// The strings that would give a model away if its answer contained them.
fn identity(model: &Model) -> Vec<String> {
    let mut names = vec![model.name.clone(), model.upstream_model.clone()];
    names.extend(model.organization.clone());
    names
}

/// The conversation one side has had, plus the new prompt.
fn history(battle: &Battle, side: Side, prompt: &str) -> Vec<ChatMessage> {
    let mut messages = Vec::with_capacity(battle.turns.len() * 2 + 1);
    for turn in &battle.turns {
        messages.push(ChatMessage::user(turn.prompt.clone()));
        messages.push(ChatMessage::assistant(turn.side(side).text.clone()));
    }
    messages.push(ChatMessage::user(prompt.to_owned()));
    messages
}

/// Everything needed to generate one turn.
pub struct TurnJob {
    /// The battle as stored before this turn (earlier turns only).
    pub battle: Battle,
    /// The turn number being generated.
    pub turn: u32,
    /// Its prompt.
    pub prompt: String,
    /// The model on side A.
    pub model_a: Model,
    /// The model on side B.
    pub model_b: Model,
}

/// Opens the battle's event channel and generates the turn in the background.
/// The channel is open when this returns, so a client that subscribes right
/// after the 201 misses nothing.
pub fn spawn_turn(state: AppState, job: TurnJob) {
    state.hub().open(job.battle.id);
    let tasks = state.tasks().clone();
    tasks.spawn(run_turn(state, job));
}

async fn run_turn(state: AppState, job: TurnJob) {
    let battle_id = job.battle.id;
    let turn = job.turn;
    let request = |side: Side, model: &Model| TurnRequest {
        backend: backend_spec(model),
        history: history(&job.battle, side, &job.prompt),
        identity: identity(model),
    };
    let (a, b) = (
        request(Side::A, &job.model_a),
        request(Side::B, &job.model_b),
    );
    let cancel = CancellationToken::new();
    let mut shutdown = state.shutdown();
    let cancel_on_shutdown = cancel.clone();
    let watcher = tokio::spawn(async move {
        if shutdown.wait_for(|stopping| *stopping).await.is_ok() {
            cancel_on_shutdown.cancel();
        }
    });
    let mut events = state.dispatcher().run_turn(a, b, cancel.clone());
    let started = Instant::now();
    let save_partials = state.storage().backend() == "postgres";
    let mut partial = [String::new(), String::new()];
    let mut last_save = Instant::now();
    let mut open = [true, true];
    // Commits run beside the event loop so that one side's commit never
    // holds back the other side's text; each publishes its event once done.
    let mut commits = Vec::with_capacity(2);
    let mut peeked = None;
    loop {
        let event = match peeked.take() {
            Some(event) => event,
            None => match events.recv().await {
                Some(event) => event,
                None => break,
            },
        };
        match event {
            TurnEvent::Delta { side, mut text } => {
                // Coalesce the text already waiting for this side into one
                // event: no added latency, and far fewer events (each one a
                // serialization and a write per subscriber) when the backend
                // is faster than we publish.
                while let Ok(next) = events.try_recv() {
                    match next {
                        TurnEvent::Delta {
                            side: next_side,
                            text: more,
                        } if next_side == side => text.push_str(&more),
                        other => {
                            peeked = Some(other);
                            break;
                        }
                    }
                }
                partial[index(side)].push_str(&text);
                state
                    .hub()
                    .publish(battle_id, BattleEvent::Delta { turn, side, text });
                if save_partials && last_save.elapsed() >= PARTIAL_SAVE_EVERY {
                    last_save = Instant::now();
                    for side in Side::BOTH {
                        if open[index(side)] {
                            let _ = state
                                .storage()
                                .save_partial_answer(battle_id, turn, side, &partial[index(side)])
                                .await;
                        }
                    }
                }
            }
            TurnEvent::Done { side, stats } => {
                open[index(side)] = false;
                let model = model_of(&job, side);
                state.health().record_success(
                    &model.id.to_string(),
                    Duration::from_millis(stats.first_token_ms.unwrap_or(stats.total_ms)),
                );
                metrics::histogram!("arena_backend_answer_seconds")
                    .record(stats.total_ms as f64 / 1000.0);
                let outcome = SideOutcome {
                    side,
                    text: stats.answer,
                    status: SideStatus::Done,
                    error: None,
                    latency_ms: i64::try_from(stats.total_ms).ok(),
                    tokens: stats.output_tokens.and_then(|t| i64::try_from(t).ok()),
                    identity_leak: stats.identity_leak,
                };
                if stats.identity_leak {
                    tracing::info!(%battle_id, turn, side = side.as_str(), "answer names a model; vote will not count");
                }
                let done = BattleEvent::Done { turn, side };
                commits.push(tokio::spawn(commit_then_publish(
                    state.clone(),
                    battle_id,
                    turn,
                    outcome,
                    done,
                )));
            }
            TurnEvent::Failed {
                side,
                failure,
                stats,
            } => {
                open[index(side)] = false;
                let model = model_of(&job, side);
                state
                    .health()
                    .record_failure(&model.id.to_string(), failure.kind);
                metrics::counter!("arena_backend_failures_total", "kind" => failure.kind.as_str())
                    .increment(1);
                tracing::warn!(%battle_id, turn, side = side.as_str(), model_id = %model.id, kind = failure.kind.as_str(), detail = %failure.detail, "backend failed");
                let message = failure.kind.voter_message();
                let outcome = SideOutcome::failed(
                    side,
                    stats.answer,
                    failure.kind.as_str(),
                    stats.identity_leak,
                );
                commits.push(tokio::spawn(fail_side(
                    state.clone(),
                    battle_id,
                    turn,
                    outcome,
                    message,
                )));
            }
        }
    }
    // The dispatcher always ends both sides; this guards against a bug there
    // leaving the battle generating forever.
    for side in Side::BOTH {
        if open[index(side)] {
            let text = std::mem::take(&mut partial[index(side)]);
            let message = "The answer was interrupted. Please start a new battle.";
            let outcome = SideOutcome::failed(side, text, "cancelled", false);
            commits.push(tokio::spawn(fail_side(
                state.clone(),
                battle_id,
                turn,
                outcome,
                message,
            )));
        }
    }
    // `end` promises that both sides are stored: wait for the commits.
    for commit in commits {
        let _ = commit.await;
    }
    state.hub().publish(battle_id, BattleEvent::End { turn });
    watcher.abort();
    tracing::debug!(%battle_id, turn, elapsed_ms = started.elapsed().as_millis() as u64, "turn finished");
}

/// Records a failed side and tells the voter, in words that name no model.
async fn fail_side(
    state: AppState,
    battle: Uuid,
    turn: u32,
    outcome: SideOutcome,
    message: &'static str,
) {
    let side = outcome.side;
    let error = BattleEvent::Error {
        turn,
        side,
        message: message.to_owned(),
    };
    commit_then_publish(state, battle, turn, outcome, error).await;
}

/// Commits a side's final result, then announces it.
async fn commit_then_publish(
    state: AppState,
    battle: Uuid,
    turn: u32,
    outcome: SideOutcome,
    event: BattleEvent,
) {
    finish(&state, battle, turn, outcome).await;
    state.hub().publish(battle, event);
}

fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

fn model_of(job: &TurnJob, side: Side) -> &Model {
    match side {
        Side::A => &job.model_a,
        Side::B => &job.model_b,
    }
}

/// Commits a side's result, retrying briefly: the client is told the side is
/// final only after this, so a vote sent right after `end` is accepted.
async fn finish(state: &AppState, battle: Uuid, turn: u32, outcome: SideOutcome) {
    for attempt in 0..5u32 {
        match state
            .storage()
            .finish_side(battle, turn, outcome.clone(), now_ms())
            .await
        {
            Ok(_) => return,
            Err(error) => {
                tracing::error!(%battle, turn, attempt, %error, "could not record an answer");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt + 1))).await;
            }
        }
    }
}
