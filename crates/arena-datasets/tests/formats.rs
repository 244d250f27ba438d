//! Round trips through every format, every input flavour we promise to
//! read, and the locations reported for malformed rows.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arena_core::Winner;
use arena_datasets::{
    BattleRow, BattleWriter, DatasetError, Format, Message, WriteOptions, category_true,
    read_battles, read_battles_from, read_votes,
};
use arrow_array::builder::{BooleanBuilder, ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Fields};
use serde_json::{Value, json};

/// A fresh file path under Cargo's per-target scratch directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("arena-datasets");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn sample_rows() -> Vec<BattleRow> {
    let mut first = BattleRow::new("q1", "gpt-4o", "llama-3-70b", Winner::ModelA);
    first.judge = Some("7f3a".into());
    first.tstamp = Some(1_717_000_000.0);
    first.conversation_a = Some(vec![
        Message::new(
            "user",
            "Write \"hello\", then a comma, a newline\nand a tab\t.",
        ),
        Message::new("assistant", "hello,\n\t— ünïcödé"),
    ]);
    first.conversation_b = Some(vec![
        Message::new("user", "x"),
        Message::new("assistant", ""),
    ]);
    first.language = Some("English".into());
    first.categories.insert("is_code".into(), true);
    first.extra.insert("pair_probability".into(), json!(0.125));
    first.extra.insert("tokens_a".into(), json!(42));
    first
        .extra
        .insert("note".into(), json!("free text, with \"quotes\""));

    let mut second = BattleRow::new("q2", "claude-3", "gpt-4o", Winner::BothBad);
    second.turn = 3;
    second.anony = false;
    second.tstamp = Some(1_717_000_123.456_789);
    second.conversation_a = Some(vec![]);
    second.categories.insert("is_code".into(), false);
    second.extra.insert("tokens_a".into(), json!(7));

    let third = BattleRow::new("q3", "a", "b", Winner::Tie);
    vec![first, second, third]
}

fn options(conversations: bool) -> WriteOptions {
    WriteOptions {
        conversations,
        extra_columns: [
            "language",
            "is_code",
            "pair_probability",
            "tokens_a",
            "note",
        ]
        .map(String::from)
        .to_vec(),
    }
}

fn write_all(format: Format, options: WriteOptions, rows: &[BattleRow]) -> Vec<u8> {
    let mut writer = BattleWriter::new(Vec::new(), format, options).unwrap();
    for row in rows {
        writer.write(row).unwrap();
    }
    assert_eq!(writer.rows(), rows.len() as u64);
    writer.finish().unwrap()
}

fn read_all(bytes: Vec<u8>, format: Format) -> Vec<BattleRow> {
    read_battles_from(Cursor::new(bytes), format)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn every_format_round_trips_with_and_without_conversations() {
    let rows = sample_rows();
    for format in Format::ALL {
        for conversations in [true, false] {
            let bytes = write_all(format, options(conversations), &rows);
            let read = read_all(bytes, format);
            let expected: Vec<BattleRow> = rows
                .iter()
                .cloned()
                .map(|mut row| {
                    if !conversations {
                        row.conversation_a = None;
                        row.conversation_b = None;
                    }
                    row
                })
                .collect();
            assert_eq!(read, expected, "{format} conversations={conversations}");
        }
    }
}

#[test]
fn jsonl_writes_the_contract_keys_in_order() {
    let bytes = write_all(Format::Jsonl, options(true), &sample_rows());
    let text = String::from_utf8(bytes).unwrap();
    let second = text.lines().nth(1).unwrap();
    assert!(
        second.starts_with(
            r#"{"question_id":"q2","model_a":"claude-3","model_b":"gpt-4o","winner":"both_bad","judge":null,"turn":3,"anony":false,"tstamp":1717000123.456789,"conversation_a":[],"conversation_b":null,"language":null,"is_code":false"#
        ),
        "{second}"
    );
    let first = text.lines().next().unwrap();
    assert!(first.contains(r#""tstamp":1717000000.0,"#), "{first}");

    let bytes = write_all(
        Format::Jsonl,
        WriteOptions {
            conversations: false,
            extra_columns: vec![],
        },
        &sample_rows(),
    );
    let first = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        first,
        r#"{"question_id":"q1","model_a":"gpt-4o","model_b":"llama-3-70b","winner":"model_a","judge":"7f3a","turn":1,"anony":true,"tstamp":1717000000.0}"#
    );
}

#[test]
fn csv_has_the_contract_header_and_json_conversations() {
    let bytes = write_all(Format::Csv, options(true), &sample_rows());
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "question_id,model_a,model_b,winner,judge,turn,anony,tstamp,conversation_a,conversation_b,language,is_code,pair_probability,tokens_a,note"
    );
    assert!(
        text.contains(r#"q2,claude-3,gpt-4o,both_bad,,3,false,1717000123.456789,[],,,false,,7,"#)
    );
    assert!(text.contains(r#"[{""role"":""user"",""content"":""x""}"#));
}

#[test]
fn parquet_spans_several_row_groups_and_types_extras() {
    let rows: Vec<BattleRow> = (0..70_000u32)
        .map(|i| {
            let mut row = BattleRow::new(format!("q{i}"), "m1", "m2", Winner::ModelB);
            row.tstamp = Some(1_700_000_000.0 + f64::from(i));
            row.extra.insert("latency_a_ms".into(), json!(i));
            row
        })
        .collect();
    let options = WriteOptions {
        conversations: false,
        extra_columns: vec!["latency_a_ms".into()],
    };
    let path = scratch("row_groups.parquet");
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = BattleWriter::new(file, Format::Parquet, options).unwrap();
    for row in &rows {
        writer.write(row).unwrap();
    }
    let card = writer.card("2024-01-01T00:00:00Z", "test");
    assert_eq!(
        (card.rows, card.first_tstamp),
        (70_000, Some(1_700_000_000.0))
    );
    writer.finish().unwrap();

    let metadata = parquet::file::reader::FileReader::metadata(
        &parquet::file::serialized_reader::SerializedFileReader::new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap(),
    )
    .clone();
    assert_eq!(metadata.num_row_groups(), 2);
    let schema = metadata.file_metadata().schema_descr();
    assert_eq!(
        schema.column(schema.num_columns() - 1).physical_type(),
        parquet::basic::Type::INT64
    );

    let read: Vec<BattleRow> = read_battles(&path).unwrap().map(Result::unwrap).collect();
    assert_eq!(read, rows);
}

#[test]
fn an_empty_export_is_still_a_readable_file() {
    for format in Format::ALL {
        let bytes = write_all(format, options(true), &[]);
        assert!(read_all(bytes, format).is_empty(), "{format}");
    }
}

#[test]
fn reads_fastchat_clean_battle_json() {
    let path = scratch("clean_battle_20240814.json");
    std::fs::write(
        &path,
        r#"[
  {"model_a": "vicuna-13b", "model_b": "koala-13b", "winner": "tie (bothbad)",
   "judge": "arena_user_973", "turn": 1, "anony": true, "language": "English",
   "tstamp": 1682351591.1322, "question_id": "abc123",
   "conversation_a": [{"role": "user", "content": "hi", "num_tokens": 1}],
   "conversation_b": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null}],
   "conv_metadata": {"sum_user_tokens": 3}, "dedup_tag": {"high_freq": false},
   "is_code": false, "category_tag": {"math_v0.1": {"math": true}}},
  {"model_a": "gpt-4", "model_b": "claude-1", "winner": "model_b", "tstamp": 1682351600}
]"#,
    )
    .unwrap();
    let rows: Vec<BattleRow> = read_battles(&path).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.question_id, "abc123");
    assert_eq!(first.winner, Winner::BothBad);
    assert_eq!(first.judge.as_deref(), Some("arena_user_973"));
    assert_eq!(first.language.as_deref(), Some("English"));
    assert_eq!(first.tstamp, Some(1_682_351_591.132_2));
    assert_eq!(
        first.conversation_a.as_ref().unwrap()[0],
        Message::new("user", "hi")
    );
    assert_eq!(
        first.conversation_b.as_ref().unwrap()[1],
        Message::new("assistant", "")
    );
    assert_eq!(first.categories.get("is_code"), Some(&false));
    assert!(category_true(first, "category_tag.math_v0.1.math"));
    assert_eq!(
        first.extra.get("conv_metadata"),
        Some(&json!({"sum_user_tokens": 3}))
    );
    let second = &rows[1];
    assert_eq!(
        (second.turn, second.anony, second.judge.as_deref()),
        (1, true, None)
    );
    assert_eq!(second.question_id.len(), 32, "derived id");
    let again: Vec<BattleRow> = read_battles(&path).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        again[1].question_id, second.question_id,
        "derived ids are stable"
    );
}

#[test]
fn reads_hugging_face_style_csv() {
    let path = scratch("arena-human-preference.csv");
    std::fs::write(
        &path,
        concat!(
            ",id,model_a,model_b,winner,judge,turn,anony,language,tstamp,conversation_a,is_code,category_tag,tokens_a\n",
            "0,h1,gpt-4,claude-2,tie (bothbad),j1,1,True,English,1700000000.5,",
            r#""[{""role"": ""user"", ""content"": ""a, b""}]""#,
            r#",True,"{""criteria_v0.1"": {""complexity"": true, ""creativity"": false}}",12"#,
            "\n",
            "1,h2,gpt-4,claude-2,model_a,,2,False,,,,False,,\n",
        ),
    )
    .unwrap();
    let rows: Vec<BattleRow> = read_battles(&path).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.question_id, "h1");
    assert_eq!(first.winner, Winner::BothBad);
    assert!(first.anony);
    assert_eq!(first.tstamp, Some(1_700_000_000.5));
    assert_eq!(
        first.conversation_a,
        Some(vec![Message::new("user", "a, b")])
    );
    assert_eq!(first.conversation_b, None);
    assert!(category_true(first, "is_code"));
    assert!(category_true(
        first,
        "category_tag.criteria_v0.1.complexity"
    ));
    assert!(!category_true(
        first,
        "category_tag.criteria_v0.1.creativity"
    ));
    assert_eq!(first.extra.get("tokens_a"), Some(&json!(12)));
    assert!(
        !first.extra.contains_key(""),
        "pandas index column is dropped"
    );
    let second = &rows[1];
    assert_eq!((second.turn, second.anony, second.tstamp), (2, false, None));
    assert!(!category_true(second, "is_code"));
    assert!(!category_true(second, "no_such_column"));
}

/// A Parquet file shaped like LMArena's Hugging Face releases: conversations
/// as `list<struct<role, content>>`, `category_tag` as a nested struct.
#[test]
fn reads_lmarena_parquet_with_nested_conversations() {
    let message_fields = Fields::from(vec![
        Field::new("content", DataType::Utf8, true),
        Field::new("role", DataType::Utf8, true),
    ]);
    let mut conversations = ListBuilder::new(StructBuilder::from_fields(message_fields, 4));
    for messages in [
        &[("user", "2+2?"), ("assistant", "4")][..],
        &[("user", "hey")][..],
    ] {
        let structs = conversations.values();
        for (role, content) in messages {
            structs
                .field_builder::<StringBuilder>(0)
                .unwrap()
                .append_value(content);
            structs
                .field_builder::<StringBuilder>(1)
                .unwrap()
                .append_value(role);
            structs.append(true);
        }
        conversations.append(true);
    }
    let conversation_a: ArrayRef = Arc::new(conversations.finish());

    let math = Fields::from(vec![Field::new("math", DataType::Boolean, true)]);
    let mut category = StructBuilder::from_fields(
        Fields::from(vec![Field::new(
            "math_v0.1",
            DataType::Struct(math.clone()),
            true,
        )]),
        2,
    );
    for flag in [true, false] {
        let inner = category.field_builder::<StructBuilder>(0).unwrap();
        inner
            .field_builder::<BooleanBuilder>(0)
            .unwrap()
            .append_value(flag);
        inner.append(true);
        category.append(true);
    }
    let category_tag: ArrayRef = Arc::new(category.finish());

    let batch = RecordBatch::try_from_iter([
        (
            "question_id",
            Arc::new(StringArray::from(vec!["p1", "p2"])) as ArrayRef,
        ),
        ("model_a", Arc::new(StringArray::from(vec!["m1", "m2"]))),
        ("model_b", Arc::new(StringArray::from(vec!["m2", "m1"]))),
        (
            "winner",
            Arc::new(StringArray::from(vec!["tie (bothbad)", "model_a"])),
        ),
        ("turn", Arc::new(Int64Array::from(vec![1, 2]))),
        (
            "tstamp",
            Arc::new(Float64Array::from(vec![Some(1.5e9), None])),
        ),
        ("conversation_a", conversation_a),
        (
            "is_code",
            Arc::new(arrow_array::BooleanArray::from(vec![true, false])),
        ),
        ("category_tag", category_tag),
    ])
    .unwrap();
    let path = scratch("lmarena.parquet");
    // Snappy: what pandas, pyarrow and Spark write by default.
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        Some(properties),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let rows: Vec<BattleRow> = read_battles(&path).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].winner, Winner::BothBad);
    assert_eq!(
        rows[0].conversation_a,
        Some(vec![
            Message::new("user", "2+2?"),
            Message::new("assistant", "4")
        ])
    );
    assert_eq!(
        rows[1].conversation_a,
        Some(vec![Message::new("user", "hey")])
    );
    assert_eq!((rows[1].turn, rows[1].tstamp), (2, None));
    assert!(category_true(&rows[0], "is_code") && !category_true(&rows[1], "is_code"));
    assert!(category_true(&rows[0], "category_tag.math_v0.1.math"));
    assert!(!category_true(&rows[1], "category_tag.math_v0.1.math"));

    // Without conversations (the leaderboard's reader): the same rows, the
    // conversation column left undecoded.
    let votes: Vec<BattleRow> = read_votes(&path).unwrap().map(Result::unwrap).collect();
    let mut expected = rows.clone();
    for row in &mut expected {
        row.conversation_a = None;
    }
    assert_eq!(votes, expected);
}

fn errors(path: &Path) -> Vec<String> {
    read_battles(path)
        .unwrap()
        .filter_map(Result::err)
        .map(|err| err.to_string())
        .collect()
}

#[test]
fn malformed_jsonl_rows_name_their_line_and_do_not_stop_the_stream() {
    let path = scratch("malformed.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"model_a":"a","model_b":"b","winner":"model_a"}"#,
            "\n\n",
            r#"{"model_a":"a","model_b":"b","winner":"draw"}"#,
            "\n",
            r#"{"model_a":"a","winner":"tie"}"#,
            "\n",
            r#"{"model_a":"a","model_b":"b","winner":"tie","turn":"two"}"#,
            "\n",
            r#"{"model_a":"a","model_b":"b","#,
            "\n",
            r#"{"model_a":"a","model_b":"b","winner":"tie"}"#,
            "\n",
        ),
    )
    .unwrap();
    let file = path.display();
    assert_eq!(
        errors(&path),
        vec![
            format!("{file}: line 3: unknown winner \"draw\""),
            format!("{file}: line 4: missing model_a or model_b"),
            format!("{file}: line 5: turn \"two\" is not a number"),
            format!("{file}: line 6: invalid JSON: EOF while parsing a value (column 29)"),
        ]
    );
    assert_eq!(
        read_battles(&path).unwrap().filter(Result::is_ok).count(),
        2
    );
}

#[test]
fn malformed_csv_rows_name_their_line() {
    let path = scratch("malformed.csv");
    std::fs::write(
        &path,
        concat!(
            "model_a,model_b,winner,conversation_a\n",
            "a,b,model_a,\"[{\"\"role\"\":\"\"user\"\",\n\"\"content\"\":\"\"two lines\"\"}]\"\n",
            "a,b,draw,\n",
            "a,b\n",
            ",b,tie,\n",
            "a,b,tie,not json\n",
        ),
    )
    .unwrap();
    let file = path.display();
    let errors = errors(&path);
    assert_eq!(
        errors[0],
        format!("{file}: line 4: unknown winner \"draw\"")
    );
    assert_eq!(
        errors[1],
        format!("{file}: line 5: expected 4 fields, found 2")
    );
    assert_eq!(
        errors[2],
        format!("{file}: line 6: missing model_a or model_b")
    );
    assert!(
        errors[3].starts_with(&format!(
            "{file}: line 7: conversation_a is not a JSON list"
        )),
        "{}",
        errors[3]
    );
    assert_eq!(errors.len(), 4);
}

#[test]
fn malformed_parquet_and_fastchat_rows_name_their_row() {
    let bad = BattleRow::new("x", "a", "b", Winner::Tie);
    let bytes = write_all(
        Format::Parquet,
        WriteOptions::default(),
        &[bad.clone(), bad],
    );
    // Rewrite the winner of the second row through Arrow to make it invalid.
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
        bytes::Bytes::from(bytes),
        16,
    )
    .unwrap()
    .next()
    .unwrap()
    .unwrap();
    let winner_index = batch.schema().index_of("winner").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[winner_index] = Arc::new(StringArray::from(vec!["tie", "draw"]));
    let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
    let path = scratch("malformed.parquet");
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::GZIP(Default::default()))
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        Some(properties),
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    assert_eq!(
        errors(&path),
        vec![format!(
            "{}: row 2: unknown winner \"draw\"",
            path.display()
        )]
    );

    let path = scratch("malformed.json");
    std::fs::write(
        &path,
        r#"[{"model_a":"a","model_b":"b","winner":"tie"},{"model_a":"a","model_b":"b"}]"#,
    )
    .unwrap();
    assert_eq!(
        errors(&path),
        vec![format!("{}: row 2: missing winner", path.display())]
    );
}

#[test]
fn file_level_problems_are_reported_upfront() {
    let path = scratch("no_winner.csv");
    std::fs::write(&path, "model_a,model_b\na,b\n").unwrap();
    let err = read_battles(&path).err().unwrap();
    assert!(matches!(
        err,
        DatasetError::MissingColumn {
            column: "winner",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        format!("{}: missing required column \"winner\"", path.display())
    );

    let path = scratch("broken.json");
    std::fs::write(&path, r#"[{"model_a": "a"},"#).unwrap();
    let err = read_battles(&path).err().unwrap().to_string();
    assert!(
        err.starts_with(&format!("{}: invalid JSON:", path.display())),
        "{err}"
    );

    let err = read_battles(Path::new("votes.xlsx")).err().unwrap();
    assert!(matches!(err, DatasetError::UnknownFormat(_)));

    let err = read_battles(&scratch("does-not-exist.csv")).err().unwrap();
    assert!(matches!(err, DatasetError::Io { path: Some(_), .. }));

    let err = read_battles_from(Cursor::new(b"not parquet".to_vec()), Format::Parquet)
        .err()
        .unwrap();
    assert!(matches!(err, DatasetError::Parquet { .. }), "{err}");
}

#[test]
fn write_options_reject_clashing_columns() {
    for extra in [vec!["winner"], vec!["x", "x"], vec![""]] {
        let options = WriteOptions {
            conversations: true,
            extra_columns: extra.iter().map(|s| s.to_string()).collect(),
        };
        let result = BattleWriter::new(Vec::new(), Format::Csv, options);
        assert!(
            matches!(result, Err(DatasetError::InvalidOptions(_))),
            "{extra:?}"
        );
    }
}

#[test]
fn category_true_reads_flags_stored_as_numbers_or_text() {
    let mut row = BattleRow::new("q", "a", "b", Winner::Tie);
    row.extra.insert("one".into(), json!(1));
    row.extra.insert("zero".into(), json!(0));
    row.extra.insert("text".into(), Value::from("True"));
    row.categories.insert("flag".into(), true);
    assert!(category_true(&row, "one") && category_true(&row, "text") && row.category("flag"));
    assert!(!category_true(&row, "zero") && !category_true(&row, "missing"));
}

#[test]
fn reads_lmarena_jsonl_with_id_and_iso_timestamp() {
    let jsonl = concat!(
        r#"{"id":"x1","model_a":"a","model_b":"b","winner":"both_bad","timestamp":"2024-03-01T00:00:00Z","anony":"True","turn":2.0}"#,
        "\n",
        r#"{"question_id":7,"model_a":"a","model_b":"b","winner":"tie","tstamp":"1700000000.5","is_code":1}"#,
        "\n",
    );
    let rows = read_all(jsonl.as_bytes().to_vec(), Format::Jsonl);
    assert_eq!(rows[0].question_id, "x1");
    assert_eq!(rows[0].tstamp, Some(1_709_251_200.0));
    assert_eq!((rows[0].turn, rows[0].anony), (2, true));
    assert_eq!(rows[1].question_id, "7");
    assert_eq!(rows[1].tstamp, Some(1_700_000_000.5));
    assert!(category_true(&rows[1], "is_code"));
}

/// Exports also round-trip through files opened by path; the files are left
/// in the scratch directory so that they can be checked with pandas by hand.
#[test]
fn exports_written_to_disk_read_back_by_path() {
    let rows = sample_rows();
    for format in Format::ALL {
        let path = scratch(&format!("export.{}", format.extension()));
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = BattleWriter::new(file, format, options(true)).unwrap();
        for row in &rows {
            writer.write(row).unwrap();
        }
        writer.finish().unwrap();
        let read: Vec<BattleRow> = read_battles(&path).unwrap().map(Result::unwrap).collect();
        assert_eq!(read, rows, "{format}");
    }
}

/// The server runs readers and writers on blocking threads.
#[test]
fn readers_and_writers_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<arena_datasets::BattleReader>();
    assert_send::<BattleWriter<std::fs::File>>();
    assert_send::<DatasetError>();
}
