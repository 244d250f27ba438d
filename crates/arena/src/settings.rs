//! Settings: flags, then environment variables (both through clap), then the
//! optional `arena.toml`, then defaults.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use secrecy::SecretString;
use serde::Deserialize;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://arena.db";
/// The default listen address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The contents of `arena.toml`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Listen address.
    pub addr: Option<SocketAddr>,
    /// Database URL.
    pub database_url: Option<String>,
    /// Admin token (prefer the ARENA_ADMIN_TOKEN variable).
    pub admin_token: Option<SecretString>,
    /// Battles per voter per minute.
    pub battles_per_minute: Option<u32>,
    /// `weighted` or `active`.
    pub sampling: Option<String>,
    /// `live`, `paired` or `complete`.
    pub streaming_mode: Option<String>,
    /// Unauthenticated metrics address.
    pub metrics_addr: Option<SocketAddr>,
    /// Trust X-Forwarded-For.
    pub trust_forwarded_for: Option<bool>,
    /// Minutes before an unvoted battle expires.
    pub battle_expiry_minutes: Option<u64>,
    /// Mark the voter cookie Secure.
    pub secure_cookies: Option<bool>,
    /// Backend connect timeout, milliseconds.
    pub connect_timeout_ms: Option<u64>,
    /// Time allowed until a backend's first token, milliseconds.
    pub first_token_timeout_ms: Option<u64>,
    /// Time allowed for a whole answer, milliseconds.
    pub total_timeout_ms: Option<u64>,
    /// Models kept in version control.
    #[serde(default)]
    pub models: Vec<ConfigModel>,
}

impl std::fmt::Debug for FileSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSettings")
            .field("addr", &self.addr)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("models", &self.models.len())
            .finish_non_exhaustive()
    }
}

/// A model declared in `arena.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigModel {
    /// Display name (the key: a registry entry with this name is updated).
    pub name: String,
    /// OpenAI-compatible root.
    pub base_url: String,
    /// Upstream model id.
    pub model: String,
    /// Literal key (prefer `api_key_env`).
    pub api_key: Option<SecretString>,
    /// Environment variable holding the key.
    pub api_key_env: Option<String>,
    /// Who made it.
    pub organization: Option<String>,
    /// Licence.
    pub license: Option<String>,
    /// Sampling weight.
    pub weight: Option<f64>,
    /// Enabled (default true).
    pub enabled: Option<bool>,
    /// System prompt.
    pub system_prompt: Option<String>,
    /// Generation parameters.
    pub params: Option<toml::Table>,
}

impl FileSettings {
    /// Reads the file, or defaults when no file is given.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Picks the database URL: flag or DATABASE_URL, then the file, then the default.
pub fn database_url(flag: Option<String>, file: &FileSettings) -> String {
    flag.or_else(|| file.database_url.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

/// The example printed by `arena default-config`.
pub const EXAMPLE: &str = r#"# arena.toml — every setting is optional. Flags and environment variables win.
# addr = "127.0.0.1:8080"
# database_url = "sqlite://arena.db"          # or "postgres://user@host/db"
# battles_per_minute = 20                      # per voter; 10x per client address; 0 = off
# sampling = "weighted"                        # or "active"
# streaming_mode = "live"                      # or "paired", "complete"
# metrics_addr = "127.0.0.1:9090"              # /metrics without a token
# trust_forwarded_for = false                  # behind a reverse proxy: true
# battle_expiry_minutes = 60
# secure_cookies = false                       # true when served over HTTPS
# connect_timeout_ms = 10000                   # backend timeouts (also ARENA_*_TIMEOUT_MS)
# first_token_timeout_ms = 60000
# total_timeout_ms = 300000
# The admin token belongs in the ARENA_ADMIN_TOKEN environment variable.

# Models kept in version control. A model with the same name in the registry
# is updated at start; others are left alone.
# [[models]]
# name = "llama-3.1-8b"
# base_url = "http://127.0.0.1:8000/v1"       # any OpenAI-compatible server
# model = "meta-llama/Llama-3.1-8B-Instruct"
# api_key_env = "VLLM_API_KEY"                 # the key's variable, not the key
# organization = "Meta"
# license = "Llama 3.1"
# weight = 1.0
# params = { temperature = 0.7, max_tokens = 1024 }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://arena:s3cret@db:5432/arena"),
            "postgres://arena:***@db:5432/arena"
        );
        assert_eq!(
            redact_url("postgres://arena@db/arena"),
            "postgres://arena@db/arena"
        );
        assert_eq!(redact_url("sqlite://arena.db"), "sqlite://arena.db");
    }

    #[test]
    fn the_example_config_parses() {
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|rest| {
                        !rest.starts_with(' ') && rest.contains(" = ") || rest.starts_with("[[")
                    })
                    .unwrap_or("")
            })
            .map(|l| l.split("  #").next().unwrap_or("").trim_end().to_owned() + "\n")
            .collect();
        let parsed: FileSettings = toml::from_str(&uncommented).expect("example parses");
        assert_eq!(parsed.models.len(), 1);
        assert_eq!(parsed.battles_per_minute, Some(20));
    }
}
