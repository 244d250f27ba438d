//! Throughput of every format: writes N synthetic battles to a temporary
//! directory, reads them back, and prints rows per second.
//!
//! ```sh
//! cargo run --release -p arena-datasets --example throughput -- [ROWS] [CONVERSATION_ROWS]
//! ```
//!
//! Three workloads per format: the contract columns only, the contract plus
//! five extra columns (a typical research export), and the contract with
//! conversations (two messages of about 1 KB per side; fewer rows, default
//! 100,000). Rows are generated in place into one reused `BattleRow`, so the
//! write timings measure the writer, not an allocator.
#![allow(clippy::print_stdout, reason = "a benchmark's output is its report")]

use std::fs::File;
use std::path::Path;
use std::time::Instant;

use arena_core::Winner;
use arena_datasets::{BattleRow, BattleWriter, Format, Message, WriteOptions, read_battles};
use serde_json::json;

const MODELS: [&str; 8] = [
    "gpt-4o-2024-08-06",
    "claude-3-5-sonnet-20241022",
    "gemini-1.5-pro-002",
    "llama-3.1-405b-instruct",
    "mistral-large-2407",
    "qwen2.5-72b-instruct",
    "deepseek-v2.5",
    "gemma-2-27b-it",
];

fn fill(row: &mut BattleRow, i: u64, conversations: bool, extras: bool) {
    use std::fmt::Write as _;
    row.question_id.clear();
    let _ = write!(
        row.question_id,
        "{:032x}",
        i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    );
    row.model_a.clear();
    row.model_a.push_str(MODELS[(i % 8) as usize]);
    row.model_b.clear();
    row.model_b.push_str(MODELS[((i / 8 + i + 1) % 8) as usize]);
    row.winner = Winner::ALL[(i % 4) as usize];
    let judge = row.judge.get_or_insert_with(String::new);
    judge.clear();
    let _ = write!(judge, "{:016x}", i % 50_000);
    row.turn = 1 + (i % 3) as u32;
    row.tstamp = Some(1_700_000_000.0 + i as f64 * 0.731);
    if extras {
        row.categories.insert("is_code".into(), i.is_multiple_of(5));
        row.extra
            .insert("pair_probability".into(), json!(1.0 / 28.0));
        row.extra
            .insert("latency_a_ms".into(), json!(300 + i % 977));
        row.extra
            .insert("latency_b_ms".into(), json!(400 + i % 613));
        row.extra.insert("tokens_a".into(), json!(100 + i % 400));
    }
    if conversations {
        let answer = "The quick brown fox jumps over the lazy dog. ".repeat(22);
        let messages = vec![
            Message::new("user", format!("Question {i}: explain something.")),
            Message::new("assistant", answer),
        ];
        row.conversation_a = Some(messages.clone());
        row.conversation_b = Some(messages);
    }
}

fn run(dir: &Path, label: &str, rows: u64, conversations: bool, extras: bool) {
    let options = WriteOptions {
        conversations,
        extra_columns: if extras {
            [
                "is_code",
                "pair_probability",
                "latency_a_ms",
                "latency_b_ms",
                "tokens_a",
            ]
            .map(String::from)
            .to_vec()
        } else {
            Vec::new()
        },
    };
    for format in Format::ALL {
        let path = dir.join(format!("{label}.{}", format.extension()));
        let mut row = BattleRow::new("", "", "", Winner::Tie);

        let started = Instant::now();
        let file = File::create(&path).expect("create output");
        let mut writer = BattleWriter::new(file, format, options.clone()).expect("writer");
        for i in 0..rows {
            fill(&mut row, i, conversations, extras);
            writer.write(&row).expect("write");
        }
        writer.finish().expect("finish");
        let write_secs = started.elapsed().as_secs_f64();
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

        let started = Instant::now();
        let mut read = 0u64;
        for result in read_battles(&path).expect("open") {
            result.expect("row");
            read += 1;
        }
        let read_secs = started.elapsed().as_secs_f64();
        assert_eq!(read, rows, "{format}: row count");

        println!(
            "{label:<14} {format:<8} {rows:>9} rows  {:>8.1} MB  write {:>10.0} rows/s ({write_secs:>6.2} s)  read {:>10.0} rows/s ({read_secs:>6.2} s)",
            bytes as f64 / 1e6,
            rows as f64 / write_secs,
            rows as f64 / read_secs,
        );
        std::fs::remove_file(&path).ok();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("ROWS"));
    let conversation_rows: u64 = args
        .next()
        .map_or(100_000, |a| a.parse().expect("CONVERSATION_ROWS"));
    let dir =
        std::env::temp_dir().join(format!("arena-datasets-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    run(&dir, "contract", rows, false, false);
    run(&dir, "contract+extra", rows, false, true);
    run(&dir, "conversations", conversation_rows, true, false);
    std::fs::remove_dir_all(&dir).ok();
}
