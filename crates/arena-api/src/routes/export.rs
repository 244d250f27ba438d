//! `GET /api/v1/export`: the vote dataset for researchers, streamed.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use arena_datasets::Format;
use arena_storage::VoteFilter;

use crate::auth::Researcher;
use crate::error::{ApiError, ApiResult};
use crate::export::{ChannelWriter, ExportRequest, write_dataset};
use crate::extract::Query;
use crate::state::AppState;
use crate::wire::parse_rfc3339;

/// The export router.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/export", get(export))
}

/// Query of the export route.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `jsonl` (default), `csv` or `parquet`.
    pub format: Option<String>,
    /// Only votes at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only votes before this RFC 3339 time.
    pub until: Option<String>,
    /// Include conversations (default true).
    pub conversations: Option<bool>,
    /// Only battles tagged with this category.
    pub category: Option<String>,
}

fn time(field: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    value
        .map(|v| {
            parse_rfc3339(v).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{field} must be an RFC 3339 time such as 2026-01-31T00:00:00Z"
                ))
            })
        })
        .transpose()
}

/// Export the vote dataset (voted blind battles that count for the leaderboard).
#[utoipa::path(get, path = "/api/v1/export", tag = "research", params(ExportQuery),
    responses((status = 200, description = "the dataset, streamed, in the requested format", content(
        ("application/x-ndjson"), ("text/csv"), ("application/vnd.apache.parquet"))),
        (status = 401), (status = 422)),
    security(("bearer" = [])))]
pub async fn export(
    _: Researcher,
    State(state): State<AppState>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let format = match query.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => Format::Jsonl,
        "csv" => Format::Csv,
        "parquet" => Format::Parquet,
        other => {
            return Err(ApiError::invalid(format!(
                "unknown format {other:?}: expected jsonl, csv or parquet"
            )));
        }
    };
    if let Some(category) = &query.category {
        crate::validate::no_nul("category", category)?;
    }
    let filter = VoteFilter {
        since_ms: time("since", query.since.as_deref())?,
        until_ms: time("until", query.until.as_deref())?,
        category: query.category.filter(|c| !c.is_empty()),
        ..VoteFilter::default()
    };
    let request = ExportRequest {
        format,
        filter,
        conversations: query.conversations.unwrap_or(true),
        source: "GET /api/v1/export".into(),
    };
    let (sender, receiver) = mpsc::channel(8);
    let writer = ChannelWriter::new(sender);
    let task_state = state.clone();
    tokio::spawn(async move {
        // The headers go out now; the body starts when a turn is free.
        let _turn = task_state.export_turn().await;
        let salt = task_state.judge_salt().to_owned();
        if let Err(error) =
            write_dataset(task_state.storage(), &salt, request, writer, |_| {}).await
        {
            tracing::warn!(error = %error, source = ?std::error::Error::source(&error), "export stopped");
        }
    });
    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Parquet => ("application/vnd.apache.parquet", "parquet"),
        _ => ("application/x-ndjson", "jsonl"),
    };
    Ok((
        [
            (CONTENT_TYPE, content_type.to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"arena-votes.{extension}\""),
            ),
        ],
        Body::from_stream(ReceiverStream::new(receiver)),
    )
        .into_response())
}
