//! The anonymous voter: an `arena_voter` cookie (random, HttpOnly,
//! SameSite=Lax) set by the server when absent.
//!
//! The server never stores the cookie itself, only its SHA-256, so a copy of
//! the database cannot be used to impersonate voters; exports hash it once
//! more with the deployment's salt.

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use rand::RngExt;

use crate::auth::token_hash;
use crate::error::ApiError;

/// The cookie's name.
pub const COOKIE_NAME: &str = "arena_voter";

/// The current voter, as the hash stored with battles and votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter(pub String);

fn cookie_value(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && valid_cookie(value))
        .map(|(_, value)| value.to_owned())
}

/// Only values we could have issued are accepted: 32 hex digits or more.
fn valid_cookie(value: &str) -> bool {
    (32..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn new_cookie_value() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    crate::auth::hex(&bytes)
}

/// Middleware: makes sure every request has a voter, and sets the cookie on
/// the response when the request came without one.
pub async fn ensure_voter(secure: bool, mut request: Request, next: Next) -> Response {
    let (value, fresh) = match cookie_value(request.headers()) {
        Some(value) => (value, false),
        None => (new_cookie_value(), true),
    };
    request.extensions_mut().insert(Voter(token_hash(&value)));
    let mut response = next.run(request).await;
    if fresh {
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!(
            "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{secure}"
        );
        if let Ok(header) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, header);
        }
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for Voter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Voter>()
            .cloned()
            .ok_or_else(|| ApiError::internal(std::io::Error::other("voter middleware missing")))
    }
}
