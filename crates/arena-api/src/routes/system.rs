//! Health, metrics and the OpenAPI document.

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::error::ApiResult;
use crate::state::AppState;

/// The system router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_route))
        .route("/openapi.json", get(openapi))
}

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: &'static str,
}

/// Liveness and database health.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health), (status = 503)))]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<axum::Json<Health>> {
    state
        .storage()
        .ping()
        .await
        .map_err(crate::error::ApiError::Unavailable)?;
    Ok(axum::Json(Health { status: "ok" }))
}

async fn metrics_route(_: Admin) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
}

async fn openapi() -> impl IntoResponse {
    axum::Json(crate::openapi::document())
}
