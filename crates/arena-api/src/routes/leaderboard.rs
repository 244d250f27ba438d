//! Public leaderboard routes.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::leaderboard::RatingMethod;
use crate::state::{AppState, now_ms};
use crate::wire::rfc3339;

/// The leaderboard router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/leaderboard", get(leaderboard))
        .route("/api/v1/leaderboard/matrix", get(matrix))
        .route("/api/v1/leaderboard/categories", get(categories))
}

/// Query of `GET /api/v1/leaderboard`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LeaderboardQuery {
    /// `bt` (default) or `elo`.
    pub method: Option<String>,
    /// A category tag; absent for the overall board.
    pub category: Option<String>,
}

/// One row of the leaderboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderboardRow {
    /// Plain order by rating.
    pub rank: usize,
    /// 1 + the number of models whose lower bound is above this upper bound.
    pub rank_ub: usize,
    /// Model name.
    pub name: String,
    /// Rating on the arena scale.
    pub rating: f64,
    /// Lower bound of the 95% interval.
    pub ci_lower: f64,
    /// Upper bound of the 95% interval.
    pub ci_upper: f64,
    /// Counted votes.
    pub votes: u64,
    /// Wins plus half the ties over battles.
    pub win_rate: Option<f64>,
    /// Who made the model.
    pub organization: Option<String>,
    /// Its licence.
    pub license: Option<String>,
    /// Retired models stay, marked deprecated.
    pub deprecated: bool,
    /// Too few votes, or a rating the data cannot pin down.
    pub provisional: bool,
}

/// The leaderboard body.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderboardBody {
    /// `bt` or `elo`.
    pub method: String,
    /// The category, or null for overall.
    pub category: Option<String>,
    /// Votes counted.
    pub total_votes: u64,
    /// RFC 3339 time of the answer.
    pub computed_at: String,
    /// Rows, best first.
    pub models: Vec<LeaderboardRow>,
}

fn method(text: Option<&str>) -> ApiResult<RatingMethod> {
    match text.unwrap_or("bt") {
        "bt" => Ok(RatingMethod::Bt),
        "elo" => Ok(RatingMethod::Elo),
        other => Err(ApiError::invalid(format!(
            "unknown method {other:?}: expected bt or elo"
        ))),
    }
}

/// The leaderboard, overall or for one category.
#[utoipa::path(get, path = "/api/v1/leaderboard", tag = "leaderboard", params(LeaderboardQuery),
    responses((status = 200, body = LeaderboardBody), (status = 404), (status = 422)))]
pub async fn leaderboard(
    State(state): State<AppState>,
    Query(query): Query<LeaderboardQuery>,
) -> ApiResult<axum::Json<LeaderboardBody>> {
    let method = method(query.method.as_deref())?;
    let category = query.category.filter(|c| !c.is_empty());
    let live = state
        .leaderboard()
        .get(&state, method, category.as_deref())
        .await?;
    let models = live
        .ratings
        .models
        .iter()
        .map(|row| {
            let registered = live.models.get(&row.name);
            LeaderboardRow {
                rank: row.rank,
                rank_ub: row.rank_ub,
                name: row.name.clone(),
                rating: round2(row.rating),
                ci_lower: round2(row.ci_lower),
                ci_upper: round2(row.ci_upper),
                votes: row.votes,
                win_rate: row.win_rate,
                organization: registered.and_then(|m| m.organization.clone()),
                license: registered.and_then(|m| m.license.clone()),
                deprecated: registered.is_some_and(|m| m.retired_at_ms.is_some()),
                provisional: row.provisional,
            }
        })
        .collect();
    Ok(axum::Json(LeaderboardBody {
        method: match method {
            RatingMethod::Bt => "bt",
            RatingMethod::Elo => "elo",
        }
        .to_owned(),
        category,
        total_votes: live.ratings.total_votes,
        computed_at: rfc3339(now_ms()),
        models,
    }))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Query of the matrix route.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MatrixQuery {
    /// `win_rate` (default), `battles` or `predicted`.
    pub kind: Option<String>,
}

/// A square matrix, row model against column model.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatrixBody {
    /// Model names, leaderboard order.
    pub models: Vec<String>,
    /// Values; null where the pair never met.
    pub values: Vec<Vec<Option<f64>>>,
}

/// Win-rate, battle-count or predicted win-rate matrix.
#[utoipa::path(get, path = "/api/v1/leaderboard/matrix", tag = "leaderboard", params(MatrixQuery),
    responses((status = 200, body = MatrixBody), (status = 422)))]
pub async fn matrix(
    State(state): State<AppState>,
    Query(query): Query<MatrixQuery>,
) -> ApiResult<axum::Json<MatrixBody>> {
    let kind = query.kind.unwrap_or_else(|| "win_rate".into());
    if !matches!(kind.as_str(), "win_rate" | "battles" | "predicted") {
        return Err(ApiError::invalid(format!(
            "unknown kind {kind:?}: expected win_rate, battles or predicted"
        )));
    }
    let live = state
        .leaderboard()
        .get(&state, RatingMethod::Bt, None)
        .await?;
    let order: Vec<String> = live.ratings.models.iter().map(|m| m.name.clone()).collect();
    let matrix = state
        .leaderboard()
        .with_fit(&state, |counts, fit| match (kind.as_str(), fit) {
            ("battles", _) => arena_rating::battle_count_matrix(counts, &order),
            ("predicted", Some(fit)) => {
                arena_rating::predicted_win_rate_matrix(fit, counts, &order)
            }
            _ => arena_rating::win_rate_matrix(counts, &order),
        })
        .await?;
    Ok(axum::Json(MatrixBody {
        models: matrix.models,
        values: matrix.values,
    }))
}

/// `{"categories": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    /// Category tags with counted votes.
    pub categories: Vec<String>,
}

/// Categories with votes.
#[utoipa::path(get, path = "/api/v1/leaderboard/categories", tag = "leaderboard",
    responses((status = 200, body = CategoryList)))]
pub async fn categories(State(state): State<AppState>) -> ApiResult<axum::Json<CategoryList>> {
    Ok(axum::Json(CategoryList {
        categories: state.leaderboard().categories(&state).await?,
    }))
}
