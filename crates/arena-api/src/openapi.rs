//! The OpenAPI 3 document of every `/api` route, generated from the handlers'
//! annotations so it cannot drift from the code.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
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
    modifiers(&BearerAuth, &ErrorResponses, &Links),
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

/// Gives every error response of every operation the one error body and a
/// description, so that the document states the `{"error": {...}}` shape
/// once instead of on each route (OpenAPI also requires a description on
/// every response, which bare `(status = 404)` annotations lack).
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for (status, response) in &mut operation.responses.responses {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if response.description.is_empty() {
                        response.description = describe(status).to_owned();
                    }
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if is_error && response.content.is_empty() {
                        response.content.insert(
                            "application/json".to_owned(),
                            RefOr::T(Content::new(Some(Ref::from_schema_name("ErrorBody")))),
                        );
                    }
                }
            }
        }
    }
}

/// Every operation of a path item.
fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The default description of a response, after the contract's error rules.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "Success.",
        "201" => "Created.",
        "204" => "Done; no body.",
        "400" => "Malformed request: bad JSON syntax or a missing JSON content type.",
        "401" => "A valid bearer token is required.",
        "403" => "Not allowed: the battle belongs to another voter, or the token lacks the role.",
        "404" => "Unknown id or category.",
        "409" => "State conflict; `error.code` says which.",
        "413" => "The request body is too large.",
        "422" => "Well-formed but invalid input.",
        "429" => "Too many requests; see `Retry-After`.",
        "503" => "The database is unavailable or the request took too long; try again.",
        _ => "See the error body.",
    }
}

/// OpenAPI links from the responses that create a resource to the operations
/// that use its id, so that clients and stateful fuzzers can follow them.
struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let follow = [
            (
                "/api/v1/battles",
                "201",
                "/battle_id",
                &["get_battle", "battle_events_route", "add_turn", "vote"][..],
            ),
            (
                "/api/v1/admin/models",
                "201",
                "/id",
                &["get_model", "update_model", "retire_model"][..],
            ),
        ];
        for (path, status, pointer, targets) in follow {
            let Some(item) = openapi.paths.paths.get_mut(path) else {
                continue;
            };
            let Some(RefOr::T(response)) = item
                .post
                .as_mut()
                .and_then(|op| op.responses.responses.get_mut(status))
            else {
                continue;
            };
            for target in targets {
                let link = LinkBuilder::new()
                    .operation_id(*target)
                    .parameter("id", format!("$response.body#{pointer}"))
                    .build();
                response.links.insert((*target).to_owned(), RefOr::T(link));
            }
        }
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::document;
    use crate::validate;

    /// The limits the document states for a registration are the ones the
    /// validators apply: a value at the documented limit passes, one past
    /// it is refused. (Keeps clients and fuzzers from being told one thing
    /// and answered another.)
    #[test]
    fn documented_model_limits_are_the_validators_limits() {
        let doc = serde_json::to_value(document()).expect("document serializes");
        for schema in ["CreateModel", "PatchModel"] {
            let props = &doc["components"]["schemas"][schema]["properties"];
            let max = |field: &str| {
                let limit = props[field]["maxLength"].as_u64();
                usize::try_from(limit.unwrap_or_else(|| panic!("{schema}.{field} has maxLength")))
                    .expect("small")
            };
            let text = |n: usize| "x".repeat(n);

            assert!(validate::name(&text(max("name"))).is_ok());
            assert!(validate::name(&text(max("name") + 1)).is_err());
            assert!(validate::upstream_model(&text(max("model"))).is_ok());
            assert!(validate::upstream_model(&text(max("model") + 1)).is_err());
            assert!(validate::api_key(Some(text(max("api_key")))).is_ok());
            assert!(validate::api_key(Some(text(max("api_key") + 1))).is_err());
            for field in ["organization", "license"] {
                assert!(validate::short_text(field, Some(text(max(field)))).is_ok());
                assert!(validate::short_text(field, Some(text(max(field) + 1))).is_err());
            }
            assert!(validate::system_prompt(Some(text(max("system_prompt")))).is_ok());
            assert!(validate::system_prompt(Some(text(max("system_prompt") + 1))).is_err());
            let url_max = max("base_url");
            let long_url = format!("http://h/{}", text(url_max - "http://h/".len()));
            assert!(validate::base_url(&long_url).is_ok());
            assert!(validate::base_url(&format!("{long_url}x")).is_err());

            let bound = |key: &str| props["weight"][key].as_f64().expect("weight bound");
            assert!(validate::weight(bound("minimum")).is_ok());
            assert!(validate::weight(bound("maximum")).is_ok());
            assert!(validate::weight(bound("minimum") - 1e-9).is_err());
            assert!(validate::weight(bound("maximum") + 1e-3).is_err());
            assert_eq!(props["name"]["minLength"], Value::from(1));
        }
    }

    /// Examples written to the documented base-URL pattern are accepted.
    #[test]
    fn urls_of_the_documented_shape_are_accepted() {
        for url in [
            "http://127.0.0.1:8000/v1",
            "https://api.example.com/v1/",
            "http://localhost:11434/v1",
            "http://vllm-0.internal:9/openai/v1",
            "demo://local",
            "demo://",
        ] {
            assert!(validate::base_url(url).is_ok(), "{url}");
        }
    }
}
