//! Which file format a dataset is in, chosen by name or by extension.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::DatasetError;

/// A vote dataset file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON object per line (`.jsonl`, also `.ndjson`).
    Jsonl,
    /// Comma-separated values with a header row (`.csv`).
    Csv,
    /// Apache Parquet (`.parquet`).
    Parquet,
    /// FastChat's `clean_battle_*.json`: one JSON array of objects (`.json`).
    FastChatJson,
}

impl Format {
    /// Every format, in the order the command line lists them.
    pub const ALL: [Format; 4] = [
        Format::Jsonl,
        Format::Csv,
        Format::Parquet,
        Format::FastChatJson,
    ];

    /// Chooses the format from the file extension, case-insensitively:
    /// `.jsonl`/`.ndjson`, `.csv`, `.parquet`/`.pq`, `.json`.
    pub fn from_path(path: &Path) -> Result<Format, DatasetError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            "parquet" | "pq" => Ok(Format::Parquet),
            "json" => Ok(Format::FastChatJson),
            _ => Err(DatasetError::UnknownFormat(
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )),
        }
    }

    /// Parses a format name as given to `--format`: `jsonl`, `csv`,
    /// `parquet` or `json` (case-insensitive; `fastchat` is a synonym of
    /// `json`).
    pub fn from_name(s: &str) -> Result<Format, DatasetError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            "json" | "fastchat" => Ok(Format::FastChatJson),
            _ => Err(DatasetError::UnknownFormat(s.to_owned())),
        }
    }

    /// The canonical name, as accepted by [`Format::from_name`].
    pub const fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::FastChatJson => "json",
        }
    }

    /// The usual file extension, without the dot.
    pub const fn extension(self) -> &'static str {
        self.name()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that width and alignment flags work in tables.
        f.pad(self.name())
    }
}

impl FromStr for Format {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_format_from_the_extension() {
        let cases = [
            ("votes.jsonl", Some(Format::Jsonl)),
            ("votes.ndjson", Some(Format::Jsonl)),
            ("dir/votes.CSV", Some(Format::Csv)),
            ("votes.parquet", Some(Format::Parquet)),
            ("clean_battle_20240814.json", Some(Format::FastChatJson)),
            ("votes.xlsx", None),
            ("votes", None),
        ];
        for (path, expected) in cases {
            let got = Format::from_path(Path::new(path)).ok();
            assert_eq!(got, expected, "{path}");
        }
    }

    #[test]
    fn parses_every_name_and_round_trips_it() {
        for format in Format::ALL {
            assert_eq!(Format::from_name(format.name()).unwrap(), format);
            assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
        }
        assert_eq!(Format::from_name("JSONL").unwrap(), Format::Jsonl);
        let err = Format::from_name("xml").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown dataset format \"xml\": expected jsonl, csv, parquet or json"
        );
    }
}
