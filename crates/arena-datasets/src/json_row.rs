//! Deserializing one JSON object (a JSONL line or a FastChat array element)
//! straight into a [`RowBuilder`], without an intermediate
//! `serde_json::Value` for the known keys: that is where import time goes.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::Message;
use crate::builder::RowBuilder;
use crate::columns::Column;

/// A row object, collected leniently: type problems in a cell are recorded
/// in the builder (and reported with the row's location) rather than failing
/// the whole parse.
pub(crate) struct JsonRow(pub(crate) RowBuilder);

impl<'de> Deserialize<'de> for JsonRow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RowVisitor).map(JsonRow)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = RowBuilder;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a battle object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowBuilder, A::Error> {
        let mut row = RowBuilder::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key.column {
                column @ (Column::QuestionId
                | Column::Id
                | Column::ModelA
                | Column::ModelB
                | Column::Judge
                | Column::Language) => match map.next_value::<Cell>()? {
                    Cell::Null => {}
                    Cell::Str(text) => row.set_text(column, text),
                    Cell::Int(n) => row.set_text(column, n.to_string()),
                    Cell::Float(n) => row.set_text(column, n.to_string()),
                    _ => row.fail(format!("{} is not text", key.display())),
                },
                Column::Winner => match map.next_value::<Cell>()? {
                    Cell::Null => {}
                    Cell::Str(text) => row.set_winner_text(&text),
                    _ => row.fail("winner is not text"),
                },
                Column::Turn => match map.next_value::<Cell>()? {
                    Cell::Null => {}
                    Cell::Int(n) => row.set_turn(n),
                    Cell::Float(n) => row.set_turn_float(n),
                    Cell::Str(text) => row.set_turn_text(&text),
                    _ => row.fail("turn is not a number"),
                },
                Column::Anony => match map.next_value::<Cell>()? {
                    Cell::Null => {}
                    Cell::Bool(flag) => row.set_anony(flag),
                    Cell::Int(n @ (0 | 1)) => row.set_anony(n == 1),
                    Cell::Str(text) => row.set_anony_text(&text),
                    _ => row.fail("anony is not a boolean"),
                },
                Column::Tstamp => match map.next_value::<Cell>()? {
                    Cell::Null => {}
                    Cell::Int(n) => row.set_tstamp(n as f64),
                    Cell::Float(n) => row.set_tstamp(n),
                    Cell::Str(text) => row.set_tstamp_text(&text),
                    _ => row.fail("tstamp is not a number of Unix seconds"),
                },
                column @ (Column::ConversationA | Column::ConversationB) => {
                    match map.next_value::<Conversation>()? {
                        Conversation::Null => {}
                        Conversation::Messages(messages) => row.set_conversation(column, messages),
                        Conversation::Text(text) => row.set_conversation_text(column, &text),
                    }
                }
                Column::CategoryTag => row.set_category_tag(map.next_value()?),
                Column::Other => {
                    let value: Value = map.next_value()?;
                    row.set_other(key.name.unwrap_or_default(), value);
                }
            }
        }
        Ok(row)
    }
}

/// An object key, recognised without allocating when it is a known column.
struct Key {
    column: Column,
    /// The name, kept only for unknown columns.
    name: Option<String>,
}

impl Key {
    fn display(&self) -> &str {
        match self.column {
            Column::QuestionId => "question_id",
            Column::Id => "id",
            Column::ModelA => "model_a",
            Column::ModelB => "model_b",
            Column::Judge => "judge",
            Column::Language => "language",
            _ => self.name.as_deref().unwrap_or("value"),
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column name")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
                let column = Column::from_name(name);
                let name = (column == Column::Other).then(|| name.to_owned());
                Ok(Key { column, name })
            }

            fn visit_string<E: de::Error>(self, name: String) -> Result<Key, E> {
                let column = Column::from_name(&name);
                let name = (column == Column::Other).then_some(name);
                Ok(Key { column, name })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A scalar cell of any JSON type; lists and objects are skipped and
/// reported as [`Cell::Other`].
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Other,
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CellVisitor;
        impl<'de> Visitor<'de> for CellVisitor {
            type Value = Cell;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Cell, E> {
                Ok(Cell::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Cell, E> {
                Ok(Cell::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell, E> {
                Ok(Cell::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell, E> {
                Ok(i64::try_from(v).map_or(Cell::Float(v as f64), Cell::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell, E> {
                Ok(Cell::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell, E> {
                Ok(Cell::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Cell, E> {
                Ok(Cell::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Cell::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Cell::Other)
            }
        }
        deserializer.deserialize_any(CellVisitor)
    }
}

/// A conversation cell: a list of messages, or its JSON text (some tools
/// double-encode), or null.
enum Conversation {
    Null,
    Messages(Vec<Message>),
    Text(String),
}

impl<'de> Deserialize<'de> for Conversation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConversationVisitor;
        impl<'de> Visitor<'de> for ConversationVisitor {
            type Value = Conversation;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of {role, content} messages")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Conversation, E> {
                Ok(Conversation::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Conversation, E> {
                Ok(Conversation::Null)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Conversation, E> {
                Ok(Conversation::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Conversation, E> {
                Ok(Conversation::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Conversation, A::Error> {
                let mut messages = Vec::with_capacity(seq.size_hint().unwrap_or(2));
                while let Some(message) = seq.next_element::<Message>()? {
                    messages.push(message);
                }
                Ok(Conversation::Messages(messages))
            }
        }
        deserializer.deserialize_any(ConversationVisitor)
    }
}
