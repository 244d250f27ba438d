//! The research dataset: stored battles as FastChat / LMArena rows, streamed.
//!
//! Shared by `GET /api/v1/export` and `arena export` so both write the same
//! rows. The judge is a salted hash of the stored voter hash (salt per
//! deployment, stable across exports): no cookie, no address, no key ever
//! reaches a row.

use std::collections::BTreeMap;
use std::io::{self, Write};

use arena_datasets::{
    BattleRow, BattleWriter, DatasetCard, DatasetError, Format, Message, WriteOptions,
};
use arena_storage::{ExportBattle, Storage, VoteFilter};
use axum::body::Bytes;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::auth::hex;
use crate::state::now_ms;
use crate::wire::rfc3339;

/// The judge column for a stored voter hash.
pub fn judge(salt: &str, voter: &str) -> String {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(b":")
        .chain_update(voter.as_bytes())
        .finalize();
    // The first 128 bits of the digest: unique enough, and short.
    format!("judge_{}", hex(&digest[..16]))
}

/// The research columns written after the contract's.
pub fn extra_columns(categories: &[String], conversations: bool) -> Vec<String> {
    let mut columns: Vec<String> = categories.to_vec();
    columns.push("pair_probability".into());
    if conversations {
        columns.extend(["latency_a_ms", "latency_b_ms", "tokens_a", "tokens_b"].map(String::from));
        columns.extend(
            STYLE_COLUMNS
                .iter()
                .flat_map(|c| [format!("{c}_a"), format!("{c}_b")]),
        );
    }
    columns
}

/// Style features of each side's answers (FastChat's style-control inputs:
/// length in tokens, markdown headers, list items, bold spans), so that
/// researchers can fit style-controlled ratings without re-parsing answers.
const STYLE_COLUMNS: [&str; 4] = ["style_tokens", "style_headers", "style_lists", "style_bold"];

fn insert_style(row: &mut BattleRow, suffix: &str, answers: &str) {
    let style = arena_rating::style_side_from_markdown(answers);
    for (column, value) in
        STYLE_COLUMNS
            .iter()
            .zip([style.tokens, style.headers, style.lists, style.bold])
    {
        row.extra
            .insert(format!("{column}_{suffix}"), (value as i64).into());
    }
}

/// One exported row.
pub fn to_row(
    salt: &str,
    battle: &ExportBattle,
    categories: &[String],
    conversations: bool,
) -> BattleRow {
    let question_id = battle
        .external_id
        .clone()
        .unwrap_or_else(|| battle.battle_id.simple().to_string());
    let mut row = BattleRow::new(
        question_id,
        battle.model_a.clone(),
        battle.model_b.clone(),
        battle.winner,
    );
    row.judge = Some(judge(salt, &battle.voter));
    row.turn = battle.turn_count.max(1);
    row.tstamp = Some(battle.voted_at_ms as f64 / 1000.0);
    row.categories = categories
        .iter()
        .map(|c| (c.clone(), battle.categories.iter().any(|have| have == c)))
        .collect::<BTreeMap<_, _>>();
    if let Some(p) = battle.pair_probability {
        row.extra.insert("pair_probability".into(), p.into());
    }
    if conversations {
        let mut a = Vec::with_capacity(battle.turns.len() * 2);
        let mut b = Vec::with_capacity(battle.turns.len() * 2);
        let (mut latency, mut tokens) = ([0i64; 2], [0i64; 2]);
        for turn in &battle.turns {
            a.push(Message::new("user", turn.prompt.clone()));
            a.push(Message::new("assistant", turn.a.text.clone()));
            b.push(Message::new("user", turn.prompt.clone()));
            b.push(Message::new("assistant", turn.b.text.clone()));
            latency[0] += turn.a.latency_ms.unwrap_or(0);
            latency[1] += turn.b.latency_ms.unwrap_or(0);
            tokens[0] += turn.a.tokens.unwrap_or(0);
            tokens[1] += turn.b.tokens.unwrap_or(0);
        }
        let answers = |side: &[Message]| {
            side.iter()
                .filter(|m| m.role == "assistant")
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        insert_style(&mut row, "a", &answers(&a));
        insert_style(&mut row, "b", &answers(&b));
        row.conversation_a = Some(a);
        row.conversation_b = Some(b);
        row.extra.insert("latency_a_ms".into(), latency[0].into());
        row.extra.insert("latency_b_ms".into(), latency[1].into());
        row.extra.insert("tokens_a".into(), tokens[0].into());
        row.extra.insert("tokens_b".into(), tokens[1].into());
    }
    row
}

/// Everything an export needs to know.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Output format.
    pub format: Format,
    /// Time and category filter.
    pub filter: VoteFilter,
    /// Include conversations.
    pub conversations: bool,
    /// Where the dataset card says the rows come from.
    pub source: String,
}

/// Battles handed to the writer thread at a time: one channel message (and
/// at most one wake-up) per batch instead of per row.
const BATCH: usize = 256;

/// Writes the dataset to `out` on a blocking thread while battles stream
/// from the database; memory stays constant whatever the size. The writer
/// thread also turns battles into rows (judge hash, conversations), so that
/// work runs beside the database reads instead of after them. `on_battle` is
/// called for each battle read (progress bars). Returns the sink and the
/// dataset card of what was written.
pub async fn write_dataset<W: Write + Send + 'static>(
    storage: &dyn Storage,
    salt: &str,
    request: ExportRequest,
    out: W,
    mut on_battle: impl FnMut(&ExportBattle) + Send,
) -> Result<(W, DatasetCard), ExportError> {
    let mut battles = storage.export_battles(request.filter.clone(), request.conversations);
    // The category columns must be known before the first row is written;
    // reading them (a scan of the battles) overlaps with the export's start,
    // whose readers get ahead meanwhile, instead of delaying it.
    let (categories, first) = tokio::join!(storage.categories(), battles.try_next());
    let categories = categories.map_err(ExportError::Storage)?;
    let first = first.map_err(ExportError::Storage)?;
    let options = WriteOptions {
        conversations: request.conversations,
        extra_columns: extra_columns(&categories, request.conversations),
    };
    let (batches_tx, mut batches_rx) = mpsc::channel::<Vec<ExportBattle>>(8);
    let format = request.format;
    let conversations = request.conversations;
    let writer_salt = salt.to_owned();
    let source = request.source.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(W, DatasetCard), DatasetError> {
        let mut writer = BattleWriter::new(out, format, options)?;
        while let Some(batch) = batches_rx.blocking_recv() {
            for battle in &batch {
                writer.write(&to_row(&writer_salt, battle, &categories, conversations))?;
            }
        }
        let card = writer.card(rfc3339(now_ms()), source);
        let mut sink = writer.finish()?;
        // Hand the last chunk over here, on the blocking thread: the sink may
        // be dropped on an async thread, where it must not block.
        sink.flush()
            .map_err(|source| DatasetError::Io { path: None, source })?;
        Ok((sink, card))
    });
    let produce = async {
        let mut batch = Vec::with_capacity(BATCH);
        let mut next = first;
        while let Some(battle) = next {
            on_battle(&battle);
            batch.push(battle);
            if batch.len() == BATCH
                && batches_tx
                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .await
                    .is_err()
            {
                return Ok(()); // the writer stopped; its error is reported below
            }
            next = battles.try_next().await.map_err(ExportError::Storage)?;
        }
        if !batch.is_empty() {
            let _ = batches_tx.send(batch).await;
        }
        Ok::<(), ExportError>(())
    };
    let produced = produce.await;
    drop(batches_tx);
    let written = writer
        .await
        .map_err(|e| ExportError::Io(io::Error::other(e)))?
        .map_err(ExportError::Dataset)?;
    produced?;
    Ok(written)
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading from the database failed.
    #[error("reading votes failed")]
    Storage(#[source] arena_storage::StorageError),
    /// Encoding a row failed (or the client went away).
    #[error("writing the dataset failed")]
    Dataset(#[source] DatasetError),
    /// The writer thread failed.
    #[error("export i/o failed")]
    Io(#[source] io::Error),
}

/// A `Write` that hands 64 KiB chunks to an HTTP body stream. When the client
/// disconnects the channel closes and writing fails, which stops the export.
pub struct ChannelWriter {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
}

impl ChannelWriter {
    const CHUNK: usize = 64 * 1024;

    /// A writer feeding `sender`.
    pub fn new(sender: mpsc::Sender<Result<Bytes, io::Error>>) -> Self {
        Self {
            buffer: Vec::with_capacity(Self::CHUNK),
            sender,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(Self::CHUNK),
        ));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client disconnected"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        // Never block in drop (it may run on an async thread): the normal path
        // flushed already; this only saves a tail left by an error path.
        if !self.buffer.is_empty() {
            let chunk = Bytes::from(std::mem::take(&mut self.buffer));
            let _ = self.sender.try_send(Ok(chunk));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_are_stable_salted_and_short() {
        let judge_of = |salt: &str, voter: &str| judge(salt, voter);
        // SHA-256("salt:voter"), first 16 bytes, lowercase hex.
        let expected = Sha256::digest(b"salt:voter");
        let expected: String = expected[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(judge_of("salt", "voter"), format!("judge_{expected}"));
        assert_eq!(judge_of("salt", "voter").len(), 38);
        assert_ne!(judge_of("salt", "voter"), judge_of("pepper", "voter"));
    }
}
