//! Admin routes: the model registry, access tokens, flagged voters.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use rand::RngExt;
use secrecy::SecretString;
use uuid::Uuid;

use arena_storage::{Model, ModelPatch, ModelSource, NewModel, TokenRole};

use crate::auth::{Admin, hex, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::{AppState, now_ms};
use crate::validate;
use crate::wire::models::*;
use crate::wire::rfc3339;

/// The admin router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/models", post(create_model).get(list_models))
        .route(
            "/api/v1/admin/models/{id}",
            patch(update_model).delete(retire_model).get(get_model),
        )
        .route("/api/v1/admin/tokens", post(create_token))
        .route("/api/v1/admin/flagged-voters", get(flagged_voters))
}

/// The wire view of a model, with this instance's health figures.
pub fn model_view(state: &AppState, model: Model) -> ModelView {
    let health = Some(state.health().snapshot(&model.id.to_string())).map(|h| HealthView {
        last_error: h.last_error,
        error_rate: h.error_rate,
        p50_latency_ms: h.p50_latency_ms,
        consecutive_failures: h.consecutive_failures,
        cooling_down_until: h.cooling_down_until.map(|t| {
            let ms = t
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default();
            rfc3339(i64::try_from(ms).unwrap_or(i64::MAX))
        }),
    });
    ModelView {
        id: model.id,
        has_api_key: model.has_api_key(),
        api_key_env: model.api_key_env,
        name: model.name,
        base_url: model.base_url,
        model: model.upstream_model,
        organization: model.organization,
        license: model.license,
        params: model.params,
        system_prompt: model.system_prompt,
        weight: model.weight,
        enabled: model.enabled,
        retired: model.retired_at_ms.is_some(),
        source: model.source.as_str().to_owned(),
        created_at: rfc3339(model.created_at_ms),
        health,
    }
}

/// Register a model.
#[utoipa::path(post, path = "/api/v1/admin/models", tag = "admin", request_body = CreateModel,
    responses((status = 201, body = ModelView), (status = 400), (status = 401), (status = 403), (status = 409),
        (status = 413), (status = 422)),
    security(("bearer" = [])))]
pub async fn create_model(
    _: Admin,
    State(state): State<AppState>,
    Json(body): Json<CreateModel>,
) -> ApiResult<impl IntoResponse> {
    let new = NewModel {
        name: validate::name(&body.name)?,
        base_url: validate::base_url(&body.base_url)?,
        upstream_model: validate::upstream_model(&body.model)?,
        api_key: validate::api_key(body.api_key)?.map(SecretString::from),
        api_key_env: validate::env_name(body.api_key_env)?,
        organization: validate::short_text("organization", body.organization)?,
        license: validate::short_text("license", body.license)?,
        params: validate::params(body.params.unwrap_or_else(|| serde_json::json!({})))?,
        system_prompt: validate::system_prompt(body.system_prompt)?,
        weight: validate::weight(body.weight.unwrap_or(1.0))?,
        enabled: body.enabled.unwrap_or(true),
        source: ModelSource::Api,
    };
    let model = state.storage().insert_model(new, now_ms()).await?;
    state.registry().invalidate().await;
    tracing::info!(model_id = %model.id, name = %model.name, "model registered");
    Ok((StatusCode::CREATED, axum::Json(model_view(&state, model))))
}

/// List every model.
#[utoipa::path(get, path = "/api/v1/admin/models", tag = "admin",
    responses((status = 200, body = ModelList), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn list_models(
    _: Admin,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<ModelList>> {
    let models = state.storage().list_models().await?;
    Ok(axum::Json(ModelList {
        models: models.into_iter().map(|m| model_view(&state, m)).collect(),
    }))
}

/// One model.
#[utoipa::path(get, path = "/api/v1/admin/models/{id}", tag = "admin",
    params(("id" = Uuid, Path)), responses((status = 200, body = ModelView), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get_model(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<ModelView>> {
    let model = state.storage().get_model(id).await?;
    Ok(axum::Json(model_view(&state, model)))
}

/// Change any field of a model (enable/disable, weight, key rotation, ...).
#[utoipa::path(patch, path = "/api/v1/admin/models/{id}", tag = "admin", request_body = PatchModel,
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ModelView), (status = 400), (status = 401), (status = 403), (status = 404),
        (status = 409), (status = 413), (status = 422)),
    security(("bearer" = [])))]
pub async fn update_model(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<PatchModel>,
) -> ApiResult<axum::Json<ModelView>> {
    let patch = ModelPatch {
        name: body.name.as_deref().map(validate::name).transpose()?,
        base_url: body
            .base_url
            .as_deref()
            .map(validate::base_url)
            .transpose()?,
        upstream_model: body
            .model
            .as_deref()
            .map(validate::upstream_model)
            .transpose()?,
        api_key: body
            .api_key
            .map(validate::api_key)
            .transpose()?
            .map(|k| k.map(SecretString::from)),
        api_key_env: body.api_key_env.map(validate::env_name).transpose()?,
        organization: body
            .organization
            .map(|v| validate::short_text("organization", v))
            .transpose()?,
        license: body
            .license
            .map(|v| validate::short_text("license", v))
            .transpose()?,
        params: body.params.map(validate::params).transpose()?,
        system_prompt: body
            .system_prompt
            .map(validate::system_prompt)
            .transpose()?,
        weight: body.weight.map(validate::weight).transpose()?,
        enabled: body.enabled,
    };
    let current = state.storage().get_model(id).await?;
    if current.retired_at_ms.is_some() && patch.enabled == Some(true) {
        return Err(ApiError::Conflict {
            code: "model_retired",
            message: "a retired model cannot be enabled again; register it anew".into(),
        });
    }
    let model = state.storage().update_model(id, patch, now_ms()).await?;
    state.registry().invalidate().await;
    tracing::info!(model_id = %model.id, "model updated");
    Ok(axum::Json(model_view(&state, model)))
}

/// Retire a model: never sampled again, kept on the leaderboard as deprecated.
#[utoipa::path(delete, path = "/api/v1/admin/models/{id}", tag = "admin",
    params(("id" = Uuid, Path)), responses((status = 204), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn retire_model(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.storage().retire_model(id, now_ms()).await?;
    state.registry().invalidate().await;
    tracing::info!(model_id = %id, "model retired");
    Ok(StatusCode::NO_CONTENT)
}

/// Create an access token (shown once).
#[utoipa::path(post, path = "/api/v1/admin/tokens", tag = "admin", request_body = CreateToken,
    responses((status = 201, body = NewToken), (status = 400), (status = 401), (status = 403), (status = 413),
        (status = 422)), security(("bearer" = [])))]
pub async fn create_token(
    _: Admin,
    State(state): State<AppState>,
    Json(body): Json<CreateToken>,
) -> ApiResult<impl IntoResponse> {
    let role = TokenRole::parse(&body.role)
        .ok_or_else(|| ApiError::invalid("role must be \"researcher\" or \"admin\""))?;
    let label = validate::short_text("label", Some(body.label))?.unwrap_or_default();
    let secret: [u8; 32] = rand::rng().random();
    let token = format!("arena_{}_{}", role.as_str(), hex(&secret));
    state
        .storage()
        .insert_token(&token_hash(&token), role, &label, now_ms())
        .await?;
    tracing::info!(role = role.as_str(), label = %label, "access token created");
    Ok((
        StatusCode::CREATED,
        axum::Json(NewToken {
            token,
            role: role.as_str().to_owned(),
            label,
        }),
    ))
}

/// Voters flagged as anomalous; their votes are kept but not counted.
#[utoipa::path(get, path = "/api/v1/admin/flagged-voters", tag = "admin",
    responses((status = 200, body = FlaggedVoterList), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn flagged_voters(
    _: Admin,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<FlaggedVoterList>> {
    let voters = state.storage().flagged_voters().await?;
    Ok(axum::Json(FlaggedVoterList {
        voters: voters
            .into_iter()
            .map(|v| FlaggedVoterView {
                judge: crate::export::judge(state.judge_salt(), &v.voter),
                votes: v.votes,
                flagged_at: rfc3339(v.flagged_at_ms),
                reason: v.reason,
            })
            .collect(),
    }))
}
