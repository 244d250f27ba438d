//! The web pages, embedded in the binary from `web/` at build time: nothing
//! is read from disk or fetched at run time.

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::Embed;

use crate::error::ApiError;
use crate::extract::Path;
use crate::state::AppState;

#[derive(Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../../web/"]
struct Assets;

/// The page router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { page("index.html") }))
        .route("/leaderboard", get(|| async { page("leaderboard.html") }))
        .route("/admin", get(|| async { page("admin.html") }))
        .route("/assets/{*file}", get(asset))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn page(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => (
            [
                (CONTENT_TYPE, content_type(path)),
                (CACHE_CONTROL, "no-cache"),
            ],
            file.data.into_owned(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "page missing from this build").into_response(),
    }
}

async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let path = format!("assets/{file}");
    let asset = Assets::get(&path).ok_or(ApiError::NotFound("asset"))?;
    Ok((
        [
            (CONTENT_TYPE, content_type(&path)),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        asset.data.into_owned(),
    )
        .into_response())
}
