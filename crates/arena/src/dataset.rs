//! `arena export` and `arena import`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use arena_api::export::{ExportRequest, write_dataset};
use arena_api::wire::parse_rfc3339;
use arena_datasets::{BattleRow, Format, read_battles};
use arena_storage::{ImportedBattle, StorageError, VoteFilter};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use tokio_stream::wrappers::ReceiverStream;

use crate::cli::{ExportArgs, ImportArgs};
use crate::settings::{self, FileSettings};

/// A spinner with rows per second on a terminal; hidden otherwise, so logs
/// and CI output stay clean.
fn progress(message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {human_pos} rows ({per_sec}, {elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn time(flag: &str, value: Option<&str>) -> anyhow::Result<Option<i64>> {
    value
        .map(|v| {
            parse_rfc3339(v).with_context(|| {
                format!("{flag} must be an RFC 3339 time such as 2026-01-31T00:00:00Z")
            })
        })
        .transpose()
}

/// Writes the dataset and its card.
pub async fn export(args: ExportArgs, file: &FileSettings) -> anyhow::Result<()> {
    let format = match &args.format {
        Some(name) => Format::from_name(name)?,
        None => Format::from_path(&args.out)?,
    };
    if matches!(format, Format::FastChatJson) {
        bail!("export writes jsonl, csv or parquet");
    }
    let url = settings::database_url(args.database.database_url, file);
    let storage = crate::open_database(&url).await?;
    let salt = storage.setting("judge_salt").await?.unwrap_or_default();
    let filter = VoteFilter {
        since_ms: time("--since", args.since.as_deref())?,
        until_ms: time("--until", args.until.as_deref())?,
        category: args.category.clone(),
        ..VoteFilter::default()
    };
    let out = BufWriter::with_capacity(
        1 << 20,
        File::create(&args.out).with_context(|| format!("creating {}", args.out.display()))?,
    );
    let bar = progress("exporting");
    let request = ExportRequest {
        format,
        filter,
        conversations: !args.no_conversations,
        source: "arena export".into(),
    };
    let (_, card) = write_dataset(storage.as_ref(), &salt, request, out, |_| bar.inc(1)).await?;
    bar.finish_and_clear();
    let card_path = card_path(&args.out);
    std::fs::write(&card_path, card.to_markdown())
        .with_context(|| format!("writing {}", card_path.display()))?;
    eprintln!(
        "exported {} battles to {} (card: {})",
        card.rows,
        args.out.display(),
        card_path.display()
    );
    Ok(())
}

/// `votes.jsonl` → `votes.card.md`, beside the data.
fn card_path(out: &Path) -> std::path::PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    out.with_file_name(format!("{stem}.card.md"))
}

/// Milliseconds of a float Unix time, or now.
fn tstamp_ms(row: &BattleRow) -> i64 {
    row.tstamp
        .filter(|t| t.is_finite())
        .map(|t| (t * 1000.0) as i64)
        .unwrap_or_else(crate::now_ms)
}

/// Pairs each user turn with the two answers that followed it.
fn turns(row: &BattleRow) -> Vec<(String, String, String)> {
    let side = |conversation: Option<&Vec<arena_datasets::Message>>| -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut prompt = None;
        for message in conversation.into_iter().flatten() {
            match message.role.as_str() {
                "user" => prompt = Some(message.content.clone()),
                "assistant" => {
                    pairs.push((prompt.take().unwrap_or_default(), message.content.clone()))
                }
                _ => {}
            }
        }
        pairs
    };
    let a = side(row.conversation_a.as_ref());
    let b = side(row.conversation_b.as_ref());
    a.into_iter()
        .zip(b)
        .map(|((prompt, answer_a), (_, answer_b))| (prompt, answer_a, answer_b))
        .collect()
}

/// Rows per chunk handed from the reading thread to the import.
const IMPORT_CHUNK: usize = 4096;

/// Reads the file on a thread of its own while the database inserts what
/// was read (the reading took an eighth of a million-row import when it
/// came first); everything goes in one transaction. A malformed row
/// abandons the import: the transaction is rolled back, nothing is kept,
/// and the error names the row's line.
pub async fn import(args: ImportArgs, file: &FileSettings) -> anyhow::Result<()> {
    let url = settings::database_url(args.database.database_url, file);
    let storage = crate::open_database(&url).await?;
    let bar = progress("importing");
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let reader = {
        let (path, bar) = (args.file.clone(), bar.clone());
        std::thread::spawn(move || -> anyhow::Result<usize> {
            let read = read_chunks(&path, &sender, &bar);
            if let Err(error) = &read {
                let abandoned = StorageError::ImportAbandoned(format!("{error:#}"));
                let _ = sender.blocking_send(Err(abandoned));
            }
            read
        })
    };
    let chunks = ReceiverStream::new(receiver).boxed();
    let imported = storage.import_battles(chunks, crate::now_ms()).await;
    let read = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the thread reading {} panicked", args.file.display()))?;
    bar.finish_and_clear();
    // A reading error (with its line) explains an abandoned import best.
    let total = read?;
    let summary = imported?;
    eprintln!(
        "imported {} of {total} battles from {} ({} already present)",
        summary.inserted,
        args.file.display(),
        summary.skipped
    );
    Ok(())
}

/// Reads `path` into chunks of [`IMPORT_CHUNK`] battles sent to `sender`;
/// returns how many rows it read. Stops early, without an error, when the
/// import stopped taking chunks (its own error is reported).
fn read_chunks(
    path: &Path,
    sender: &tokio::sync::mpsc::Sender<arena_storage::Result<Vec<ImportedBattle>>>,
    bar: &ProgressBar,
) -> anyhow::Result<usize> {
    let reader = read_battles(path)?; // the error names the file
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    let mut total = 0;
    for row in reader {
        chunk.push(imported_battle(row?));
        total += 1;
        bar.inc(1);
        if chunk.len() == IMPORT_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(IMPORT_CHUNK));
            if sender.blocking_send(Ok(full)).is_err() {
                return Ok(total);
            }
        }
    }
    if !chunk.is_empty() {
        let _ = sender.blocking_send(Ok(chunk));
    }
    Ok(total)
}

/// A file's row as the storage imports it.
fn imported_battle(row: BattleRow) -> ImportedBattle {
    let categories = row
        .categories
        .iter()
        .filter(|(_, on)| **on)
        .map(|(name, _)| name.clone())
        .collect();
    ImportedBattle {
        external_id: row.question_id.clone(),
        voter: row.judge.clone().unwrap_or_else(|| "imported".into()),
        voted_at_ms: tstamp_ms(&row),
        turns: turns(&row),
        model_a: row.model_a,
        model_b: row.model_b,
        winner: row.winner,
        categories,
    }
}
