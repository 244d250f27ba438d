//! JSON Lines: one battle object per line, read and written row by row.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::columns;
use crate::error::Location;
use crate::json_row::JsonRow;
use crate::writer::{ExtraValue, extra_value};
use crate::{BattleRow, DatasetError, WriteOptions};

/// Reads a JSONL stream line by line, reusing one line buffer.
pub(crate) struct JsonlReader {
    input: BufReader<Box<dyn Read + Send>>,
    line: Vec<u8>,
    number: u64,
    file: Option<PathBuf>,
    done: bool,
}

impl JsonlReader {
    pub(crate) fn new(input: Box<dyn Read + Send>, file: Option<PathBuf>) -> Self {
        JsonlReader {
            input: BufReader::with_capacity(1 << 16, input),
            line: Vec::with_capacity(1 << 12),
            number: 0,
            file,
            done: false,
        }
    }

    fn parse(&self, text: &[u8]) -> Result<BattleRow, DatasetError> {
        let location = || Location::line(self.file.as_deref(), self.number);
        match serde_json::from_slice::<JsonRow>(text) {
            Ok(JsonRow(row)) => row.finish(location),
            Err(err) => Err(DatasetError::malformed(location(), json_message(&err))),
        }
    }
}

impl Iterator for JsonlReader {
    type Item = Result<BattleRow, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.line.clear();
            // Bytes rather than `read_line`: invalid UTF-8 then fails one row
            // (serde_json checks it) instead of ending the whole stream.
            match self.input.read_until(b'\n', &mut self.line) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.number += 1;
                    let mut text = self.line.trim_ascii();
                    if self.number == 1 {
                        text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
                    }
                    if !text.is_empty() {
                        return Some(self.parse(text));
                    }
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(DatasetError::Io {
                        path: self.file.clone(),
                        source,
                    }));
                }
            }
        }
        None
    }
}

/// A serde_json message without its position: a JSONL line is one line, and
/// our location already names it; the column still helps on long lines.
pub(crate) fn json_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) => format!("invalid JSON: {message} (column {})", err.column()),
        None => format!("invalid JSON: {text}"),
    }
}

/// Serializes a row with the contract's keys in the contract's order, then
/// the extra columns; shared by the JSONL and FastChat writers.
pub(crate) struct RowView<'a> {
    pub(crate) row: &'a BattleRow,
    pub(crate) options: &'a WriteOptions,
}

impl Serialize for RowView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(columns::QUESTION_ID, &row.question_id)?;
        map.serialize_entry(columns::MODEL_A, &row.model_a)?;
        map.serialize_entry(columns::MODEL_B, &row.model_b)?;
        map.serialize_entry(columns::WINNER, row.winner.as_str())?;
        map.serialize_entry(columns::JUDGE, &row.judge)?;
        map.serialize_entry(columns::TURN, &row.turn)?;
        map.serialize_entry(columns::ANONY, &row.anony)?;
        map.serialize_entry(columns::TSTAMP, &row.tstamp)?;
        if self.options.conversations {
            map.serialize_entry(columns::CONVERSATION_A, &row.conversation_a)?;
            map.serialize_entry(columns::CONVERSATION_B, &row.conversation_b)?;
        }
        for name in &self.options.extra_columns {
            match extra_value(row, name) {
                ExtraValue::Null => map.serialize_entry(name, &())?,
                ExtraValue::Bool(flag) => map.serialize_entry(name, &flag)?,
                ExtraValue::Text(text) => map.serialize_entry(name, text)?,
                ExtraValue::Json(value) => map.serialize_entry(name, value)?,
            }
        }
        map.end()
    }
}

/// Writes one JSON object per line through a 64 KiB buffer.
pub(crate) struct JsonlWriter<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> JsonlWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        JsonlWriter {
            out: BufWriter::with_capacity(1 << 16, out),
        }
    }

    pub(crate) fn write(
        &mut self,
        row: &BattleRow,
        options: &WriteOptions,
    ) -> Result<(), DatasetError> {
        serde_json::to_writer(&mut self.out, &RowView { row, options })
            .map_err(|err| DatasetError::io(err.into()))?;
        self.out.write_all(b"\n").map_err(DatasetError::io)
    }

    pub(crate) fn finish(self) -> Result<W, DatasetError> {
        self.out
            .into_inner()
            .map_err(|err| DatasetError::io(err.into_error()))
    }
}
