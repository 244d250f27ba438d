//! Vote dataset file formats: reading and writing [`BattleRow`]s as JSON
//! Lines, CSV, Parquet and FastChat's `clean_battle_*.json` arrays.
//!
//! This crate knows nothing of SQL or HTTP: the server's export endpoint,
//! `arena export`, `arena import` and `arena leaderboard --input` all go
//! through [`read_battles`] and [`BattleWriter`].
//!
//! # Output
//!
//! Every format writes the export contract's columns, in order:
//! `question_id, model_a, model_b, winner, judge, turn, anony, tstamp,
//! conversation_a, conversation_b` (the last two only with
//! [`WriteOptions::conversations`]), then [`WriteOptions::extra_columns`].
//! `winner` is always canonical (`both_bad`, never `tie (bothbad)`) and
//! `tstamp` is a float of Unix seconds. Conversations are JSON text in CSV
//! and in Parquet (a Utf8 column, for symmetry with CSV and so that pandas
//! reads plain strings); JSONL and FastChat JSON nest them as lists.
//!
//! # Input
//!
//! Readers accept our own exports, FastChat's `clean_battle_*.json`, and
//! LMArena / Hugging Face "arena-human-preference" files in CSV, JSONL or
//! Parquet. Only `model_a`, `model_b` and `winner` are mandatory; `turn`
//! defaults to 1 and `anony` to true. `id` stands in for `question_id` and
//! `timestamp` for `tstamp`, which may be Unix seconds, an ISO 8601 text or
//! a Parquet timestamp. When both ids are missing a stable id is derived
//! from the row's content ([`derive_question_id`]) so that importing a file
//! twice is idempotent. Boolean columns become [`BattleRow::categories`]
//! (LMArena's nested `category_tag` is flattened to dotted names such as
//! `category_tag.criteria_v0.1.complexity`), other unknown columns become
//! [`BattleRow::extra`]. Parquet conversations may be JSON text or
//! `list<struct<role, content>>`.
//!
//! Errors about a row carry its file and 1-based line (JSONL, CSV) or row
//! (Parquet, FastChat JSON): `votes.csv: line 17: unknown winner "draw"`.
//!
//! # Example
//!
//! ```
//! use arena_core::Winner;
//! use arena_datasets::{BattleRow, BattleWriter, Format, WriteOptions, read_battles_from};
//!
//! let mut row = BattleRow::new("q1", "model-x", "model-y", Winner::BothBad);
//! row.categories.insert("is_code".into(), true);
//! let options = WriteOptions { conversations: false, extra_columns: vec!["is_code".into()] };
//! let mut writer = BattleWriter::new(Vec::new(), Format::Csv, options)?;
//! writer.write(&row)?;
//! let csv = writer.finish()?;
//! assert!(csv.starts_with(b"question_id,model_a,model_b,winner,judge,turn,anony,tstamp,is_code\n"));
//!
//! let rows: Vec<BattleRow> =
//!     read_battles_from(std::io::Cursor::new(csv), Format::Csv)?.collect::<Result<_, _>>()?;
//! assert_eq!(rows, vec![row]);
//! # Ok::<(), arena_datasets::DatasetError>(())
//! ```

mod builder;
mod card;
pub mod columns;
mod csv;
mod error;
mod fastchat_json;
mod format;
mod json_row;
mod jsonl;
mod parquet_read;
mod parquet_write;
mod reader;
mod row;
mod timestamp;
mod writer;

pub use builder::derive_question_id;
pub use card::DatasetCard;
pub use error::{DatasetError, Location, Unit};
pub use format::Format;
pub use reader::{BattleReader, read_battles, read_battles_as, read_battles_from, read_votes};
pub use row::{BattleRow, Message, category_true};
pub use writer::{BattleWriter, WriteOptions};
