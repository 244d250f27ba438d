//! Parquet output: rows are gathered into Arrow builders and written as one
//! zstd-compressed row group every [`ROW_GROUP_ROWS`] rows, or sooner when
//! the gathered rows reach [`ROW_GROUP_BYTES`], so memory stays bounded
//! whatever the export size.
//!
//! Schema: `question_id`, `model_a`, `model_b`, `winner` Utf8 (required);
//! `judge` Utf8; `turn` Int64 (required); `anony` Boolean (required);
//! `tstamp` Float64 (Unix seconds); `conversation_a`, `conversation_b` Utf8
//! holding the JSON text of the message list, exactly as in CSV (pandas then
//! reads plain strings, and `json.loads` turns them into lists). Extra
//! columns get a type from the values of the first row group: Boolean when
//! all are booleans, Int64 when all are integers, Float64 when all are
//! numbers, Utf8 otherwise (non-text values as JSON text); a column with no
//! value there is Utf8. Later rows must fit that type.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::Value;

use crate::error::Location;
use crate::writer::{ExtraValue, extra_value};
use crate::{BattleRow, DatasetError, WriteOptions, columns};

/// Rows per row group: large enough for good compression and fast scans,
/// small enough to bound the writer's memory.
pub(crate) const ROW_GROUP_ROWS: usize = 65_536;

/// A row group is also cut once the rows gathered for it take about this
/// much memory, so that an export's footprint stays small whatever its rows
/// hold: 65,536 rows with conversations and a dozen extra columns held
/// 100 MB and more, and the server runs several exports at once.
const ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;

/// Rows the builders are sized for up front; they grow when needed.
const INITIAL_ROWS: usize = 4096;

/// Estimated memory of a row's fixed-size parts in the builders.
const ROW_FIXED_BYTES: usize = 64;

/// One extra cell, owned until the row group is flushed, because an extra
/// column's type is only known once the first row group has been seen.
#[derive(Debug)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    fn of(value: ExtraValue<'_>) -> Cell {
        match value {
            ExtraValue::Null => Cell::Null,
            ExtraValue::Bool(flag) => Cell::Bool(flag),
            ExtraValue::Text(text) => Cell::Text(text.to_owned()),
            ExtraValue::Json(Value::Number(n)) => match n.as_i64() {
                Some(int) => Cell::Int(int),
                None => n.as_f64().map_or(Cell::Null, Cell::Float),
            },
            ExtraValue::Json(other) => Cell::Text(other.to_string()),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Cell::Null => "null",
            Cell::Bool(_) => "a boolean",
            Cell::Int(_) => "an integer",
            Cell::Float(_) => "a float",
            Cell::Text(_) => "text",
        }
    }
}

/// The type an extra column takes from the first row group.
fn infer_type(cells: &[Cell]) -> DataType {
    let mut inferred: Option<DataType> = None;
    for cell in cells {
        let this = match cell {
            Cell::Null => continue,
            Cell::Bool(_) => DataType::Boolean,
            Cell::Int(_) => DataType::Int64,
            Cell::Float(_) => DataType::Float64,
            Cell::Text(_) => return DataType::Utf8,
        };
        inferred = Some(match (inferred, this) {
            (None, this) => this,
            (Some(a), b) if a == b => a,
            (Some(DataType::Int64 | DataType::Float64), DataType::Int64 | DataType::Float64) => {
                DataType::Float64
            }
            _ => return DataType::Utf8,
        });
    }
    inferred.unwrap_or(DataType::Utf8)
}

/// Builders for the contract's columns.
struct ContractBuilders {
    question_id: StringBuilder,
    model_a: StringBuilder,
    model_b: StringBuilder,
    winner: StringBuilder,
    judge: StringBuilder,
    turn: Int64Builder,
    anony: BooleanBuilder,
    tstamp: Float64Builder,
    conversation_a: StringBuilder,
    conversation_b: StringBuilder,
}

impl ContractBuilders {
    fn new() -> Self {
        let text = || StringBuilder::with_capacity(INITIAL_ROWS, INITIAL_ROWS * 16);
        ContractBuilders {
            question_id: text(),
            model_a: text(),
            model_b: text(),
            winner: text(),
            judge: text(),
            turn: Int64Builder::with_capacity(INITIAL_ROWS),
            anony: BooleanBuilder::with_capacity(INITIAL_ROWS),
            tstamp: Float64Builder::with_capacity(INITIAL_ROWS),
            conversation_a: StringBuilder::new(),
            conversation_b: StringBuilder::new(),
        }
    }
}

pub(crate) struct ParquetWriter<W: Write + Send> {
    /// Held until the schema is known, then moved into `writer`.
    out: Option<W>,
    writer: Option<ArrowWriter<W>>,
    schema: Option<SchemaRef>,
    contract: ContractBuilders,
    extras: Vec<Vec<Cell>>,
    conversations: bool,
    extra_names: Vec<String>,
    /// Rows in the current row group, and the 1-based number of its first.
    rows: usize,
    first_row: u64,
    scratch: Vec<u8>,
    /// Estimated memory of the rows gathered for the current row group.
    buffered_bytes: usize,
}

fn parquet_error(source: parquet::errors::ParquetError) -> DatasetError {
    DatasetError::Parquet { file: None, source }
}

impl<W: Write + Send> ParquetWriter<W> {
    pub(crate) fn new(out: W, options: &WriteOptions) -> Result<Self, DatasetError> {
        Ok(ParquetWriter {
            out: Some(out),
            writer: None,
            schema: None,
            contract: ContractBuilders::new(),
            extras: options.extra_columns.iter().map(|_| Vec::new()).collect(),
            conversations: options.conversations,
            extra_names: options.extra_columns.clone(),
            rows: 0,
            first_row: 1,
            scratch: Vec::with_capacity(1024),
            buffered_bytes: 0,
        })
    }

    pub(crate) fn write(
        &mut self,
        row: &BattleRow,
        options: &WriteOptions,
    ) -> Result<(), DatasetError> {
        let b = &mut self.contract;
        b.question_id.append_value(&row.question_id);
        b.model_a.append_value(&row.model_a);
        b.model_b.append_value(&row.model_b);
        b.winner.append_value(row.winner.as_str());
        b.judge.append_option(row.judge.as_deref());
        b.turn.append_value(i64::from(row.turn));
        b.anony.append_value(row.anony);
        b.tstamp.append_option(row.tstamp);
        if self.conversations {
            for (conversation, builder) in [
                (&row.conversation_a, &mut b.conversation_a),
                (&row.conversation_b, &mut b.conversation_b),
            ] {
                match conversation {
                    Some(messages) => {
                        self.scratch.clear();
                        serde_json::to_writer(&mut self.scratch, messages)
                            .map_err(|err| DatasetError::io(err.into()))?;
                        // serde_json only writes UTF-8.
                        let text = std::str::from_utf8(&self.scratch).unwrap_or_default();
                        builder.append_value(text);
                        self.buffered_bytes += text.len();
                    }
                    None => builder.append_null(),
                }
            }
        }
        self.buffered_bytes += ROW_FIXED_BYTES
            + row.question_id.len()
            + row.model_a.len()
            + row.model_b.len()
            + row.judge.as_ref().map_or(0, String::len);
        for (cells, name) in self.extras.iter_mut().zip(&options.extra_columns) {
            let cell = Cell::of(extra_value(row, name));
            self.buffered_bytes += std::mem::size_of::<Cell>()
                + match &cell {
                    Cell::Text(text) => text.len(),
                    _ => 0,
                };
            cells.push(cell);
        }
        self.rows += 1;
        if self.rows == ROW_GROUP_ROWS || self.buffered_bytes >= ROW_GROUP_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// The schema, fixed by the first row group.
    fn schema(&mut self) -> SchemaRef {
        if let Some(schema) = &self.schema {
            return schema.clone();
        }
        let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
        let mut fields = vec![
            text(columns::QUESTION_ID, false),
            text(columns::MODEL_A, false),
            text(columns::MODEL_B, false),
            text(columns::WINNER, false),
            text(columns::JUDGE, true),
            Field::new(columns::TURN, DataType::Int64, false),
            Field::new(columns::ANONY, DataType::Boolean, false),
            Field::new(columns::TSTAMP, DataType::Float64, true),
        ];
        if self.conversations {
            fields.push(text(columns::CONVERSATION_A, true));
            fields.push(text(columns::CONVERSATION_B, true));
        }
        for (name, cells) in self.extra_names.iter().zip(&self.extras) {
            fields.push(Field::new(name, infer_type(cells), true));
        }
        let schema = Arc::new(Schema::new(fields));
        self.schema = Some(schema.clone());
        schema
    }

    /// Writes the gathered rows as one row group.
    fn flush(&mut self) -> Result<(), DatasetError> {
        let schema = self.schema();
        if self.writer.is_none() {
            let properties = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                .build();
            let out = self
                .out
                .take()
                .expect("output is held until the first flush");
            let writer = ArrowWriter::try_new(out, schema.clone(), Some(properties))
                .map_err(parquet_error)?;
            self.writer = Some(writer);
        }
        if self.rows == 0 {
            return Ok(());
        }
        let b = &mut self.contract;
        let mut arrays: Vec<ArrayRef> = vec![
            Arc::new(b.question_id.finish()),
            Arc::new(b.model_a.finish()),
            Arc::new(b.model_b.finish()),
            Arc::new(b.winner.finish()),
            Arc::new(b.judge.finish()),
            Arc::new(b.turn.finish()),
            Arc::new(b.anony.finish()),
            Arc::new(b.tstamp.finish()),
        ];
        if self.conversations {
            arrays.push(Arc::new(b.conversation_a.finish()));
            arrays.push(Arc::new(b.conversation_b.finish()));
        }
        let first_extra = arrays.len();
        for (index, cells) in self.extras.iter_mut().enumerate() {
            let field = schema.field(first_extra + index);
            arrays.push(extra_array(field, cells, self.first_row)?);
            cells.clear();
        }
        let batch = RecordBatch::try_new(schema, arrays)
            .map_err(|source| DatasetError::Arrow { file: None, source })?;
        let writer = self.writer.as_mut().expect("writer created above");
        writer.write(&batch).map_err(parquet_error)?;
        // Close the row group now: ArrowWriter would otherwise keep
        // encoding into it up to its row limit, holding the pages in memory.
        writer.flush().map_err(parquet_error)?;
        self.first_row += self.rows as u64;
        self.rows = 0;
        self.buffered_bytes = 0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<W, DatasetError> {
        // Also creates the file when no row was written: an empty export is
        // still a valid Parquet file with the full schema.
        self.flush()?;
        let writer = self.writer.take().expect("flush creates the writer");
        writer.into_inner().map_err(parquet_error)
    }
}

/// Builds an extra column's array, checking each cell against the type the
/// first row group gave the column.
fn extra_array(field: &Field, cells: &[Cell], first_row: u64) -> Result<ArrayRef, DatasetError> {
    let mismatch = |index: usize, cell: &Cell| {
        DatasetError::malformed(
            Location::row(None, first_row + index as u64),
            format!(
                "extra column {:?} holds {} but the first {ROW_GROUP_ROWS} rows made it {}",
                field.name(),
                cell.kind(),
                field.data_type()
            ),
        )
    };
    Ok(match field.data_type() {
        DataType::Boolean => {
            let mut builder = BooleanBuilder::with_capacity(cells.len());
            for (index, cell) in cells.iter().enumerate() {
                match cell {
                    Cell::Null => builder.append_null(),
                    Cell::Bool(flag) => builder.append_value(*flag),
                    other => return Err(mismatch(index, other)),
                }
            }
            Arc::new(builder.finish())
        }
        DataType::Int64 => {
            let mut builder = Int64Builder::with_capacity(cells.len());
            for (index, cell) in cells.iter().enumerate() {
                match cell {
                    Cell::Null => builder.append_null(),
                    Cell::Int(int) => builder.append_value(*int),
                    Cell::Float(float) if float.fract() == 0.0 => {
                        builder.append_value(*float as i64);
                    }
                    other => return Err(mismatch(index, other)),
                }
            }
            Arc::new(builder.finish())
        }
        DataType::Float64 => {
            let mut builder = Float64Builder::with_capacity(cells.len());
            for (index, cell) in cells.iter().enumerate() {
                match cell {
                    Cell::Null => builder.append_null(),
                    Cell::Int(int) => builder.append_value(*int as f64),
                    Cell::Float(float) => builder.append_value(*float),
                    other => return Err(mismatch(index, other)),
                }
            }
            Arc::new(builder.finish())
        }
        _ => {
            let mut builder = StringBuilder::with_capacity(cells.len(), cells.len() * 8);
            for cell in cells {
                use std::fmt::Write as _;
                match cell {
                    Cell::Null => builder.append_null(),
                    Cell::Text(text) => builder.append_value(text),
                    Cell::Bool(flag) => builder.append_value(if *flag { "true" } else { "false" }),
                    Cell::Int(int) => {
                        let _ = write!(builder, "{int}");
                        builder.append_value("");
                    }
                    Cell::Float(float) => {
                        let _ = write!(builder, "{float:?}");
                        builder.append_value("");
                    }
                }
            }
            Arc::new(builder.finish())
        }
    })
}
