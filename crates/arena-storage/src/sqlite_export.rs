//! The SQLite export without conversations, read by a thread of its own
//! through rusqlite.
//!
//! sqlx's SQLite driver runs each connection on a worker thread and hands
//! every row to the async side through a channel, duplicating each of its
//! values on the way; for a bulk read that is most of the cost. The page
//! queries of [`crate::export`] work around it by letting SQLite build one
//! JSON text per page, but then SQLite spends most of its time building
//! JSON: measured on 1,000,000 votes, about 2.5 µs per vote for the JSON
//! against 0.9 µs to step through the rows and read their columns.
//!
//! Here one plain query walks the votes in id order, and each row is read
//! in place (borrowed column values, no copies, no hand-off) on a dedicated
//! thread, which resolves the votes into [`ExportBattle`]s and sends them
//! in batches over a bounded channel: the consumer formats one batch while
//! the reader reads the next, and memory stays at a few batches whatever
//! the size of the export. When the consumer goes away (a client hangs up)
//! the next send fails and the thread stops.
//!
//! The connection is this module's own, opened on the database file with
//! the settings of the read pool (WAL reader, mapped file, busy timeout,
//! `query_only`): a statement runs in one read transaction, so the export
//! is a snapshot, bounded as well by the highest vote id at its start.
//! Exports with conversations keep the page path (their cost is the text
//! of the turns, not the driver). In-memory databases cannot be opened
//! twice, so they keep it too.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::error::{Result, StorageError};
use crate::export::{Scope, StoredVote, page_ranges};
use crate::rows;
use crate::sqlite::READ_MMAP_BYTES;
use crate::types::ExportBattle;

/// Battles per batch sent to the consumer.
const BATCH: usize = 1024;

/// Vote ids per chunk: the readers take chunks in turn.
const CHUNK_IDS: i64 = 16_384;

/// Reading threads. Two: the consumer (formatting the file) needs about as
/// much CPU as one reader, and the reference machine has two cores.
const READERS: usize = 2;

/// Messages each reader may have queued for the consumer.
const QUEUED_PER_READER: usize = 8;

/// What a reader sends.
enum Message {
    /// Battles of the current chunk, in vote order.
    Batch(Vec<ExportBattle>),
    /// The current chunk is complete.
    ChunkEnd,
}

/// Whether the direct reader can serve this export: a database on a file,
/// no conversations.
pub(crate) fn serves(path: &Path, scope: &Scope) -> bool {
    !scope.conversations && path.is_file()
}

/// The export of `scope` from the database at `path`, read by [`READERS`]
/// threads: reader `k` reads chunks `k`, `k + READERS`, … of the id range,
/// and the stream takes the chunks back in order, so that the readers work
/// at the same time while the output stays in vote order and memory stays
/// at a few batches per reader.
pub(crate) fn stream(
    path: PathBuf,
    models: Arc<HashMap<Uuid, String>>,
    scope: Scope,
) -> BoxStream<'static, Result<ExportBattle>> {
    let chunks: Arc<[(i64, i64)]> = page_ranges(scope.after, scope.last, CHUNK_IDS).collect();
    let scope = Arc::new(scope);
    let mut receivers = Vec::with_capacity(READERS);
    for first in 0..READERS.min(chunks.len()) {
        let (sender, receiver) = mpsc::channel(QUEUED_PER_READER);
        let (path, models, scope, chunks) =
            (path.clone(), models.clone(), scope.clone(), chunks.clone());
        let reader = move || {
            let mine = chunks.iter().skip(first).step_by(READERS).copied();
            if let Err(error) = read(&path, &models, &scope, mine, &sender) {
                // The consumer learns of the failure as the stream's last item.
                let _ = sender.blocking_send(Err(error));
            }
        };
        if let Err(error) = std::thread::Builder::new()
            .name("arena-export".into())
            .spawn(reader)
        {
            let error = StorageError::Corrupt(format!("cannot start the export reader: {error}"));
            return futures_util::stream::once(async move { Err(error) }).boxed();
        }
        receivers.push(receiver);
    }
    let total = chunks.len();
    // State: the receivers, and the chunk being read (its reader is
    // `chunk % READERS`).
    futures_util::stream::unfold(
        (receivers, 0usize),
        move |(mut receivers, mut chunk)| async move {
            loop {
                if chunk >= total {
                    return None;
                }
                let turn = chunk % receivers.len();
                match receivers[turn].recv().await {
                    Some(Ok(Message::Batch(battles))) => {
                        return Some((Ok(battles), (receivers, chunk)));
                    }
                    Some(Ok(Message::ChunkEnd)) => chunk += 1,
                    Some(Err(error)) => return Some((Err(error), (receivers, total))),
                    None => {
                        let error = StorageError::Corrupt("the export reader stopped early".into());
                        return Some((Err(error), (receivers, total)));
                    }
                }
            }
        },
    )
    .map_ok(|battles| futures_util::stream::iter(battles.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// Reads the votes of `scope` in the id ranges `chunks` and sends them,
/// each chunk followed by [`Message::ChunkEnd`]; returns early, without an
/// error, when the consumer is gone.
fn read(
    path: &Path,
    models: &HashMap<Uuid, String>,
    scope: &Scope,
    chunks: impl Iterator<Item = (i64, i64)>,
    sender: &mpsc::Sender<Result<Message>>,
) -> Result<()> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.pragma_update(None, "query_only", true)?;
    connection.pragma_update(
        None,
        "mmap_size",
        i64::try_from(READ_MMAP_BYTES).unwrap_or(i64::MAX),
    )?;
    // One read transaction: the flagged voters and every chunk come from
    // the same snapshot.
    connection.execute_batch("BEGIN")?;
    let flagged: HashSet<String> = connection
        .prepare("SELECT voter FROM flagged_voters")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut statement = connection.prepare(crate::export::rows_with_flagged_sql(scope))?;
    let category = scope.category.as_deref();
    let send = |message| sender.blocking_send(Ok(message)).is_ok();
    for (from, up_to) in chunks {
        let mut votes = match scope.time {
            Some((since, until)) => statement.query((from, up_to, since, until))?,
            None => statement.query((from, up_to))?,
        };
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(row) = votes.next()? {
            if !flagged.is_empty() && flagged.contains(text(row, 6)?) {
                continue;
            }
            if let Some(battle) = stored_vote(row)?.resolve(models, category)? {
                batch.push(battle);
            }
            if batch.len() == BATCH
                && !send(Message::Batch(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(BATCH),
                )))
            {
                return Ok(());
            }
        }
        if !batch.is_empty() && !send(Message::Batch(batch)) {
            return Ok(());
        }
        if !send(Message::ChunkEnd) {
            return Ok(());
        }
    }
    Ok(())
}

/// One row of [`crate::export::rows_sql`], borrowed where it can be.
fn stored_vote<'r>(row: &'r Row<'_>) -> Result<StoredVote<'r>> {
    Ok(StoredVote {
        battle_id: uuid(row, 1)?,
        external_id: row.get(2)?,
        model_a: uuid(row, 3)?,
        model_b: uuid(row, 4)?,
        winner: text(row, 5)?.into(),
        voter: row.get(6)?,
        voted_at_ms: row.get(7)?,
        pair_probability: row.get(8)?,
        categories: rows::categories(text(row, 9)?)?,
        turn_count: row.get(10)?,
    })
}

/// A UUID column (sqlx stores them as 16-byte blobs).
fn uuid(row: &Row<'_>, column: usize) -> Result<Uuid> {
    match row.get_ref(column)? {
        ValueRef::Blob(bytes) => Uuid::from_slice(bytes)
            .map_err(|_| StorageError::Corrupt(format!("column {column}: not a UUID"))),
        other => Err(StorageError::Corrupt(format!(
            "column {column}: expected a UUID blob, found {:?}",
            other.data_type()
        ))),
    }
}

/// A text column, borrowed from the row.
fn text<'r>(row: &'r Row<'_>, column: usize) -> Result<&'r str> {
    row.get_ref(column)?
        .as_str()
        .map_err(|error| StorageError::Corrupt(format!("column {column}: {error}")))
}
