//! Extractors whose rejections speak our JSON error shape instead of axum's
//! plain-text bodies.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Syntax errors are 400, type and missing-field errors 422,
/// oversized bodies 413, a wrong content type 415 is reported as 400.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    match rejection {
        JsonRejection::JsonDataError(error) => ApiError::Validation(clean(&error.body_text())),
        JsonRejection::JsonSyntaxError(error) => ApiError::BadRequest(clean(&error.body_text())),
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::BadRequest("expected a JSON body with content-type application/json".into())
        }
        other => {
            // Body-read failures wrap a length-limit error when the body is too big.
            if other.body_text().contains("length limit") {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(clean(&other.body_text()))
            }
        }
    }
}

/// axum's messages start with a generic prefix; keep the useful part.
fn clean(text: &str) -> String {
    text.trim_start_matches("Failed to deserialize the JSON body into the target type: ")
        .trim_start_matches("Failed to parse the request body as JSON: ")
        .to_owned()
}

/// A query string.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::Validation(
                    rejection
                        .body_text()
                        .trim_start_matches("Failed to deserialize query string: ")
                        .to_owned(),
                )
            })
    }
}

/// A path parameter; a malformed id is reported as "not found", since no
/// resource can have it.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_: PathRejection| ApiError::NotFound("resource"))
    }
}
