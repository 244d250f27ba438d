//! [`BattleWriter`]: one streaming writer in front of every format.

use std::collections::HashSet;
use std::io::Write;

use serde_json::Value;

use crate::columns::{self, CONTRACT};
use crate::{BattleRow, DatasetCard, DatasetError, Format};

/// What a [`BattleWriter`] writes besides the contract's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Include the `conversation_a` and `conversation_b` columns.
    pub conversations: bool,
    /// Extra columns written after the contract's, in this order, in every
    /// format. A name is looked up in the row as `language` (the name
    /// `language`), then [`BattleRow::categories`], then
    /// [`BattleRow::extra`]; a row without it gets null (an empty CSV cell).
    /// Fixed upfront because CSV and Parquet need a fixed schema.
    pub extra_columns: Vec<String>,
}

impl Default for WriteOptions {
    /// Conversations included, no extra column.
    fn default() -> Self {
        WriteOptions {
            conversations: true,
            extra_columns: Vec::new(),
        }
    }
}

impl WriteOptions {
    /// Every column a writer with these options writes, in order.
    pub fn columns(&self) -> Vec<String> {
        let contract = if self.conversations {
            &CONTRACT[..]
        } else {
            &CONTRACT[..CONTRACT.len() - 2]
        };
        contract
            .iter()
            .map(|name| (*name).to_owned())
            .chain(self.extra_columns.iter().cloned())
            .collect()
    }

    /// Rejects extra columns that repeat a contract column or each other:
    /// the file would have two columns of the same name.
    fn validate(&self) -> Result<(), DatasetError> {
        let mut seen = HashSet::new();
        for name in &self.extra_columns {
            if name.is_empty() {
                return Err(DatasetError::InvalidOptions(
                    "extra column names must not be empty".to_owned(),
                ));
            }
            if CONTRACT.contains(&name.as_str()) {
                return Err(DatasetError::InvalidOptions(format!(
                    "extra column {name:?} is a standard column"
                )));
            }
            if !seen.insert(name.as_str()) {
                return Err(DatasetError::InvalidOptions(format!(
                    "extra column {name:?} is listed twice"
                )));
            }
        }
        Ok(())
    }
}

/// The value of an extra column in one row, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExtraValue<'a> {
    Null,
    Bool(bool),
    Text(&'a str),
    Json(&'a Value),
}

/// Looks an extra column up in a row; see [`WriteOptions::extra_columns`].
pub(crate) fn extra_value<'a>(row: &'a BattleRow, name: &str) -> ExtraValue<'a> {
    if name == columns::LANGUAGE
        && let Some(language) = &row.language
    {
        return ExtraValue::Text(language);
    }
    if let Some(flag) = row.categories.get(name) {
        return ExtraValue::Bool(*flag);
    }
    match row.extra.get(name) {
        None | Some(Value::Null) => ExtraValue::Null,
        Some(Value::Bool(flag)) => ExtraValue::Bool(*flag),
        Some(Value::String(text)) => ExtraValue::Text(text),
        Some(value) => ExtraValue::Json(value),
    }
}

/// The format-specific half of a writer.
enum Sink<W: Write + Send> {
    Jsonl(crate::jsonl::JsonlWriter<W>),
    Csv(Box<crate::csv::CsvWriter<W>>),
    Parquet(Box<crate::parquet_write::ParquetWriter<W>>),
    FastChat(crate::fastchat_json::FastChatWriter<W>),
}

/// Streaming writer of battle rows: memory stays constant whatever the
/// number of rows (Parquet holds one row group of 65,536 rows at a time).
///
/// Call [`finish`](BattleWriter::finish): it writes the end of the file
/// (Parquet footer, closing bracket of a FastChat array) and flushes.
pub struct BattleWriter<W: Write + Send> {
    sink: Sink<W>,
    format: Format,
    options: WriteOptions,
    rows: u64,
    first_tstamp: Option<f64>,
    last_tstamp: Option<f64>,
}

impl<W: Write + Send> BattleWriter<W> {
    /// Starts a file in `format` on `out`. CSV writes its header now.
    /// Output is buffered internally; `out` needs no `BufWriter`.
    pub fn new(out: W, format: Format, options: WriteOptions) -> Result<Self, DatasetError> {
        options.validate()?;
        let sink = match format {
            Format::Jsonl => Sink::Jsonl(crate::jsonl::JsonlWriter::new(out)),
            Format::Csv => Sink::Csv(Box::new(crate::csv::CsvWriter::new(out, &options)?)),
            Format::Parquet => Sink::Parquet(Box::new(crate::parquet_write::ParquetWriter::new(
                out, &options,
            )?)),
            Format::FastChatJson => Sink::FastChat(crate::fastchat_json::FastChatWriter::new(out)?),
        };
        Ok(BattleWriter {
            sink,
            format,
            options,
            rows: 0,
            first_tstamp: None,
            last_tstamp: None,
        })
    }

    /// Writes one row.
    pub fn write(&mut self, row: &BattleRow) -> Result<(), DatasetError> {
        match &mut self.sink {
            Sink::Jsonl(sink) => sink.write(row, &self.options)?,
            Sink::Csv(sink) => sink.write(row, &self.options)?,
            Sink::Parquet(sink) => sink.write(row, &self.options)?,
            Sink::FastChat(sink) => sink.write(row, &self.options)?,
        }
        self.rows += 1;
        if let Some(tstamp) = row.tstamp {
            self.first_tstamp = Some(self.first_tstamp.map_or(tstamp, |t| t.min(tstamp)));
            self.last_tstamp = Some(self.last_tstamp.map_or(tstamp, |t| t.max(tstamp)));
        }
        Ok(())
    }

    /// Completes the file and returns the output.
    pub fn finish(self) -> Result<W, DatasetError> {
        match self.sink {
            Sink::Jsonl(sink) => sink.finish(),
            Sink::Csv(sink) => sink.finish(),
            Sink::Parquet(sink) => sink.finish(),
            Sink::FastChat(sink) => sink.finish(),
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Every column of the file, in order.
    pub fn columns(&self) -> Vec<String> {
        self.options.columns()
    }

    /// A dataset card describing what was written so far. Call it before
    /// [`finish`](BattleWriter::finish), which consumes the writer.
    /// `generated_at` is a timestamp (RFC 3339 recommended) and `source` says
    /// where the rows come from (e.g. the server's URL); this crate has no
    /// clock or configuration of its own.
    pub fn card(&self, generated_at: impl Into<String>, source: impl Into<String>) -> DatasetCard {
        DatasetCard {
            format: self.format,
            rows: self.rows,
            first_tstamp: self.first_tstamp,
            last_tstamp: self.last_tstamp,
            conversations: self.options.conversations,
            columns: self.columns(),
            generated_at: generated_at.into(),
            source: source.into(),
        }
    }
}
