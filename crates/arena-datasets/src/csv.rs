//! CSV with a header row: read record by record into one reused
//! `ByteRecord`, written field by field through reused scratch buffers.

use std::io::{Read, Write};
use std::path::PathBuf;

use csv::{ByteRecord, ErrorKind};
use serde_json::Value;

use crate::builder::RowBuilder;
use crate::columns::{self, Column};
use crate::error::Location;
use crate::writer::{ExtraValue, extra_value};
use crate::{BattleRow, DatasetError, WriteOptions};

/// Reads a CSV stream one record at a time.
pub(crate) struct CsvReader {
    reader: csv::Reader<Box<dyn Read + Send>>,
    record: ByteRecord,
    /// What each column is, decided once from the header.
    columns: Vec<(Column, String)>,
    file: Option<PathBuf>,
    done: bool,
}

impl CsvReader {
    /// Reads the header and checks that the mandatory columns are there.
    pub(crate) fn new(
        input: Box<dyn Read + Send>,
        file: Option<PathBuf>,
    ) -> Result<Self, DatasetError> {
        let mut reader = csv::ReaderBuilder::new()
            .buffer_capacity(1 << 16)
            .from_reader(input);
        let header = reader.byte_headers().map_err(|source| DatasetError::Csv {
            file: file.clone(),
            source,
        })?;
        let columns: Vec<(Column, String)> = header
            .iter()
            .map(|name| {
                let name = String::from_utf8_lossy(name).trim().to_owned();
                (Column::from_name(&name), name)
            })
            .collect();
        for required in columns::REQUIRED {
            if !columns.iter().any(|(_, name)| name == required) {
                return Err(DatasetError::MissingColumn {
                    file,
                    column: required,
                });
            }
        }
        Ok(CsvReader {
            reader,
            record: ByteRecord::new(),
            columns,
            file,
            done: false,
        })
    }

    fn build(&self) -> Result<BattleRow, DatasetError> {
        let mut row = RowBuilder::default();
        for (field, (column, name)) in self.record.iter().zip(&self.columns) {
            let Ok(text) = std::str::from_utf8(field) else {
                row.fail(format!("column {name:?} is not valid UTF-8"));
                continue;
            };
            match column {
                Column::QuestionId
                | Column::Id
                | Column::ModelA
                | Column::ModelB
                | Column::Judge
                | Column::Language => {
                    if !text.is_empty() {
                        row.set_text(*column, text.to_owned());
                    }
                }
                Column::Winner => row.set_winner_text(text),
                Column::Turn => row.set_turn_text(text),
                Column::Anony => row.set_anony_text(text),
                Column::Tstamp => row.set_tstamp_text(text),
                Column::ConversationA | Column::ConversationB => {
                    row.set_conversation_text(*column, text);
                }
                Column::CategoryTag => {
                    if !text.is_empty() {
                        row.set_category_tag(Value::String(text.to_owned()));
                    }
                }
                // A nameless column is pandas' index: not data.
                Column::Other if name.is_empty() => {}
                Column::Other => row.set_other_text(name, text),
            }
        }
        let line = self.record.position().map_or(0, |p| p.line());
        row.finish(|| Location::line(self.file.as_deref(), line))
    }
}

impl Iterator for CsvReader {
    type Item = Result<BattleRow, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => Some(self.build()),
            Ok(false) => {
                self.done = true;
                None
            }
            // A record with the wrong number of fields spoils only itself.
            Err(err) if matches!(err.kind(), ErrorKind::UnequalLengths { .. }) => {
                let ErrorKind::UnequalLengths {
                    pos,
                    expected_len,
                    len,
                } = err.kind()
                else {
                    unreachable!()
                };
                let line = pos.as_ref().map_or(0, |p| p.line());
                Some(Err(DatasetError::malformed(
                    Location::line(self.file.as_deref(), line),
                    format!("expected {expected_len} fields, found {len}"),
                )))
            }
            Err(source) => {
                self.done = true;
                Some(Err(DatasetError::Csv {
                    file: self.file.clone(),
                    source,
                }))
            }
        }
    }
}

/// Writes rows as CSV; conversations and non-text extras as JSON text.
pub(crate) struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
    /// Reused for numbers and JSON text so that a row allocates nothing.
    scratch: Vec<u8>,
}

fn csv_error(source: csv::Error) -> DatasetError {
    DatasetError::Csv { file: None, source }
}

impl<W: Write> CsvWriter<W> {
    /// Writes the header.
    pub(crate) fn new(out: W, options: &WriteOptions) -> Result<Self, DatasetError> {
        let mut out = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_writer(out);
        out.write_record(options.columns()).map_err(csv_error)?;
        Ok(CsvWriter {
            out,
            scratch: Vec::with_capacity(256),
        })
    }

    pub(crate) fn write(
        &mut self,
        row: &BattleRow,
        options: &WriteOptions,
    ) -> Result<(), DatasetError> {
        let out = &mut self.out;
        let scratch = &mut self.scratch;
        out.write_field(&row.question_id).map_err(csv_error)?;
        out.write_field(&row.model_a).map_err(csv_error)?;
        out.write_field(&row.model_b).map_err(csv_error)?;
        out.write_field(row.winner.as_str()).map_err(csv_error)?;
        out.write_field(row.judge.as_deref().unwrap_or_default())
            .map_err(csv_error)?;
        scratch.clear();
        write!(scratch, "{}", row.turn).map_err(DatasetError::io)?;
        out.write_field(&scratch).map_err(csv_error)?;
        out.write_field(bool_text(row.anony)).map_err(csv_error)?;
        scratch.clear();
        if let Some(tstamp) = row.tstamp {
            // `{:?}` keeps the `.0` of whole seconds: the column stays float
            // for pandas, and the shortest round-trip digits are exact.
            write!(scratch, "{tstamp:?}").map_err(DatasetError::io)?;
        }
        out.write_field(&scratch).map_err(csv_error)?;
        if options.conversations {
            for conversation in [&row.conversation_a, &row.conversation_b] {
                scratch.clear();
                if let Some(messages) = conversation {
                    serde_json::to_writer(&mut *scratch, messages)
                        .map_err(|err| DatasetError::io(err.into()))?;
                }
                out.write_field(&scratch).map_err(csv_error)?;
            }
        }
        for name in &options.extra_columns {
            match extra_value(row, name) {
                ExtraValue::Null => out.write_field(b""),
                ExtraValue::Bool(flag) => out.write_field(bool_text(flag)),
                ExtraValue::Text(text) => out.write_field(text),
                ExtraValue::Json(value) => {
                    scratch.clear();
                    match value {
                        Value::Number(n) => write!(scratch, "{n}").map_err(DatasetError::io)?,
                        other => serde_json::to_writer(&mut *scratch, other)
                            .map_err(|err| DatasetError::io(err.into()))?,
                    }
                    out.write_field(&scratch)
                }
            }
            .map_err(csv_error)?;
        }
        out.write_record(std::iter::empty::<&[u8]>())
            .map_err(csv_error)
    }

    pub(crate) fn finish(self) -> Result<W, DatasetError> {
        self.out
            .into_inner()
            .map_err(|err| DatasetError::io(err.into_error()))
    }
}

fn bool_text(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}
