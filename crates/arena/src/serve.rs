//! `arena serve`: resolve settings, prepare the database, run the server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use arena_api::{ApiConfig, AppState, SamplingMode};
use arena_dispatch::{DispatchConfig, Dispatcher, StreamingMode};
use arena_storage::{ModelPatch, ModelSource, NewModel, Storage};
use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::settings::{self, ConfigModel, FileSettings};

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs, file: FileSettings) -> anyhow::Result<()> {
    let database_url = settings::database_url(args.database.database_url, &file);
    let storage = crate::open_database(&database_url).await?;

    let admin_token = match std::env::var("ARENA_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        Some(token) => SecretString::from(token),
        None => match file.admin_token.clone() {
            Some(token) => token,
            None => {
                let bytes: [u8; 24] = rand::rng().random();
                let token = format!("arena_admin_{}", arena_api::auth::hex(&bytes));
                // Printed once, on standard error, and never logged.
                print_line(&format!(
                    "ARENA_ADMIN_TOKEN is not set; generated admin token for this run: {token}"
                ));
                SecretString::from(token)
            }
        },
    };
    if admin_token.expose_secret().len() < 16 {
        bail!("ARENA_ADMIN_TOKEN must be at least 16 characters long");
    }

    sync_config_models(storage.as_ref(), &file.models).await?;
    if args.demo {
        register_demo_models(storage.as_ref()).await?;
    }

    let mut dispatch = DispatchConfig::default();
    if let Some(mode) = args.streaming_mode.or(file.streaming_mode.clone()) {
        dispatch.streaming_mode = mode
            .parse::<StreamingMode>()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let millis = |name: &str| env_number(name).map(Duration::from_millis);
    if let Some(pace) = millis("ARENA_DEMO_PACE_MS") {
        dispatch.demo_pace = pace;
    }
    // Backend timeouts: environment, then arena.toml, then the dispatcher's defaults.
    let setting = |name: &str, file: Option<u64>| millis(name).or(file.map(Duration::from_millis));
    if let Some(t) = setting("ARENA_CONNECT_TIMEOUT_MS", file.connect_timeout_ms) {
        dispatch.connect_timeout = t;
    }
    if let Some(t) = setting("ARENA_FIRST_TOKEN_TIMEOUT_MS", file.first_token_timeout_ms) {
        dispatch.first_token_timeout = t;
    }
    if let Some(t) = setting("ARENA_TOTAL_TIMEOUT_MS", file.total_timeout_ms) {
        dispatch.total_timeout = t;
    }
    if let Some(t) = millis("ARENA_RETRY_BACKOFF_MS") {
        dispatch.retry_backoff = t;
    }
    let dispatcher =
        Dispatcher::new(dispatch).context("building the HTTP client for model backends")?;

    let mut config = ApiConfig::new(admin_token);
    config.battles_per_minute = args
        .battles_per_minute
        .or(file.battles_per_minute)
        .unwrap_or(20);
    if let Some(sampling) = args.sampling.or(file.sampling.clone()) {
        config.sampling = sampling
            .parse::<SamplingMode>()
            .map_err(|e| anyhow::anyhow!(e))?;
    }
    config.trust_forwarded_for = args
        .trust_forwarded_for
        .or(file.trust_forwarded_for)
        .unwrap_or(false);
    config.secure_cookies = file.secure_cookies.unwrap_or(false);
    if let Some(seconds) = env_number("ARENA_BATTLE_EXPIRY_SECS") {
        config.battle_expiry = Duration::from_secs(seconds.max(1));
    } else if let Some(minutes) = file.battle_expiry_minutes {
        config.battle_expiry = Duration::from_secs(minutes.max(1) * 60);
    }

    let salt_bytes: [u8; 16] = rand::rng().random();
    let judge_salt = storage
        .setting_or_insert("judge_salt", &arena_api::auth::hex(&salt_bytes))
        .await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let state = AppState::new(
        Arc::clone(&storage),
        dispatcher,
        config,
        judge_salt,
        stop_rx,
    );

    let addr = args.addr.or(file.addr).unwrap_or_else(|| {
        settings::DEFAULT_ADDR
            .parse()
            .expect("valid default address")
    });
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr()?;
    if let Some(metrics_addr) = args.metrics_addr.or(file.metrics_addr) {
        let metrics_listener = TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("binding {metrics_addr}"))?;
        let metrics_local = metrics_listener.local_addr()?;
        tracing::info!(addr = %metrics_local, "metrics listening");
        print_line(&format!("metrics on http://{metrics_local}/metrics"));
        tokio::spawn(arena_api::serve_metrics(metrics_listener));
    }
    tracing::info!(addr = %local, database = %settings::redact_url(&database_url), backend = storage.backend(), "arena listening");
    // A plain line that scripts and tests can parse, whatever the log format.
    print_line(&format!("listening on http://{local}"));

    let shutdown = async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
    };
    arena_api::serve(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Writes one line to standard error with a single write, so that a reader
/// of the pipe never sees half of it (`eprintln!` may write it in pieces).
fn print_line(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

/// A non-negative integer from an environment variable, if set and valid.
fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Registers the built-in demo models when the registry is empty.
async fn register_demo_models(storage: &dyn Storage) -> anyhow::Result<()> {
    if !storage.list_models().await?.is_empty() {
        return Ok(());
    }
    for demo in arena_dispatch::demo_models() {
        let model = NewModel {
            name: demo.name,
            base_url: demo.base_url,
            upstream_model: demo.model,
            api_key: None,
            api_key_env: None,
            organization: Some(demo.organization),
            license: Some("Apache-2.0".into()),
            params: serde_json::json!({}),
            system_prompt: None,
            weight: 1.0,
            enabled: true,
            source: ModelSource::Demo,
        };
        storage.insert_model(model, crate::now_ms()).await?;
    }
    tracing::info!("registered the built-in demo models");
    Ok(())
}

/// Creates or updates the models declared in `arena.toml`, by name.
async fn sync_config_models(storage: &dyn Storage, models: &[ConfigModel]) -> anyhow::Result<()> {
    if models.is_empty() {
        return Ok(());
    }
    let existing = storage.list_models().await?;
    for declared in models {
        let params = match &declared.params {
            Some(table) => serde_json::to_value(table)?,
            None => serde_json::json!({}),
        };
        match existing.iter().find(|m| m.name == declared.name) {
            Some(model) => {
                let patch = ModelPatch {
                    base_url: Some(declared.base_url.clone()),
                    upstream_model: Some(declared.model.clone()),
                    api_key: declared.api_key.clone().map(Some),
                    api_key_env: Some(declared.api_key_env.clone()),
                    organization: Some(declared.organization.clone()),
                    license: Some(declared.license.clone()),
                    params: Some(params),
                    system_prompt: Some(declared.system_prompt.clone()),
                    weight: declared.weight,
                    enabled: declared.enabled,
                    name: None,
                };
                storage
                    .update_model(model.id, patch, crate::now_ms())
                    .await?;
            }
            None => {
                let model = NewModel {
                    name: declared.name.clone(),
                    base_url: declared.base_url.clone(),
                    upstream_model: declared.model.clone(),
                    api_key: declared.api_key.clone(),
                    api_key_env: declared.api_key_env.clone(),
                    organization: declared.organization.clone(),
                    license: declared.license.clone(),
                    params,
                    system_prompt: declared.system_prompt.clone(),
                    weight: declared.weight.unwrap_or(1.0),
                    enabled: declared.enabled.unwrap_or(true),
                    source: ModelSource::Config,
                };
                storage.insert_model(model, crate::now_ms()).await?;
            }
        }
    }
    tracing::info!(
        count = models.len(),
        "models from the settings file are registered"
    );
    Ok(())
}
