//! The OpenAPI 3 document of every `/api` route, generated from the handlers'
//! annotations so it cannot drift from the code.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, battles, export, leaderboard, system};
use crate::wire;

#[derive(OpenApi)]
#[openapi(
    info(title = "Arena", description = "Blind pairwise comparison of language models."),
    paths(
        system::healthz,
        admin::create_model, admin::list_models, admin::get_model, admin::update_model, admin::retire_model,
        admin::create_token, admin::flagged_voters,
        battles::create_battle, battles::battle_events_route, battles::add_turn, battles::get_battle, battles::vote,
        leaderboard::leaderboard, leaderboard::matrix, leaderboard::categories,
        export::export,
    ),
    components(schemas(
        wire::models::ModelView, wire::models::HealthView, wire::models::ModelList, wire::models::CreateModel,
        wire::models::PatchModel, wire::models::CreateToken, wire::models::NewToken,
        wire::models::FlaggedVoterView, wire::models::FlaggedVoterList,
        wire::battles::PromptBody, wire::battles::BattleCreated, wire::battles::VoteBody, wire::battles::VoteResult,
        wire::battles::RevealedModel, wire::battles::RevealedPair, wire::battles::BattleView, wire::battles::TurnView,
        wire::battles::AnswerView, ErrorBody, ErrorDetail,
    )),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The error body, for the document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorBody {
    error: ErrorDetail,
}

/// The error detail, for the document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    /// snake_case code.
    code: String,
    /// A sentence for a person.
    message: String,
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
