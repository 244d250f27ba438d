//! FastChat's `clean_battle_*.json`: one JSON array of battle objects.
//!
//! The array is parsed in one go (JSON arrays cannot be resumed after a
//! syntax error, and FastChat's files fit in memory), straight into row
//! builders rather than `serde_json::Value`s. Rows are then checked one by
//! one as the iterator is drawn, so one bad row does not hide the others.

use std::fmt;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};

use crate::builder::RowBuilder;
use crate::error::Location;
use crate::json_row::JsonRow;
use crate::jsonl::RowView;
use crate::{BattleRow, DatasetError, WriteOptions};

/// The rows of a FastChat array, checked lazily.
pub(crate) struct FastChatReader {
    rows: std::vec::IntoIter<RowBuilder>,
    number: u64,
    file: Option<PathBuf>,
}

impl FastChatReader {
    /// Parses the whole array.
    pub(crate) fn new(
        input: Box<dyn Read + Send>,
        file: Option<PathBuf>,
    ) -> Result<Self, DatasetError> {
        let input = BufReader::with_capacity(1 << 16, input);
        let mut deserializer = serde_json::Deserializer::from_reader(input);
        let rows = match Rows::deserialize(&mut deserializer).and_then(|rows| {
            deserializer.end()?;
            Ok(rows)
        }) {
            Ok(Rows(rows)) => rows,
            Err(source) if source.is_io() => {
                return Err(DatasetError::Io {
                    path: file,
                    source: source.into(),
                });
            }
            Err(source) => return Err(DatasetError::Json { file, source }),
        };
        Ok(FastChatReader {
            rows: rows.into_iter(),
            number: 0,
            file,
        })
    }
}

impl Iterator for FastChatReader {
    type Item = Result<BattleRow, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = self.rows.next()?;
        self.number += 1;
        Some(row.finish(|| Location::row(self.file.as_deref(), self.number)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

/// The top-level array.
struct Rows(Vec<RowBuilder>);

impl<'de> Deserialize<'de> for Rows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RowsVisitor;
        impl<'de> Visitor<'de> for RowsVisitor {
            type Value = Rows;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array of battle objects")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rows, A::Error> {
                let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(1024));
                while let Some(JsonRow(row)) = seq.next_element()? {
                    rows.push(row);
                }
                Ok(Rows(rows))
            }
        }
        deserializer.deserialize_seq(RowsVisitor)
    }
}

/// Writes a FastChat-style array, one object per line so that the file
/// stays greppable, without holding the rows in memory.
pub(crate) struct FastChatWriter<W: Write> {
    out: BufWriter<W>,
    first: bool,
}

impl<W: Write> FastChatWriter<W> {
    pub(crate) fn new(out: W) -> Result<Self, DatasetError> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        out.write_all(b"[").map_err(DatasetError::io)?;
        Ok(FastChatWriter { out, first: true })
    }

    pub(crate) fn write(
        &mut self,
        row: &BattleRow,
        options: &WriteOptions,
    ) -> Result<(), DatasetError> {
        let separator: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.first = false;
        self.out.write_all(separator).map_err(DatasetError::io)?;
        serde_json::to_writer(&mut self.out, &RowView { row, options })
            .map_err(|err| DatasetError::io(err.into()))
    }

    pub(crate) fn finish(mut self) -> Result<W, DatasetError> {
        self.out.write_all(b"\n]\n").map_err(DatasetError::io)?;
        self.out
            .into_inner()
            .map_err(|err| DatasetError::io(err.into_error()))
    }
}
