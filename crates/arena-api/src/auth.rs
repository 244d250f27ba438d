//! Bearer-token authentication for admin and researcher routes.
//!
//! Tokens are never stored or compared in the clear: the database keeps their
//! SHA-256, and the configured admin token is compared through its hash with
//! a constant-time equality, so response timing says nothing about how much
//! of a guess was right.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use arena_storage::TokenRole;

use crate::error::ApiError;
use crate::state::AppState;

/// Hex SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lowercase hexadecimal of bytes.
pub fn hex(bytes: &[u8]) -> String {
    // A table lookup per nibble: `write!("{:02x}")` per byte went through
    // the formatting machinery and was a tenth of a million-row export.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Constant-time comparison of two digests.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The role of the request's bearer token, if it has a valid one.
async fn role_of(parts: &Parts, state: &AppState) -> Result<TokenRole, ApiError> {
    let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
    let digest = Sha256::digest(token.as_bytes());
    if digests_equal(&digest, state.admin_token_digest()) {
        return Ok(TokenRole::Admin);
    }
    state
        .storage()
        .token_role(&hex(&digest))
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// Proof that the request carries an admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match role_of(parts, state).await? {
            TokenRole::Admin => Ok(Admin),
            TokenRole::Researcher => Err(ApiError::Forbidden("this route needs an admin token")),
        }
    }
}

/// Proof that the request carries a researcher or an admin token.
pub struct Researcher;

impl FromRequestParts<AppState> for Researcher {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        role_of(parts, state).await.map(|_| Researcher)
    }
}
