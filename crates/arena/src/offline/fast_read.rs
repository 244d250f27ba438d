//! The fast paths of `arena leaderboard --input FILE.csv` and
//! `--input FILE.jsonl`.
//!
//! The general reader builds a complete `BattleRow` per line (every column
//! parsed, ids and judges allocated), which makes reading, not fitting, the
//! cost of an offline leaderboard. A leaderboard needs three columns (four
//! with `--category`), so this path splits raw lines, looks the model names
//! up without allocating, and folds the votes into per-cell counts; memory
//! depends on the number of model pairs, never on the number of rows.
//!
//! Lines without a quote character (every line of an export without
//! conversations) are split on commas by hand ([`scan`]); from the first
//! line with a quote on, the rest of the file goes through the `csv` crate,
//! which handles quoting and newlines inside fields. Large files are split
//! into one byte range per core, each counted by its own thread and merged
//! in file order, so the result is the one a single reader gives; if any
//! range meets a quote or a malformed line, the file is read again by the
//! single reader, which knows every line's number for the error message.
//!
//! The columns it reads follow the general reader's rules (the same winner
//! spellings, the same booleans for `--category`, the same error
//! locations); columns it does not need are not checked.
//!
//! JSONL files (our default export) take the same scanner, parts and tally,
//! with each line read by serde as its three needed keys ([`jsonl`]). Any
//! line it cannot take sends the whole file to the general reader, whose
//! rules (numbers as names, `category_tag`, line-numbered errors) it does
//! not duplicate; so does `--category`.

mod jsonl;
mod scan;
mod tally;

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, bail};

use super::Gathered;
use scan::{Problem, Range64, Scan};
use tally::{Layout, Tally};

/// Files smaller than this are read by one thread: starting threads costs
/// more than it saves.
const PARALLEL_FROM_BYTES: u64 = 8 << 20;

/// Size of the parts a large file is read in, each by whichever thread is
/// free: small enough that threads finish together, large enough that
/// taking a part costs nothing.
const PART_BYTES: u64 = 2 << 20;

/// Most threads a file is split across.
const MAX_THREADS: usize = 8;

/// How the lines of a file hold their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordFormat {
    /// Comma-separated, after a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Whether the fast path serves this input: a `.csv` file, without style
/// control (which needs the conversations).
pub(super) fn applies(path: &Path, style_control: bool) -> bool {
    !style_control
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Reads the file into `gathered`: per-pair counts for Bradley–Terry and,
/// for Elo (`keep_order`), the votes in file order.
pub(super) fn gather(
    path: &Path,
    category: Option<&str>,
    gathered: &mut Gathered,
    keep_order: bool,
) -> anyhow::Result<()> {
    gather_with(path, category, gathered, keep_order, Split::default_here())
}

/// How a file is split across threads.
#[derive(Debug, Clone, Copy)]
struct Split {
    /// Reading threads.
    threads: usize,
    /// Files with fewer bytes of records are read by one thread.
    parallel_from: u64,
    /// Size of the parts the threads take.
    part_bytes: u64,
}

impl Split {
    /// One thread per core (at most [`MAX_THREADS`]), the default sizes.
    fn default_here() -> Self {
        Split {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
            parallel_from: PARALLEL_FROM_BYTES,
            part_bytes: PART_BYTES,
        }
    }
}

/// [`gather`] with the split given (tests split small files).
fn gather_with(
    path: &Path,
    category: Option<&str>,
    gathered: &mut Gathered,
    keep_order: bool,
    split: Split,
) -> anyhow::Result<()> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let Some((layout, body)) = read_header(&mut file, path, category)? else {
        return Ok(()); // the category column is absent: no row selected
    };
    let size = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let tally = if !keep_order && split.threads > 1 && size - body >= split.parallel_from {
        gather_parallel(path, layout, body..size, split)?
    } else {
        None
    };
    let tally = match tally {
        Some(tally) => tally,
        None => gather_sequential(&mut file, path, layout, body, keep_order)?,
    };
    tally.finish(gathered);
    Ok(())
}

/// Whether the JSONL fast path may read this input: a `.jsonl` or `.ndjson`
/// file, for all votes (no `--category`), without style control.
pub(super) fn applies_jsonl(path: &Path, style_control: bool, category: Option<&str>) -> bool {
    !style_control
        && category.is_none()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
}

/// Reads a JSONL file into `gathered`, as [`gather`] does a CSV file.
/// Returns false, leaving `gathered` untouched, when a line needs the
/// general reader.
pub(super) fn gather_jsonl(
    path: &Path,
    gathered: &mut Gathered,
    keep_order: bool,
) -> anyhow::Result<bool> {
    gather_jsonl_with(path, gathered, keep_order, Split::default_here())
}

/// [`gather_jsonl`] with the split given (tests split small files).
fn gather_jsonl_with(
    path: &Path,
    gathered: &mut Gathered,
    keep_order: bool,
    split: Split,
) -> anyhow::Result<bool> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let tally = if !keep_order && split.threads > 1 && size >= split.parallel_from {
        gather_parallel(path, Layout::JSONL, 0..size, split)?
    } else {
        let mut tally = Tally::new(Layout::JSONL, keep_order);
        let whole = Range64 {
            from: 0,
            skip_first_line: false,
            until: u64::MAX,
        };
        let scanned = scan::scan(&mut file, whole, &mut tally, &mut Vec::new())
            .with_context(|| format!("reading {}", path.display()))?;
        matches!(scanned, Scan::Finished).then_some(tally)
    };
    let Some(tally) = tally else {
        return Ok(false);
    };
    tally.finish(gathered);
    Ok(true)
}

/// Parses the header (the first line; names may be quoted) into a layout,
/// and returns it with the offset where the records start; `None` when the
/// `--category` column is absent, which selects no row, as in the general
/// reader.
fn read_header(
    file: &mut File,
    path: &Path,
    category: Option<&str>,
) -> anyhow::Result<Option<(Layout, u64)>> {
    let mut first = Vec::new();
    BufReader::new(&mut *file)
        .read_until(b'\n', &mut first)
        .with_context(|| format!("reading {}", path.display()))?;
    let header = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(first.as_slice())
        .byte_records()
        .next()
        .transpose()
        .with_context(|| format!("{}: reading the header", path.display()))?
        .unwrap_or_default();
    let find = |wanted: &str| {
        header.iter().position(|name| {
            let name = name.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(name);
            name.trim_ascii() == wanted.as_bytes()
        })
    };
    let mut columns = [0usize; 3];
    for (slot, required) in columns.iter_mut().zip(arena_datasets::columns::REQUIRED) {
        *slot = find(required)
            .with_context(|| format!("{}: missing required column {required:?}", path.display()))?;
    }
    let category = match category {
        Some(name) => match find(name) {
            Some(i) => Some(i),
            None => return Ok(None),
        },
        None => None,
    };
    let last_needed = columns
        .iter()
        .chain(category.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let layout = Layout {
        format: RecordFormat::Csv,
        columns,
        category,
        width: header.len(),
        last_needed,
    };
    Ok(Some((layout, first.len() as u64)))
}

/// One reader over the whole file: the unquoted scanner while it can, then
/// the csv crate; errors name the line.
fn gather_sequential(
    file: &mut File,
    path: &Path,
    layout: Layout,
    body: u64,
    keep_order: bool,
) -> anyhow::Result<Tally> {
    let fail = |line: u64, message: &str| -> anyhow::Error {
        anyhow::anyhow!("{}: line {line}: {message}", path.display())
    };
    let mut tally = Tally::new(layout, keep_order);
    let range = Range64 {
        from: body,
        skip_first_line: false,
        until: u64::MAX,
    };
    let scanned = scan::scan(file, range, &mut tally, &mut Vec::new())
        .with_context(|| format!("reading {}", path.display()))?;
    // Line numbers count the header as line 1.
    let (offset, before) = match scanned {
        Scan::Finished => return Ok(tally),
        Scan::Stopped {
            line,
            problem: Problem::Malformed(message),
            ..
        } => return Err(fail(line + 1, &message)),
        Scan::Stopped {
            offset,
            line,
            problem: Problem::Quoted,
        } => (offset, line),
    };
    file.seek(SeekFrom::Start(offset))
        .with_context(|| format!("reading {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .buffer_capacity(1 << 20)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => bail!("{}: {error} (after line {before})", path.display()),
        }
        let position = record.position();
        let line = before + position.map_or(0, csv::Position::line);
        if record.len() != layout.width {
            return Err(fail(
                line,
                &format!("expected {} fields, found {}", layout.width, record.len()),
            ));
        }
        let record_offset = offset + position.map_or(0, csv::Position::byte);
        tally
            .vote(record_offset, |i| record.get(i).unwrap_or_default())
            .map_err(|message| fail(line, &message))?;
    }
    Ok(tally)
}

/// The records (`body`, a byte range) in parts of `split.part_bytes`, taken in file order by
/// `split.threads` threads as each becomes free (so a thread slowed by the machine takes
/// fewer parts instead of holding up the result), each thread counting into
/// its own tally; the tallies merged, names numbered by first appearance.
/// `None` when a part met a line only the single reader (CSV) or the
/// general reader (JSONL) handles: quoted or malformed.
fn gather_parallel(
    path: &Path,
    layout: Layout,
    body: std::ops::Range<u64>,
    split: Split,
) -> anyhow::Result<Option<Tally>> {
    let part_bytes = split.part_bytes.max(1);
    let parts = (body.end - body.start).div_ceil(part_bytes);
    let next_part = AtomicU64::new(0);
    let give_up = AtomicBool::new(false);
    let count_parts = || -> std::io::Result<Option<Tally>> {
        let mut file = File::open(path)?;
        let mut tally = Tally::new(layout, false);
        let mut buf = Vec::new();
        loop {
            let k = next_part.fetch_add(1, Ordering::Relaxed);
            if k >= parts || give_up.load(Ordering::Relaxed) {
                return Ok(Some(tally));
            }
            let from = body.start + k * part_bytes;
            let range = Range64 {
                // A part after the first starts one byte early: if that byte
                // ends a line, the part starts exactly on a line.
                from: if k == 0 { from } else { from - 1 },
                skip_first_line: k > 0,
                until: (from + part_bytes).min(body.end),
            };
            if let Scan::Stopped { .. } = scan::scan(&mut file, range, &mut tally, &mut buf)? {
                give_up.store(true, Ordering::Relaxed);
                return Ok(None);
            }
        }
    };
    let results: Vec<std::io::Result<Option<Tally>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..split.threads)
            .map(|_| scope.spawn(count_parts))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a reading thread panicked")))
            })
            .collect()
    });
    let mut merged: Option<Tally> = None;
    for result in results {
        let Some(tally) = result.with_context(|| format!("reading {}", path.display()))? else {
            return Ok(None);
        };
        match &mut merged {
            None => merged = Some(tally),
            Some(merged) => merged.merge(tally),
        }
    }
    Ok(merged.filter(|_| !give_up.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::PathBuf;

    use super::*;

    /// A scratch file removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str, text: &str) -> Self {
            Self::with_extension(name, "csv", text)
        }

        fn with_extension(name: &str, extension: &str, text: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "arena-fast-read-{}-{name}.{extension}",
                std::process::id()
            ));
            std::fs::write(&path, text).unwrap();
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Rows among a dozen models with every winner spelling, some CRLF line
    /// ends, blank lines, and no newline after the last line.
    fn battles(rows: usize) -> String {
        let winners = ["model_a", "model_b", "tie", "both_bad", "tie (bothbad)"];
        let mut text = String::from("question_id,model_a,model_b,winner,hard\n");
        for i in 0..rows {
            let (a, b) = (i * 7 % 12, (i * 5 + 1) % 12);
            let end = if i % 11 == 0 { "\r\n" } else { "\n" };
            let hard = if i % 3 == 0 { "True" } else { "false" };
            write!(
                text,
                "q{i},model-{a},model-{b},{},{hard}{end}",
                winners[i * 13 % 5]
            )
            .unwrap();
            if i % 97 == 0 {
                text.push('\n');
            }
        }
        text.pop();
        text
    }

    /// Gathers with `threads` threads taking parts of about a hundred lines
    /// (the whole file when one thread).
    fn gathered(path: &Path, category: Option<&str>, threads: usize) -> anyhow::Result<Gathered> {
        let mut gathered = Gathered::default();
        let split = Split {
            threads,
            parallel_from: 0,
            part_bytes: 3_000 + threads as u64,
        };
        gather_with(path, category, &mut gathered, false, split)?;
        Ok(gathered)
    }

    fn assert_same(left: &Gathered, right: &Gathered) {
        let (l, r) = (&left.comparisons, &right.comparisons);
        assert_eq!(l.model_names(), r.model_names());
        assert_eq!(l.total_votes(), r.total_votes());
        for a in l.model_names() {
            assert_eq!(l.votes(a), r.votes(a), "{a}");
            assert_eq!(l.win_rate(a), r.win_rate(a), "{a}");
            for b in l.model_names() {
                assert_eq!(l.pair_votes(a, b), r.pair_votes(a, b), "{a} {b}");
            }
        }
    }

    #[test]
    fn every_split_gives_the_single_readers_counts() {
        let file = Scratch::new("split", &battles(3_001));
        let single = gathered(&file.0, None, 1).unwrap();
        assert_eq!(single.comparisons.total_votes(), 3_001);
        assert_eq!(single.comparisons.model_names().len(), 12);
        for threads in [2, 3, 7, 64] {
            assert_same(&single, &gathered(&file.0, None, threads).unwrap());
        }
        let hard = gathered(&file.0, Some("hard"), 1).unwrap();
        assert_eq!(hard.comparisons.total_votes(), 1_001);
        assert_same(&hard, &gathered(&file.0, Some("hard"), 5).unwrap());
    }

    #[test]
    fn a_quoted_line_anywhere_reads_like_the_single_reader() {
        let mut text = battles(2_000);
        text.push_str("\nq-last,\"model-1\",\"model,2\",model_a,\"multi\nline\"\n");
        let file = Scratch::new("quoted", &text);
        let single = gathered(&file.0, None, 1).unwrap();
        assert_eq!(single.comparisons.total_votes(), 2_001);
        assert_eq!(single.comparisons.pair_votes("model-1", "model,2"), 1);
        assert_same(&single, &gathered(&file.0, None, 4).unwrap());
    }

    #[test]
    fn a_malformed_line_is_named_whatever_the_split() {
        let mut lines: Vec<String> = battles(1_000).lines().map(str::to_owned).collect();
        let at = lines.len() - 10;
        lines[at] = "q-bad,model-1,model-2,draw,false".into();
        let file = Scratch::new("malformed", &lines.join("\n"));
        for threads in [1, 3] {
            let error = gathered(&file.0, None, threads).unwrap_err().to_string();
            assert!(
                error.contains(&format!("line {}: unknown winner \"draw\"", at + 1)),
                "{error}"
            );
        }
        // After a quoted line the csv crate reads the rest: its errors name
        // lines too.
        let mut quoted = lines.clone();
        quoted[at - 5] = "q-quoted,\"model-1\",model-2,tie,false".into();
        let file = Scratch::new("malformed-quoted", &quoted.join("\n"));
        for threads in [1, 3] {
            let error = gathered(&file.0, None, threads).unwrap_err().to_string();
            assert!(
                error.contains(&format!("line {}: unknown winner \"draw\"", at + 1)),
                "{error}"
            );
        }
        lines[at] = "q-short,model-1,model-2".into();
        let file = Scratch::new("short", &lines.join("\n"));
        let error = gathered(&file.0, None, 3).unwrap_err().to_string();
        assert!(
            error.contains(&format!("line {}: expected 5 fields, found 3", at + 1)),
            "{error}"
        );
    }

    /// The same votes as [`battles`], as JSONL in the export's shape, with
    /// a key order that varies, an escaped name, extra keys and blank
    /// lines.
    fn jsonl_battles(rows: usize) -> String {
        let winners = ["model_a", "model_b", "tie", "both_bad", "tie (bothbad)"];
        let mut text = String::new();
        for i in 0..rows {
            let (a, b) = (i * 7 % 12, (i * 5 + 1) % 12);
            let winner = winners[i * 13 % 5];
            if i % 2 == 0 {
                writeln!(
                    text,
                    r#"{{"question_id":"q{i}","model_a":"model-{a}","model_b":"model-{b}","winner":"{winner}","turn":1,"anony":true,"conversation_a":[{{"role":"user","content":"hi \"there\""}}]}}"#
                )
            } else {
                writeln!(
                    text,
                    r#"{{"winner": "{winner}", "model_b": "model\u002d{b}", "model_a": "model-{a}", "tstamp": 1.5}}"#
                )
            }
            .unwrap();
            if i % 97 == 0 {
                text.push_str("  \n");
            }
        }
        text
    }

    fn gathered_jsonl(path: &Path, threads: usize) -> anyhow::Result<Option<Gathered>> {
        let mut gathered = Gathered::default();
        let split = Split {
            threads,
            parallel_from: 0,
            part_bytes: 3_000 + threads as u64,
        };
        let done = gather_jsonl_with(path, &mut gathered, false, split)?;
        Ok(done.then_some(gathered))
    }

    #[test]
    fn jsonl_reads_like_the_general_reader_whatever_the_split() {
        let file = Scratch::with_extension("votes", "jsonl", &jsonl_battles(3_001));
        let mut general = Gathered::default();
        for row in arena_datasets::read_battles(&file.0).unwrap() {
            let row = row.unwrap();
            general.add(&row.model_a, &row.model_b, row.winner, false);
        }
        assert_eq!(general.comparisons.total_votes(), 3_001);
        assert_eq!(general.comparisons.model_names().len(), 12);
        for threads in [1, 2, 3, 7, 64] {
            let fast = gathered_jsonl(&file.0, threads)
                .unwrap()
                .expect("fast path");
            assert_same(&general, &fast);
        }
    }

    #[test]
    fn jsonl_lines_only_the_general_reader_takes_send_the_file_there() {
        let lines: Vec<String> = jsonl_battles(500).lines().map(str::to_owned).collect();
        for odd in [
            r#"{"model_a": 7, "model_b": "model-1", "winner": "tie"}"#,
            r#"{"model_a": null, "model_b": "model-1", "winner": "tie"}"#,
            r#"{"model_a": "model-1", "model_a": "model-2", "model_b": "model-3", "winner": "tie"}"#,
            r#"{"model_a": "model-1", "model_b": "model-2", "winner": "draw"}"#,
            r#"{"model_a": "model-1", "model_b": "model-2"}"#,
            r#"{"model_a": "model-1", "#,
        ] {
            let mut text = lines.clone();
            text[400] = odd.to_owned();
            let file = Scratch::with_extension("odd", "jsonl", &text.join("\n"));
            for threads in [1, 3] {
                assert!(gathered_jsonl(&file.0, threads).unwrap().is_none(), "{odd}");
            }
        }
    }
}
