//! Command-line interface. Every setting has a flag; most also read an
//! environment variable (clap's `env`), and `settings.rs` falls back to
//! `arena.toml` and then to defaults, in that order.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Arena: blind pairwise comparison of language models.
#[derive(Debug, Parser)]
#[command(name = "arena", version, about)]
pub struct Cli {
    /// Optional TOML settings file (flags and environment variables win over it).
    #[arg(long, global = true, env = "ARENA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format: `text` (default) or `json`.
    #[arg(long, global = true, env = "ARENA_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
    /// Compute a leaderboard offline and print it.
    Leaderboard(LeaderboardArgs),
    /// Write the vote dataset to a file.
    Export(ExportArgs),
    /// Load battles from a FastChat / LMArena file into the database.
    Import(ImportArgs),
    /// Print an example arena.toml.
    DefaultConfig,
}

/// Where the database is.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (default `sqlite://arena.db`) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

/// `arena serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, env = "ARENA_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// New battles and turns per voter per minute (ten times that per address); 0 = no limit.
    #[arg(long, env = "ARENA_BATTLES_PER_MINUTE")]
    pub battles_per_minute: Option<u32>,
    /// Register the built-in demo models when no model is registered.
    #[arg(long)]
    pub demo: bool,
    /// Also serve /metrics without a token on this address.
    #[arg(long, env = "ARENA_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Pair sampling: `weighted` (default) or `active`.
    #[arg(long, env = "ARENA_SAMPLING")]
    pub sampling: Option<String>,
    /// Streaming: `live` (default), `paired` or `complete`.
    #[arg(long, env = "ARENA_STREAMING_MODE")]
    pub streaming_mode: Option<String>,
    /// Trust the first X-Forwarded-For hop as the client address (behind a proxy).
    #[arg(long, env = "ARENA_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: Option<bool>,
}

/// `arena leaderboard`.
#[derive(Debug, Args)]
pub struct LeaderboardArgs {
    /// Battles file (CSV, JSONL, Parquet or FastChat JSON, by extension); without it, the database.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Database, when no input file is given.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// `bt` (default) or `elo`.
    #[arg(long, default_value = "bt")]
    pub method: String,
    /// `table` (default), `json` or `csv`.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Keep rows whose boolean column COLUMN is true.
    #[arg(long)]
    pub category: Option<String>,
    /// Intervals for BT: `sandwich` (default), `sandwich-exact` or `bootstrap`.
    #[arg(long, default_value = "sandwich")]
    pub intervals: String,
    /// Bootstrap rounds (implies `--intervals bootstrap` for BT; Elo shuffles).
    #[arg(long)]
    pub bootstrap: Option<usize>,
    /// Seed for bootstrap rounds.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Style control (contextual BT on answer length and markdown); needs conversations.
    #[arg(long)]
    pub style_control: bool,
    /// Shift ratings so that MODEL has RATING, e.g. `--anchor gpt-4=1250`.
    #[arg(long)]
    pub anchor: Option<String>,
    /// Models with fewer votes are marked provisional.
    #[arg(long, default_value_t = 300)]
    pub provisional_below: u64,
}

/// `arena export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// `jsonl`, `csv` or `parquet` (default: from the extension).
    #[arg(long)]
    pub format: Option<String>,
    /// Only votes at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only votes before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Leave out the conversations.
    #[arg(long)]
    pub no_conversations: bool,
    /// Only battles tagged with this category.
    #[arg(long)]
    pub category: Option<String>,
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// `arena import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: `.json` (FastChat), `.jsonl`, `.csv` or `.parquet`.
    pub file: PathBuf,
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}
