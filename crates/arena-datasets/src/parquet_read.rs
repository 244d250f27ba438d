//! Parquet input, one Arrow record batch at a time.
//!
//! Foreign files use many physical types for the same column, so cells are
//! read through [`scalar_at`], which understands every string flavour
//! (Utf8, LargeUtf8, Utf8View, UTF-8 binary, dictionaries of those), every
//! integer and float width, booleans and timestamps (as Unix seconds).
//! Conversations may be JSON text or `list<struct<role, content>>`, as in
//! LMArena's Hugging Face datasets; `category_tag` may be a struct or JSON
//! text; any other struct or list column is kept in `extra` as JSON.

use std::fs::File;
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;
use serde_json::{Map, Value};

use crate::builder::RowBuilder;
use crate::columns::{self, Column};
use crate::error::Location;
use crate::{BattleRow, DatasetError, Message};

/// Rows decoded at a time.
const BATCH_ROWS: usize = 8_192;

/// Whether a reader decodes the conversation columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversations {
    /// Rows carry their conversations.
    Read,
    /// Rows come without conversations, which are never decoded.
    Skip,
}

pub(crate) struct ParquetReader {
    batches: ParquetRecordBatchReader,
    /// What each column of the file is, decided once from the schema.
    columns: Vec<(Column, String)>,
    batch: Option<RecordBatch>,
    /// Next row within `batch`.
    index: usize,
    /// 1-based number of the last row handed out.
    number: u64,
    file: Option<PathBuf>,
    done: bool,
}

impl ParquetReader {
    pub(crate) fn from_file(
        input: File,
        file: Option<PathBuf>,
        conversations: Conversations,
    ) -> Result<Self, DatasetError> {
        Self::open(input, file, conversations)
    }

    pub(crate) fn from_bytes(
        input: bytes::Bytes,
        file: Option<PathBuf>,
    ) -> Result<Self, DatasetError> {
        Self::open(input, file, Conversations::Read)
    }

    fn open<T: ChunkReader + 'static>(
        input: T,
        file: Option<PathBuf>,
        conversations: Conversations,
    ) -> Result<Self, DatasetError> {
        let parquet_error = |source| DatasetError::Parquet {
            file: file.clone(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(parquet_error)?;
        let columns: Vec<(Column, String)> = builder
            .schema()
            .fields()
            .iter()
            .map(|field| (Column::from_name(field.name()), field.name().clone()))
            .collect();
        for required in columns::REQUIRED {
            if !columns.iter().any(|(_, name)| name == required) {
                return Err(DatasetError::MissingColumn {
                    file,
                    column: required,
                });
            }
        }
        let (builder, columns) = match conversations {
            Conversations::Read => (builder, columns),
            Conversations::Skip => {
                // Their column chunks are then never decompressed or
                // decoded: in LMArena's datasets, nearly all of the bytes.
                let is_conversation = |column: &Column| {
                    matches!(column, Column::ConversationA | Column::ConversationB)
                };
                let keep: Vec<usize> = (0..columns.len())
                    .filter(|&i| !is_conversation(&columns[i].0))
                    .collect();
                let mask = ProjectionMask::roots(builder.parquet_schema(), keep.iter().copied());
                let columns = keep.into_iter().map(|i| columns[i].clone()).collect();
                (builder.with_projection(mask), columns)
            }
        };
        let batches = builder
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(parquet_error)?;
        Ok(ParquetReader {
            batches,
            columns,
            batch: None,
            index: 0,
            number: 0,
            file,
            done: false,
        })
    }

    fn build(&self, batch: &RecordBatch, index: usize) -> Result<BattleRow, DatasetError> {
        let mut row = RowBuilder::default();
        for ((column, name), array) in self.columns.iter().zip(batch.columns()) {
            if array.is_null(index) {
                continue;
            }
            let array = array.as_ref();
            match column {
                Column::QuestionId
                | Column::Id
                | Column::ModelA
                | Column::ModelB
                | Column::Judge
                | Column::Language => match scalar_at(array, index) {
                    Scalar::Text(text) => row.set_text(*column, text.to_owned()),
                    Scalar::Int(n) => row.set_text(*column, n.to_string()),
                    Scalar::Null => {}
                    _ => row.fail(format!("{name} is not text")),
                },
                Column::Winner => match scalar_at(array, index) {
                    Scalar::Text(text) => row.set_winner_text(text),
                    _ => row.fail("winner is not text"),
                },
                Column::Turn => match scalar_at(array, index) {
                    Scalar::Int(n) => row.set_turn(n),
                    Scalar::Float(n) => row.set_turn_float(n),
                    Scalar::Text(text) => row.set_turn_text(text),
                    _ => row.fail("turn is not a number"),
                },
                Column::Anony => match scalar_at(array, index) {
                    Scalar::Bool(flag) => row.set_anony(flag),
                    Scalar::Int(n @ (0 | 1)) => row.set_anony(n == 1),
                    Scalar::Text(text) => row.set_anony_text(text),
                    _ => row.fail("anony is not a boolean"),
                },
                Column::Tstamp => match scalar_at(array, index) {
                    Scalar::Int(n) => row.set_tstamp(n as f64),
                    Scalar::Float(n) => row.set_tstamp(n),
                    Scalar::Text(text) => row.set_tstamp_text(text),
                    _ => row.fail("tstamp is not a number of Unix seconds"),
                },
                Column::ConversationA | Column::ConversationB => match messages_at(array, index) {
                    Ok(Some(messages)) => row.set_conversation(*column, messages),
                    Ok(None) => match scalar_at(array, index) {
                        Scalar::Text(text) => row.set_conversation_text(*column, text),
                        _ => row.fail(format!("{name} is neither JSON text nor a list")),
                    },
                    Err(message) => row.fail(format!("{name}: {message}")),
                },
                Column::CategoryTag => row.set_category_tag(value_at(array, index)),
                Column::Other => match scalar_at(array, index) {
                    Scalar::Text(text) => row.set_other(name.clone(), Value::from(text)),
                    Scalar::Bool(flag) => row.set_other(name.clone(), Value::Bool(flag)),
                    Scalar::Int(n) => row.set_other(name.clone(), Value::from(n)),
                    Scalar::Float(n) => row.set_other(name.clone(), Value::from(n)),
                    Scalar::Null => {}
                    Scalar::Nested => row.set_other(name.clone(), value_at(array, index)),
                },
            }
        }
        row.finish(|| Location::row(self.file.as_deref(), self.number))
    }
}

impl Iterator for ParquetReader {
    type Item = Result<BattleRow, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = &self.batch
                && self.index < batch.num_rows()
            {
                let index = self.index;
                self.index += 1;
                self.number += 1;
                return Some(self.build(batch, index));
            }
            if self.done {
                return None;
            }
            match self.batches.next() {
                Some(Ok(batch)) => {
                    self.batch = Some(batch);
                    self.index = 0;
                }
                Some(Err(source)) => {
                    self.done = true;
                    self.batch = None;
                    return Some(Err(DatasetError::Arrow {
                        file: self.file.clone(),
                        source,
                    }));
                }
                None => {
                    self.done = true;
                    self.batch = None;
                }
            }
        }
    }
}

/// One cell, borrowed from its array.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'a str),
    /// A list, struct, map or a type we do not read as a scalar.
    Nested,
}

/// Reads cell `index` of any scalar column.
fn scalar_at(array: &dyn Array, index: usize) -> Scalar<'_> {
    if array.is_null(index) {
        return Scalar::Null;
    }
    macro_rules! int {
        ($t:ty) => {
            Scalar::Int(array.as_primitive::<$t>().value(index) as i64)
        };
    }
    match array.data_type() {
        DataType::Null => Scalar::Null,
        DataType::Boolean => Scalar::Bool(array.as_boolean().value(index)),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => {
            let value = array.as_primitive::<UInt64Type>().value(index);
            i64::try_from(value).map_or(Scalar::Float(value as f64), Scalar::Int)
        }
        DataType::Float32 => {
            Scalar::Float(f64::from(array.as_primitive::<Float32Type>().value(index)))
        }
        DataType::Float64 => Scalar::Float(array.as_primitive::<Float64Type>().value(index)),
        DataType::Timestamp(unit, _) => {
            let (value, per_second) = match unit {
                TimeUnit::Second => (array.as_primitive::<TimestampSecondType>().value(index), 1),
                TimeUnit::Millisecond => (
                    array
                        .as_primitive::<TimestampMillisecondType>()
                        .value(index),
                    1_000,
                ),
                TimeUnit::Microsecond => (
                    array
                        .as_primitive::<TimestampMicrosecondType>()
                        .value(index),
                    1_000_000,
                ),
                TimeUnit::Nanosecond => (
                    array.as_primitive::<TimestampNanosecondType>().value(index),
                    1_000_000_000,
                ),
            };
            Scalar::Float(value as f64 / per_second as f64)
        }
        DataType::Utf8 => Scalar::Text(array.as_string::<i32>().value(index)),
        DataType::LargeUtf8 => Scalar::Text(array.as_string::<i64>().value(index)),
        DataType::Utf8View => Scalar::Text(array.as_string_view().value(index)),
        // Some writers store strings as plain binary without the UTF-8 tag.
        DataType::Binary => text_of(array.as_binary::<i32>().value(index)),
        DataType::LargeBinary => text_of(array.as_binary::<i64>().value(index)),
        DataType::BinaryView => text_of(array.as_binary_view().value(index)),
        DataType::Dictionary(key, _) => match key.as_ref() {
            DataType::Int8 => dictionary_at::<Int8Type>(array, index),
            DataType::Int16 => dictionary_at::<Int16Type>(array, index),
            DataType::Int32 => dictionary_at::<Int32Type>(array, index),
            DataType::Int64 => dictionary_at::<Int64Type>(array, index),
            DataType::UInt8 => dictionary_at::<UInt8Type>(array, index),
            DataType::UInt16 => dictionary_at::<UInt16Type>(array, index),
            DataType::UInt32 => dictionary_at::<UInt32Type>(array, index),
            DataType::UInt64 => dictionary_at::<UInt64Type>(array, index),
            _ => Scalar::Nested,
        },
        _ => Scalar::Nested,
    }
}

fn text_of(bytes: &[u8]) -> Scalar<'_> {
    std::str::from_utf8(bytes).map_or(Scalar::Nested, Scalar::Text)
}

fn dictionary_at<K: ArrowDictionaryKeyType>(array: &dyn Array, index: usize) -> Scalar<'_> {
    let dictionary = array.as_dictionary::<K>();
    match dictionary.key(index) {
        Some(key) => scalar_at(dictionary.values().as_ref(), key),
        None => Scalar::Null,
    }
}

/// Reads a `list<struct<role, content>>` conversation; `Ok(None)` when the
/// column is not a list (then it should be JSON text).
fn messages_at(array: &dyn Array, index: usize) -> Result<Option<Vec<Message>>, String> {
    let items: ArrayRef = match array.data_type() {
        DataType::List(_) => array.as_list::<i32>().value(index),
        DataType::LargeList(_) => array.as_list::<i64>().value(index),
        DataType::FixedSizeList(_, _) => array.as_fixed_size_list().value(index),
        _ => return Ok(None),
    };
    let Some(structs) = items.as_struct_opt() else {
        return Err("list items are not {role, content} structs".to_owned());
    };
    let role = structs.column_by_name("role");
    let content = structs.column_by_name("content");
    let mut messages = Vec::with_capacity(structs.len());
    for item in 0..structs.len() {
        if structs.is_null(item) {
            continue;
        }
        messages.push(Message {
            role: role.map(|r| text_at(r.as_ref(), item)).unwrap_or_default(),
            content: content
                .map(|c| text_at(c.as_ref(), item))
                .unwrap_or_default(),
        });
    }
    Ok(Some(messages))
}

/// A cell as owned text: strings as they are, anything else as JSON.
fn text_at(array: &dyn Array, index: usize) -> String {
    match scalar_at(array, index) {
        Scalar::Text(text) => text.to_owned(),
        Scalar::Null => String::new(),
        _ => match value_at(array, index) {
            Value::String(text) => text,
            other => other.to_string(),
        },
    }
}

/// Reads any cell as JSON: structs become objects, lists arrays.
fn value_at(array: &dyn Array, index: usize) -> Value {
    if array.is_null(index) {
        return Value::Null;
    }
    match scalar_at(array, index) {
        Scalar::Null => Value::Null,
        Scalar::Bool(flag) => Value::Bool(flag),
        Scalar::Int(n) => Value::from(n),
        Scalar::Float(n) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
        Scalar::Text(text) => Value::from(text),
        Scalar::Nested => nested_value_at(array, index),
    }
}

fn nested_value_at(array: &dyn Array, index: usize) -> Value {
    let list = |items: ArrayRef| {
        Value::Array(
            (0..items.len())
                .map(|i| value_at(items.as_ref(), i))
                .collect(),
        )
    };
    match array.data_type() {
        DataType::Struct(_) => struct_value_at(array.as_struct(), index),
        DataType::List(_) => list(array.as_list::<i32>().value(index)),
        DataType::LargeList(_) => list(array.as_list::<i64>().value(index)),
        DataType::FixedSizeList(_, _) => list(array.as_fixed_size_list().value(index)),
        DataType::Map(_, _) => {
            let entries = array.as_map().value(index);
            let mut map = Map::new();
            for i in 0..entries.len() {
                let key = match value_at(entries.column(0).as_ref(), i) {
                    Value::String(key) => key,
                    other => other.to_string(),
                };
                map.insert(key, value_at(entries.column(1).as_ref(), i));
            }
            Value::Object(map)
        }
        // Decimals, dates, durations…: rare in vote datasets; dropped rather
        // than guessed at.
        _ => Value::Null,
    }
}

fn struct_value_at(array: &StructArray, index: usize) -> Value {
    let mut map = Map::new();
    for (field, column) in array.fields().iter().zip(array.columns()) {
        map.insert(field.name().clone(), value_at(column.as_ref(), index));
    }
    Value::Object(map)
}
