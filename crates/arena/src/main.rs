//! The `arena` binary: serve, migrate, leaderboard, export, import.

mod cli;
mod dataset;
mod offline;
mod serve;
mod settings;

use std::sync::Arc;

use anyhow::Context;
use arena_storage::Storage;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::settings::FileSettings;

/// mimalloc instead of the system allocator. Under glibc's malloc a server
/// that ran for ten minutes held twice the memory it was using (a soak
/// peaked at 48 MB of live heap and 150 MB resident): each thread's arena
/// keeps what it once needed for an export or a burst of streams. mimalloc
/// returns freed pages to the system, so resident memory follows what is
/// actually in use, and it is as fast or faster for this workload.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format.as_deref());
    // One TLS provider for every HTTPS client in the process (backends and
    // PostgreSQL): ring, chosen explicitly so nothing picks another at run time.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each said once. Library errors
/// often end their own message with their source's (a dataset error with
/// the operating system's), which anyhow's `{:#}` would print again.
fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.ends_with(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = FileSettings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve(args) => serve::run(args, file).await,
        Command::Migrate(args) => {
            let url = settings::database_url(args.database_url, &file);
            open_database(&url).await?;
            eprintln!("migrations applied to {}", settings::redact_url(&url));
            Ok(())
        }
        Command::Leaderboard(args) => offline::run(args, &file).await,
        Command::Export(args) => dataset::export(args, &file).await,
        Command::Import(args) => dataset::import(args, &file).await,
        Command::DefaultConfig => {
            use std::io::Write;
            std::io::stdout().write_all(settings::EXAMPLE.as_bytes())?;
            Ok(())
        }
    }
}

fn init_logging(format: Option<&str>) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    if format == Some("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Connects and migrates.
pub async fn open_database(url: &str) -> anyhow::Result<Arc<dyn Storage>> {
    let storage = arena_storage::connect(url)
        .await
        .with_context(|| format!("connecting to {}", settings::redact_url(url)))?;
    storage.migrate().await.context("applying migrations")?;
    Ok(storage)
}

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    arena_api::state::now_ms()
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn each_cause_is_said_once() {
        let os = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let dataset = arena_datasets::DatasetError::Io {
            path: Some("votes.parquet".into()),
            source: os,
        };
        let error = anyhow::Error::new(dataset).context("reading the votes");
        assert_eq!(
            describe(&error),
            "reading the votes: votes.parquet: no such file"
        );
        let plain = anyhow::anyhow!("bad port").context("parsing --addr");
        assert_eq!(describe(&plain), "parsing --addr: bad port");
    }
}
