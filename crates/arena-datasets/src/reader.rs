//! [`BattleReader`]: one iterator in front of every format.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::parquet_read::Conversations;
use crate::{BattleRow, DatasetError, Format};

/// The format-specific half of a reader.
enum Source {
    Jsonl(crate::jsonl::JsonlReader),
    Csv(Box<crate::csv::CsvReader>),
    Parquet(Box<crate::parquet_read::ParquetReader>),
    FastChat(crate::fastchat_json::FastChatReader),
}

/// An iterator over the rows of a dataset file.
///
/// A malformed row yields an `Err` carrying its location, and iteration
/// goes on with the next row, so a caller may skip bad rows or stop at the
/// first. An I/O or format-level error is the last item.
///
/// Memory stays constant for JSONL and CSV (one row at a time) and bounded
/// for Parquet (one record batch of 8,192 rows at a time); a FastChat
/// `.json` array is parsed whole.
pub struct BattleReader {
    source: Source,
    format: Format,
}

impl BattleReader {
    /// The format being read.
    pub fn format(&self) -> Format {
        self.format
    }
}

impl Iterator for BattleReader {
    type Item = Result<BattleRow, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            Source::Jsonl(rows) => rows.next(),
            Source::Csv(rows) => rows.next(),
            Source::Parquet(rows) => rows.next(),
            Source::FastChat(rows) => rows.next(),
        }
    }
}

/// Opens a dataset file, choosing the format from its extension (see
/// [`Format::from_path`]). Errors name the file.
pub fn read_battles(path: &Path) -> Result<BattleReader, DatasetError> {
    let format = Format::from_path(path)?;
    read_battles_as(path, format)
}

/// [`read_battles`] for readers that need the votes, not the texts (a
/// leaderboard without style control). From Parquet, rows come without
/// conversations, whose columns are never decoded: they hold nearly all of
/// the bytes of a dataset such as LMArena's. Line formats have no columns
/// to skip and read as [`read_battles`] does.
pub fn read_votes(path: &Path) -> Result<BattleReader, DatasetError> {
    let format = Format::from_path(path)?;
    open_file(path, format, Conversations::Skip)
}

/// Opens a dataset file in the given format, whatever its extension.
pub fn read_battles_as(path: &Path, format: Format) -> Result<BattleReader, DatasetError> {
    open_file(path, format, Conversations::Read)
}

fn open_file(
    path: &Path,
    format: Format,
    conversations: Conversations,
) -> Result<BattleReader, DatasetError> {
    let file = File::open(path).map_err(|source| DatasetError::Io {
        path: Some(path.to_path_buf()),
        source,
    })?;
    let source = match format {
        // A file is seekable: Parquet reads only the pages it needs.
        Format::Parquet => {
            Source::Parquet(Box::new(crate::parquet_read::ParquetReader::from_file(
                file,
                Some(path.to_path_buf()),
                conversations,
            )?))
        }
        _ => open_stream(Box::new(file), format, Some(path.to_path_buf()))?,
    };
    Ok(BattleReader { source, format })
}

/// Reads a dataset from any byte stream (standard input, an HTTP upload…).
///
/// Parquet keeps its index at the end of the file and needs random access,
/// so for [`Format::Parquet`] the whole stream is first read into memory;
/// prefer [`read_battles`] for large Parquet files. Errors carry no file
/// name.
pub fn read_battles_from(
    reader: impl Read + Send + 'static,
    format: Format,
) -> Result<BattleReader, DatasetError> {
    let source = open_stream(Box::new(reader), format, None)?;
    Ok(BattleReader { source, format })
}

fn open_stream(
    mut input: Box<dyn Read + Send>,
    format: Format,
    file: Option<PathBuf>,
) -> Result<Source, DatasetError> {
    Ok(match format {
        Format::Jsonl => Source::Jsonl(crate::jsonl::JsonlReader::new(input, file)),
        Format::Csv => Source::Csv(Box::new(crate::csv::CsvReader::new(input, file)?)),
        Format::FastChatJson => {
            Source::FastChat(crate::fastchat_json::FastChatReader::new(input, file)?)
        }
        Format::Parquet => {
            let mut bytes = Vec::new();
            input
                .read_to_end(&mut bytes)
                .map_err(|source| DatasetError::Io {
                    path: file.clone(),
                    source,
                })?;
            Source::Parquet(Box::new(crate::parquet_read::ParquetReader::from_bytes(
                bytes::Bytes::from(bytes),
                file,
            )?))
        }
    })
}
