//! Validation of admin input, with messages that say what to fix.

use crate::error::ApiError;

/// Rejects the NUL character. PostgreSQL cannot store it in `text` or
/// `jsonb` (SQLite can), so without this check the same input would be a
/// 500 on one backend and accepted on the other.
pub fn no_nul(field: &str, value: &str) -> Result<(), ApiError> {
    if value.contains('\0') {
        return Err(ApiError::invalid(format!(
            "{field} must not contain NUL characters"
        )));
    }
    Ok(())
}

/// Whether a JSON value holds a NUL character in any string or key.
fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, v)| key.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

/// Largest magnitude accepted for a number inside `params`. PostgreSQL's
/// JSONB keeps numbers as exact decimals and may print a huge float back in a
/// form serde_json refuses ("number out of range"), which would make the
/// whole registry unreadable; no generation parameter needs more than this.
const PARAM_NUMBER_LIMIT: f64 = 1e15;

/// Whether every number in `value` is within [`PARAM_NUMBER_LIMIT`].
fn json_numbers_in_range(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|x| x.abs() <= PARAM_NUMBER_LIMIT),
        serde_json::Value::Array(items) => items.iter().all(json_numbers_in_range),
        serde_json::Value::Object(map) => map.values().all(json_numbers_in_range),
        _ => true,
    }
}

/// A display name: 1–100 characters, no control characters.
pub fn name(value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// An OpenAI-compatible root (`http(s)://host[:port]/path`) or `demo://…`.
pub fn base_url(value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim().trim_end_matches('/');
    // The built-in demo backend needs no host: `demo://` or `demo://local`.
    if let Some(rest) = trimmed.strip_prefix("demo:")
        && (rest.is_empty() || rest.starts_with("//"))
        && !rest.chars().any(char::is_control)
    {
        return Ok(value.trim().to_owned());
    }
    let uri: axum::http::Uri = trimmed.parse().map_err(|_| {
        ApiError::invalid("base_url must be a URL such as http://127.0.0.1:8000/v1")
    })?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https" | "demo"));
    if !scheme_ok || uri.authority().is_none() || trimmed.len() > 2048 {
        return Err(ApiError::invalid(
            "base_url must be an http(s) URL with a host, such as http://127.0.0.1:8000/v1, or demo://local",
        ));
    }
    Ok(trimmed.to_owned())
}

/// The upstream model id: 1–200 characters.
pub fn upstream_model(value: &str) -> Result<String, ApiError> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control)
    {
        return Err(ApiError::invalid("model must be 1 to 200 characters"));
    }
    Ok(trimmed.to_owned())
}

/// A sampling weight: finite and non-negative.
pub fn weight(value: f64) -> Result<f64, ApiError> {
    if value.is_finite() && (0.0..=1_000_000.0).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            "weight must be a number between 0 and 1000000",
        ))
    }
}

/// Generation parameters: a JSON object with sane known fields.
pub fn params(value: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let serde_json::Value::Object(map) = &value else {
        return Err(ApiError::invalid("params must be a JSON object"));
    };
    if json_has_nul(&value) {
        return Err(ApiError::invalid("params must not contain NUL characters"));
    }
    if !json_numbers_in_range(&value) {
        return Err(ApiError::invalid(
            "numbers in params must be between -1e15 and 1e15",
        ));
    }
    let number = |key: &str| map.get(key).filter(|v| !v.is_null());
    if let Some(t) = number("temperature")
        && !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))
    {
        return Err(ApiError::invalid(
            "params.temperature must be a number from 0 to 2",
        ));
    }
    if let Some(p) = number("top_p")
        && !p.as_f64().is_some_and(|p| (0.0..=1.0).contains(&p))
    {
        return Err(ApiError::invalid(
            "params.top_p must be a number from 0 to 1",
        ));
    }
    if let Some(m) = number("max_tokens")
        && !m.as_u64().is_some_and(|m| (1..=1_000_000).contains(&m))
    {
        return Err(ApiError::invalid(
            "params.max_tokens must be a positive integer",
        ));
    }
    Ok(value)
}

/// Optional free text (organization, licence): at most 200 characters.
pub fn short_text(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > 200 => Err(ApiError::invalid(format!(
            "{field} must be at most 200 characters"
        ))),
        Some(v) => no_nul(field, &v).map(|()| Some(v)),
        None => Ok(None),
    }
}

/// An API key: non-empty, printable.
pub fn api_key(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(key)
            if key.trim().is_empty() || key.len() > 4096 || key.chars().any(char::is_control) =>
        {
            Err(ApiError::invalid(
                "api_key must be a non-empty printable string",
            ))
        }
        other => Ok(other.map(|k| k.trim().to_owned())),
    }
}

/// An environment variable name.
pub fn env_name(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(name)
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            Err(ApiError::invalid(
                "api_key_env must be an environment variable name (letters, digits, _)",
            ))
        }
        other => Ok(other),
    }
}

/// A system prompt: at most 32k characters.
pub fn system_prompt(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(p) if p.chars().count() > 32_000 => Err(ApiError::invalid(
            "system_prompt must be at most 32000 characters",
        )),
        Some(p) => no_nul("system_prompt", &p).map(|()| Some(p).filter(|p| !p.trim().is_empty())),
        None => Ok(None),
    }
}

/// A voter's prompt: non-blank and not longer than `max` characters.
pub fn prompt(value: &str, max: usize) -> Result<String, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid("prompt must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "prompt must be at most {max} characters"
        )));
    }
    no_nul("prompt", value)?;
    Ok(value.to_owned())
}

#[cfg(test)]
mod range_tests {
    use super::params;

    #[test]
    fn huge_numbers_in_params_are_refused() {
        assert!(params(serde_json::json!({"seed": 1.7976931348623157e308})).is_err());
        assert!(params(serde_json::json!({"nested": {"x": [1e16]}})).is_err());
        assert!(params(serde_json::json!({"seed": 42, "max_tokens": 512})).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_invalid_everywhere_they_could_be_stored() {
        assert!(prompt("a\0b", 100).is_err());
        assert!(prompt("a\tb\n", 100).is_ok());
        assert!(short_text("label", Some("x\0".into())).is_err());
        assert!(system_prompt(Some("be brief\0".into())).is_err());
        assert!(params(serde_json::json!({"stop": ["\0"]})).is_err());
        assert!(params(serde_json::json!({"a\0": 1})).is_err());
        assert!(params(serde_json::json!({"stop": ["\n"]})).is_ok());
        assert!(base_url("demo://\0").is_err());
        assert!(base_url("demo://local").is_ok());
    }
}
