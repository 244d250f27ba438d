//! The voter's routes: create a battle, stream it, continue it, read it, vote.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use futures_util::stream::StreamExt;
use uuid::Uuid;

use arena_core::Side;
use arena_storage::{Battle, BattleState, Model, NewBattle, StorageError};

use crate::battles::events::{battle_events, failure_message};
use crate::battles::runner::{TurnJob, spawn_turn};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::leaderboard::CastVote;
use crate::state::{AppState, now_ms};
use crate::voter::Voter;
use crate::wire::battles::*;
use crate::wire::rfc3339;
use crate::{categories, sampling, validate};

/// The battle router.
pub fn router() -> Router<AppState> {
    let bounded = Router::new()
        .route("/api/v1/battles", post(create_battle))
        .route("/api/v1/battles/{id}", get(get_battle))
        .route("/api/v1/battles/{id}/turns", post(add_turn))
        .route("/api/v1/battles/{id}/vote", post(vote))
        .route_layer(axum::middleware::from_fn(crate::deadline));
    // The event stream lives as long as the turn; it has no deadline.
    bounded.route("/api/v1/battles/{id}/events", get(battle_events_route))
}

/// The client's address: the socket peer, or the first `X-Forwarded-For`
/// hop when the server is configured to trust its proxy.
pub struct ClientAddress(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        if state.config().trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(ClientAddress(forwarded));
            }
        }
        Ok(ClientAddress(peer))
    }
}

/// Loads a battle (with its turns when `turns` is true) and checks that it
/// belongs to the voter.
async fn owned_battle(state: &AppState, id: Uuid, voter: &Voter, turns: bool) -> ApiResult<Battle> {
    let loaded = if turns {
        state.storage().get_battle(id).await
    } else {
        state.storage().get_battle_head(id).await
    };
    let battle = loaded.map_err(|e| match e {
        StorageError::NotFound(_) => ApiError::NotFound("battle"),
        other => other.into(),
    })?;
    if battle.voter != voter.0 {
        return Err(ApiError::Forbidden("this battle belongs to another voter"));
    }
    Ok(battle)
}

/// Models that may be drawn now.
async fn candidates(state: &AppState) -> ApiResult<Vec<Model>> {
    let models = state.registry().all(state.storage()).await?;
    Ok(models
        .iter()
        .filter(|m| m.is_sampleable() && state.health().is_available(&m.id.to_string()))
        .cloned()
        .collect())
}

/// Start a battle: two anonymous models answer the prompt.
#[utoipa::path(post, path = "/api/v1/battles", tag = "battles", request_body = PromptBody,
    responses((status = 201, body = BattleCreated), (status = 400), (status = 409), (status = 413), (status = 422), (status = 429)))]
pub async fn create_battle(
    State(state): State<AppState>,
    voter: Voter,
    address: ClientAddress,
    Json(body): Json<PromptBody>,
) -> ApiResult<impl IntoResponse> {
    let prompt = validate::prompt(&body.prompt, state.config().max_prompt_chars)?;
    state.limits().check(&voter.0, address.0)?;
    let models = candidates(&state).await?;
    let pairs = match state.config().sampling {
        sampling::SamplingMode::Weighted => sampling::weighted_pairs(&models),
        sampling::SamplingMode::Active => state.leaderboard().active_pairs(&state, &models).await?,
    };
    let draw = sampling::draw(&models, &pairs).ok_or_else(|| ApiError::Conflict {
        code: "no_models",
        message: "fewer than two models are available right now; try again later".into(),
    })?;
    let id = Uuid::new_v4();
    let new = NewBattle {
        id,
        voter: voter.0.clone(),
        model_a: draw.a.id,
        model_b: draw.b.id,
        pair_probability: Some(draw.probability),
        categories: categories::tag_prompt(&prompt),
        prompt: prompt.clone(),
        now_ms: now_ms(),
    };
    state.storage().create_battle(new).await?;
    metrics::counter!("arena_battles_created_total").increment(1);
    let battle = Battle {
        id,
        voter: voter.0,
        model_a: draw.a.id,
        model_b: draw.b.id,
        pair_probability: Some(draw.probability),
        state: BattleState::Generating,
        identity_leak: false,
        categories: Vec::new(),
        created_at_ms: 0,
        updated_at_ms: 0,
        turns: Vec::new(),
        winner: None,
    };
    spawn_turn(
        state,
        TurnJob {
            battle,
            turn: 1,
            prompt,
            model_a: draw.a,
            model_b: draw.b,
        },
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(BattleCreated {
            battle_id: id,
            turn: 1,
        }),
    ))
}

/// Stream the current turn's answers as server-sent events.
#[utoipa::path(get, path = "/api/v1/battles/{id}/events", tag = "battles", params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "text/event-stream"), (status = 403), (status = 404)))]
pub async fn battle_events_route(
    State(state): State<AppState>,
    voter: Voter,
    Path(id): Path<Uuid>,
) -> ApiResult<impl IntoResponse> {
    owned_battle(&state, id, &voter, false).await?;
    let events = battle_events(state, id).map(|event| {
        let data = serde_json::to_string(&event).unwrap_or_default();
        Ok::<_, Infallible>(Event::default().event(event.name()).data(data))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Continue the battle with another prompt (before the vote).
#[utoipa::path(post, path = "/api/v1/battles/{id}/turns", tag = "battles", request_body = PromptBody,
    params(("id" = Uuid, Path)),
    responses((status = 201, body = BattleCreated), (status = 400), (status = 403), (status = 404), (status = 409), (status = 413),
        (status = 422), (status = 429)))]
pub async fn add_turn(
    State(state): State<AppState>,
    voter: Voter,
    address: ClientAddress,
    Path(id): Path<Uuid>,
    Json(body): Json<PromptBody>,
) -> ApiResult<impl IntoResponse> {
    let prompt = validate::prompt(&body.prompt, state.config().max_prompt_chars)?;
    let battle = owned_battle(&state, id, &voter, true).await?;
    state.limits().check(&voter.0, address.0)?;
    let (model_a, model_b) = models_of(&state, &battle).await?;
    let turn = state.storage().add_turn(id, &prompt, now_ms()).await?;
    metrics::counter!("arena_turns_total").increment(1);
    spawn_turn(
        state,
        TurnJob {
            battle,
            turn,
            prompt,
            model_a,
            model_b,
        },
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(BattleCreated {
            battle_id: id,
            turn,
        }),
    ))
}

/// Read the battle: state, turns so far and, after the vote, the models.
#[utoipa::path(get, path = "/api/v1/battles/{id}", tag = "battles", params(("id" = Uuid, Path)),
    responses((status = 200, body = BattleView), (status = 403), (status = 404)))]
pub async fn get_battle(
    State(state): State<AppState>,
    voter: Voter,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<BattleView>> {
    let battle = owned_battle(&state, id, &voter, true).await?;
    let models = match battle.state {
        BattleState::Voted => Some(reveal(&state, &battle).await?),
        _ => None,
    };
    let live = state.hub().partial_text(id);
    let last = battle.turns.last().map(|t| t.turn);
    let turns = battle
        .turns
        .iter()
        .map(|turn| {
            let view = |side: Side| {
                let answer = turn.side(side);
                let mut text = answer.text.clone();
                if let (Some((a, b)), Some(last)) = (&live, last)
                    && turn.turn == last
                    && answer.status == arena_storage::SideStatus::Streaming
                {
                    text = if side == Side::A {
                        a.clone()
                    } else {
                        b.clone()
                    };
                }
                AnswerView {
                    text,
                    status: answer.status.as_str().to_owned(),
                    error: (answer.status == arena_storage::SideStatus::Failed)
                        .then(|| failure_message(answer.error.as_deref())),
                }
            };
            TurnView {
                turn: turn.turn,
                prompt: turn.prompt.clone(),
                a: view(Side::A),
                b: view(Side::B),
            }
        })
        .collect();
    Ok(axum::Json(BattleView {
        battle_id: battle.id,
        state: battle.state.as_str().to_owned(),
        turns,
        winner: battle.winner,
        models,
        created_at: rfc3339(battle.created_at_ms),
    }))
}

/// The two models of a battle, side A first, from the registry's cache.
async fn models_of(state: &AppState, battle: &Battle) -> ApiResult<(Model, Model)> {
    let registry = state.registry();
    let a = registry.get(state.storage(), battle.model_a).await?;
    let b = registry.get(state.storage(), battle.model_b).await?;
    Ok((a, b))
}

async fn reveal(state: &AppState, battle: &Battle) -> ApiResult<RevealedPair> {
    let (a, b) = models_of(state, battle).await?;
    Ok(RevealedPair {
        a: RevealedModel {
            name: a.name,
            organization: a.organization,
        },
        b: RevealedModel {
            name: b.name,
            organization: b.organization,
        },
    })
}

/// Vote; the answer reveals both models.
#[utoipa::path(post, path = "/api/v1/battles/{id}/vote", tag = "battles", request_body = VoteBody,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VoteResult), (status = 400), (status = 403), (status = 404), (status = 409), (status = 413),
        (status = 422)))]
pub async fn vote(
    State(state): State<AppState>,
    voter: Voter,
    Path(id): Path<Uuid>,
    Json(body): Json<VoteBody>,
) -> ApiResult<axum::Json<VoteResult>> {
    let battle = owned_battle(&state, id, &voter, false).await?;
    let vote_id = state
        .storage()
        .record_vote(id, body.winner, &voter.0, now_ms())
        .await?;
    metrics::counter!("arena_votes_total", "winner" => body.winner.as_str()).increment(1);
    let models = reveal(&state, &battle).await?;
    state
        .leaderboard()
        .on_vote(
            &state,
            CastVote {
                id: vote_id,
                voter: &voter.0,
                model_a: &models.a.name,
                model_b: &models.b.name,
                winner: body.winner,
                leaked: battle.identity_leak,
                categories: &battle.categories,
            },
        )
        .await;
    Ok(axum::Json(VoteResult {
        winner: body.winner,
        models,
    }))
}
