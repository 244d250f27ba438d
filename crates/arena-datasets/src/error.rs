//! The one error type of the crate, and where in a file an error happened.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading or writing a vote dataset.
///
/// Errors about one row carry a [`Location`]: the file (when known) and the
/// 1-based line (JSONL, CSV) or row (Parquet, FastChat JSON) number, so that
/// a user can open the file and fix it.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// One row is unusable: an unknown winner, a missing mandatory field, a
    /// value of the wrong type…
    #[error("{location}: {message}")]
    Malformed {
        /// Where the row is.
        location: Location,
        /// What is wrong with it, lowercase, without a trailing period.
        message: String,
    },
    /// The file lacks one of the mandatory columns (`model_a`, `model_b`,
    /// `winner`).
    #[error("{}missing required column {column:?}", In(file))]
    MissingColumn {
        /// The file, when known.
        file: Option<PathBuf>,
        /// The missing column.
        column: &'static str,
    },
    /// Reading or writing the underlying file failed.
    #[error("{}{source}", In(path))]
    Io {
        /// The file, when known.
        path: Option<PathBuf>,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A FastChat `.json` file is not a JSON array of objects.
    #[error("{}invalid JSON: {source}", In(file))]
    Json {
        /// The file, when known.
        file: Option<PathBuf>,
        /// The parser's error, with its line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The CSV layer failed (for example a record with the wrong number of
    /// fields); the message carries the line.
    #[error("{}csv: {source}", In(file))]
    Csv {
        /// The file, when known.
        file: Option<PathBuf>,
        /// The CSV parser's error.
        #[source]
        source: csv::Error,
    },
    /// The Parquet layer failed: not a Parquet file, corrupt pages, an
    /// unsupported encoding…
    #[error("{}parquet: {source}", In(file))]
    Parquet {
        /// The file, when known.
        file: Option<PathBuf>,
        /// The Parquet library's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Decoding or building an Arrow record batch failed.
    #[error("{}arrow: {source}", In(file))]
    Arrow {
        /// The file, when known.
        file: Option<PathBuf>,
        /// The Arrow library's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A format name or file extension that is none of the supported ones.
    #[error("unknown dataset format {0:?}: expected jsonl, csv, parquet or json")]
    UnknownFormat(String),
    /// The [`WriteOptions`](crate::WriteOptions) are inconsistent, for
    /// example an extra column that repeats a standard one.
    #[error("invalid write options: {0}")]
    InvalidOptions(String),
}

impl DatasetError {
    /// An I/O error without a known file.
    pub(crate) fn io(source: io::Error) -> Self {
        DatasetError::Io { path: None, source }
    }

    /// A malformed-row error.
    pub(crate) fn malformed(location: Location, message: impl Into<String>) -> Self {
        DatasetError::Malformed {
            location,
            message: message.into(),
        }
    }
}

/// Whether a [`Location`] counts text lines or records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A text line (JSONL, CSV): what an editor shows.
    Line,
    /// A record (Parquet row, FastChat array element, written row).
    Row,
}

/// Where a malformed row sits: `data.csv: line 17`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, when the reader was opened from a path.
    pub file: Option<PathBuf>,
    /// What `number` counts.
    pub unit: Unit,
    /// 1-based line or row number.
    pub number: u64,
}

impl Location {
    /// A 1-based text line.
    pub(crate) fn line(file: Option<&Path>, number: u64) -> Self {
        Location {
            file: file.map(Path::to_path_buf),
            unit: Unit::Line,
            number,
        }
    }

    /// A 1-based record.
    pub(crate) fn row(file: Option<&Path>, number: u64) -> Self {
        Location {
            file: file.map(Path::to_path_buf),
            unit: Unit::Row,
            number,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        let unit = match self.unit {
            Unit::Line => "line",
            Unit::Row => "row",
        };
        write!(f, "{unit} {}", self.number)
    }
}

/// Displays `"path: "` when the file is known, nothing otherwise.
struct In<'a>(&'a Option<PathBuf>);

impl fmt::Display for In<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "{}: ", path.display()),
            None => Ok(()),
        }
    }
}
