//! `arena leaderboard`: ratings computed offline from a battles file or from
//! the database, printed as a table, JSON or CSV.
//!
//! Bradley–Terry input is folded into aggregated counts while reading, so
//! memory depends on the number of model pairs, not of rows; only Elo (which
//! is order-dependent) keeps one small record per vote.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{Context, bail};
use arena_core::Winner;
use arena_datasets::{BattleRow, read_battles};
use arena_rating::{
    BtOptions, Comparisons, EloOptions, Intervals, Leaderboard, Method, StyleFit, StyledBattle,
    fit_bradley_terry, fit_style_controlled, online_elo, style_side_from_markdown,
};
use arena_storage::VoteFilter;
use futures_util::TryStreamExt;
use serde::Serialize;

use crate::cli::LeaderboardArgs;
use crate::settings::{self, FileSettings};

/// What the fit needs from the input, gathered in one pass.
#[derive(Default)]
struct Gathered {
    comparisons: Comparisons,
    names: Vec<String>,
    index: HashMap<String, u32>,
    ordered: Vec<(u32, u32, Winner)>,
    styled: Vec<StyledBattle>,
}

impl Gathered {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    fn add(&mut self, model_a: &str, model_b: &str, winner: Winner, keep_order: bool) {
        self.comparisons.add(model_a, model_b, winner, 1.0);
        if keep_order {
            let (a, b) = (self.intern(model_a), self.intern(model_b));
            self.ordered.push((a, b, winner));
        }
    }
}

impl Gathered {
    /// Adds `count` identical votes (see [`fast_csv`]).
    fn add_many(&mut self, model_a: &str, model_b: &str, winner: Winner, count: u64) {
        for _ in 0..count {
            self.comparisons.add(model_a, model_b, winner, 1.0);
        }
    }
}

/// Concatenated assistant turns of one side, for style features.
fn assistant_text(conversation: Option<&Vec<arena_datasets::Message>>) -> Option<String> {
    let messages = conversation?;
    Some(
        messages
            .iter()
            .filter(|m| m.role == "assistant")
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Runs the command.
pub async fn run(args: LeaderboardArgs, file: &FileSettings) -> anyhow::Result<()> {
    let elo = match args.method.as_str() {
        "bt" => false,
        "elo" => true,
        other => bail!("unknown method {other:?}: expected bt or elo"),
    };
    if !matches!(args.format.as_str(), "table" | "json" | "csv") {
        bail!(
            "unknown format {:?}: expected table, json or csv",
            args.format
        );
    }
    let mut gathered = Gathered::default();
    match &args.input {
        Some(path) if fast_csv::applies(path, args.style_control) => {
            fast_csv::gather(path, args.category.as_deref(), &mut gathered, elo)?;
        }
        Some(path) => {
            let reader =
                read_battles(path).with_context(|| format!("opening {}", path.display()))?;
            for row in reader {
                let row: BattleRow = row?;
                if let Some(column) = &args.category
                    && !row.category(column)
                {
                    continue;
                }
                if args.style_control {
                    let (Some(a), Some(b)) = (
                        assistant_text(row.conversation_a.as_ref()),
                        assistant_text(row.conversation_b.as_ref()),
                    ) else {
                        bail!(
                            "--style-control needs conversations; row {} has none",
                            row.question_id
                        );
                    };
                    gathered.styled.push(StyledBattle {
                        model_a: row.model_a.clone(),
                        model_b: row.model_b.clone(),
                        winner: row.winner,
                        weight: 1.0,
                        a: style_side_from_markdown(&a),
                        b: style_side_from_markdown(&b),
                    });
                }
                gathered.add(&row.model_a, &row.model_b, row.winner, elo);
            }
        }
        None => {
            if args.style_control {
                bail!(
                    "--style-control reads conversations from a file: export with conversations and pass --input"
                );
            }
            let url = settings::database_url(args.database.database_url.clone(), file);
            let storage = crate::open_database(&url).await?;
            let filter = VoteFilter {
                category: args.category.clone(),
                ..VoteFilter::default()
            };
            let mut votes = storage.counted_votes(filter);
            while let Some(vote) = votes.try_next().await? {
                gathered.add(&vote.model_a, &vote.model_b, vote.winner, elo);
            }
        }
    }
    let anchor = args
        .anchor
        .as_deref()
        .map(|text| -> anyhow::Result<(String, f64)> {
            let (model, rating) = text
                .rsplit_once('=')
                .context("--anchor takes MODEL=RATING")?;
            Ok((
                model.to_owned(),
                rating.parse().context("--anchor rating must be a number")?,
            ))
        })
        .transpose()?;
    let intervals = match (args.intervals.as_str(), args.bootstrap) {
        (_, Some(rounds)) => Intervals::Bootstrap {
            rounds,
            seed: args.seed,
        },
        ("bootstrap", None) => Intervals::Bootstrap {
            rounds: 100,
            seed: args.seed,
        },
        ("sandwich", None) => Intervals::Sandwich,
        ("sandwich-exact", None) => Intervals::SandwichExact,
        (other, None) => {
            bail!("unknown intervals {other:?}: expected sandwich, sandwich-exact or bootstrap")
        }
    };
    let options = BtOptions {
        intervals,
        anchor,
        provisional_below_votes: args.provisional_below,
        ..BtOptions::default()
    };
    let (board, style) = if args.style_control {
        let fit: StyleFit = fit_style_controlled(&gathered.styled, &options)?;
        (fit.leaderboard, Some(fit.coefficients))
    } else if elo {
        let names = &gathered.names;
        let battles = gathered
            .ordered
            .iter()
            .map(|&(a, b, w)| (names[a as usize].as_str(), names[b as usize].as_str(), w));
        let elo_options = EloOptions {
            bootstrap: args.bootstrap.map(|rounds| (rounds, args.seed)),
            provisional_below_votes: args.provisional_below,
            ..EloOptions::default()
        };
        (online_elo(battles, &elo_options), None)
    } else {
        (
            fit_bradley_terry(&gathered.comparisons, &options, None)?.1,
            None,
        )
    };
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "csv" => write_csv(&mut out, &board)?,
        "json" => write_json(&mut out, &board, args.category.as_deref(), style.as_deref())?,
        _ => write_table(&mut out, &board, style.as_deref())?,
    }
    out.flush()?;
    Ok(())
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::BradleyTerry => "bt",
        Method::Elo => "elo",
        Method::StyleControlled => "bt-style",
    }
}

fn write_csv(out: &mut impl Write, board: &Leaderboard) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "rank",
        "model",
        "rating",
        "rating_lower",
        "rating_upper",
        "votes",
    ])?;
    for m in &board.models {
        writer.write_record([
            m.rank.to_string(),
            m.name.clone(),
            format!("{:.4}", m.rating),
            format!("{:.4}", m.ci_lower),
            format!("{:.4}", m.ci_upper),
            m.votes.to_string(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct JsonRow<'a> {
    rank: usize,
    rank_ub: usize,
    name: &'a str,
    rating: f64,
    ci_lower: f64,
    ci_upper: f64,
    votes: u64,
    win_rate: Option<f64>,
    provisional: bool,
}

#[derive(Serialize)]
struct JsonCoefficient<'a> {
    name: &'a str,
    value: f64,
    ci_lower: f64,
    ci_upper: f64,
}

fn write_json(
    out: &mut impl Write,
    board: &Leaderboard,
    category: Option<&str>,
    style: Option<&[arena_rating::StyleCoefficient]>,
) -> anyhow::Result<()> {
    let rows: Vec<JsonRow<'_>> = board
        .models
        .iter()
        .map(|m| JsonRow {
            rank: m.rank,
            rank_ub: m.rank_ub,
            name: &m.name,
            rating: m.rating,
            ci_lower: m.ci_lower,
            ci_upper: m.ci_upper,
            votes: m.votes,
            win_rate: m.win_rate,
            provisional: m.provisional,
        })
        .collect();
    let coefficients: Option<Vec<JsonCoefficient<'_>>> = style.map(|coefficients| {
        coefficients
            .iter()
            .map(|c| JsonCoefficient {
                name: &c.name,
                value: c.value,
                ci_lower: c.ci_lower,
                ci_upper: c.ci_upper,
            })
            .collect()
    });
    let body = serde_json::json!({
        "method": method_name(board.method),
        "category": category,
        "total_votes": board.total_votes,
        "models": rows,
        "style_coefficients": coefficients,
    });
    serde_json::to_writer_pretty(&mut *out, &body)?;
    writeln!(out)?;
    Ok(())
}

fn write_table(
    out: &mut impl Write,
    board: &Leaderboard,
    style: Option<&[arena_rating::StyleCoefficient]>,
) -> anyhow::Result<()> {
    let width = board
        .models
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{:>4}  {:>8}  {:<width$}  {:>8}  {:>17}  {:>8}",
        "Rank", "Rank(UB)", "Model", "Score", "95% CI", "Votes"
    )?;
    for m in &board.models {
        let interval = format!(
            "{:+.1}/{:+.1}",
            m.ci_upper - m.rating,
            m.ci_lower - m.rating
        );
        let mark = if m.provisional { " (provisional)" } else { "" };
        writeln!(
            out,
            "{:>4}  {:>8}  {:<width$}  {:>8.1}  {:>17}  {:>8}{mark}",
            m.rank, m.rank_ub, m.name, m.rating, interval, m.votes
        )?;
    }
    writeln!(
        out,
        "{} votes, method {}",
        board.total_votes,
        method_name(board.method)
    )?;
    if let Some(coefficients) = style {
        writeln!(out, "style coefficients:")?;
        for c in coefficients {
            writeln!(
                out,
                "  {:<10} {:+.4}  [{:+.4}, {:+.4}]",
                c.name, c.value, c.ci_lower, c.ci_upper
            )?;
        }
    }
    Ok(())
}

/// The CSV fast path of `arena leaderboard --input FILE.csv`.
///
/// The general reader builds a complete [`BattleRow`] per line (every column
/// parsed, ids and judges allocated), which makes reading, not fitting, the
/// cost of an offline leaderboard: on a million-row export it takes most of
/// a second. A leaderboard needs three columns (four with `--category`), so
/// this path reads raw CSV records, looks the model names up without
/// allocating, and folds the votes into per-pair counts; memory depends on
/// the number of model pairs, never on the number of rows. The columns it
/// reads follow the general reader's rules (the same winner spellings, the
/// same booleans for `--category`, the same error locations); columns it
/// does not need are not checked.
mod fast_csv {
    use std::collections::HashMap;
    use std::hash::{BuildHasherDefault, Hasher};
    use std::io::Read;
    use std::path::Path;

    use anyhow::{Context, bail};
    use arena_core::Winner;

    use super::Gathered;

    /// Whether the fast path serves this input: a `.csv` file, without style
    /// control (which needs the conversations).
    pub(super) fn applies(path: &Path, style_control: bool) -> bool {
        !style_control
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    }

    /// A multiplicative hash over 8-byte words (FxHash's construction):
    /// model names are short and few, and the file is the user's own, so a
    /// fast non-keyed hash is the right trade.
    #[derive(Default)]
    struct Fx(u64);

    impl Fx {
        fn mix(&mut self, word: u64) {
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    impl Hasher for Fx {
        fn finish(&self) -> u64 {
            // hashbrown picks buckets from the low bits: fold the well-mixed
            // high bits of the multiplications down.
            self.0 ^ (self.0 >> 32)
        }

        fn write(&mut self, bytes: &[u8]) {
            let mut words = bytes.chunks_exact(8);
            for word in &mut words {
                self.mix(u64::from_le_bytes(word.try_into().unwrap_or_default()));
            }
            let mut tail = [0u8; 8];
            let rest = words.remainder();
            tail[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(tail));
        }

        fn write_u64(&mut self, value: u64) {
            self.mix(value);
        }
    }

    type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

    fn slot(winner: Winner) -> usize {
        match winner {
            Winner::ModelA => 0,
            Winner::ModelB => 1,
            Winner::Tie => 2,
            Winner::BothBad => 3,
        }
    }

    /// The general reader's booleans (`parse_bool` in arena-datasets).
    fn is_true(field: &[u8]) -> bool {
        matches!(field.trim_ascii(), b"true" | b"True" | b"TRUE" | b"1")
    }

    fn winner(field: &[u8]) -> Result<Winner, String> {
        match field.trim_ascii() {
            b"model_a" => Ok(Winner::ModelA),
            b"model_b" => Ok(Winner::ModelB),
            b"tie" => Ok(Winner::Tie),
            b"both_bad" | b"tie (bothbad)" => Ok(Winner::BothBad),
            b"" => Err("missing winner".into()),
            other => Err(format!(
                "unknown winner {:?}",
                String::from_utf8_lossy(other)
            )),
        }
    }

    /// Model names interned to small integers, in order of first appearance.
    #[derive(Default)]
    struct Names {
        index: FastMap<Vec<u8>, u32>,
        names: Vec<String>,
    }

    impl Names {
        fn intern(&mut self, field: &[u8], column: &str) -> Result<u32, String> {
            if let Some(&i) = self.index.get(field) {
                return Ok(i);
            }
            if field.is_empty() {
                return Err("missing model_a or model_b".into());
            }
            let name = std::str::from_utf8(field)
                .map_err(|_| format!("column {column:?} is not valid UTF-8"))?;
            let i = self.names.len() as u32;
            self.names.push(name.to_owned());
            self.index.insert(field.to_vec(), i);
            Ok(i)
        }
    }

    /// Votes folded into per-pair counts while the file is read.
    struct Tally {
        names: Names,
        /// Ordered pair → position in `cells`, so cells replay in order of
        /// first appearance and models keep the numbering the general path
        /// gives them.
        pair_index: FastMap<u64, u32>,
        cells: Vec<(u32, u32, [u64; 4])>,
        /// Votes in file order, for Elo only.
        ordered: Option<Vec<(u32, u32, Winner)>>,
        /// Column positions: model_a, model_b, winner, and the category.
        columns: [usize; 3],
        category: Option<usize>,
    }

    impl Tally {
        /// Counts one record, given as an indexable list of fields.
        fn vote<'r>(&mut self, field: impl Fn(usize) -> &'r [u8]) -> Result<(), String> {
            if let Some(c) = self.category
                && !is_true(field(c))
            {
                return Ok(());
            }
            let [col_a, col_b, col_winner] = self.columns;
            let a = self.names.intern(field(col_a), "model_a")?;
            let b = self.names.intern(field(col_b), "model_b")?;
            let winner = winner(field(col_winner))?;
            let key = (u64::from(a) << 32) | u64::from(b);
            let cells = &mut self.cells;
            let k = *self.pair_index.entry(key).or_insert_with(|| {
                cells.push((a, b, [0; 4]));
                (cells.len() - 1) as u32
            });
            cells[k as usize].2[slot(winner)] += 1;
            if let Some(ordered) = &mut self.ordered {
                ordered.push((a, b, winner));
            }
            Ok(())
        }
    }

    /// Reads the file into `gathered`: per-pair counts for Bradley–Terry and,
    /// for Elo (`keep_order`), the votes in file order.
    ///
    /// Lines without a quote character (every line of an export without
    /// conversations) are split on commas directly, reading only up to the
    /// last needed column; from the first line with a quote on, the rest of
    /// the file goes through the `csv` crate, which handles quoting and
    /// newlines inside fields. The file is read in 1 MiB blocks: memory
    /// stays flat whatever its size.
    pub(super) fn gather(
        path: &Path,
        category: Option<&str>,
        gathered: &mut Gathered,
        keep_order: bool,
    ) -> anyhow::Result<()> {
        let mut file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let fail = |line: u64, message: String| -> anyhow::Error {
            anyhow::anyhow!("{}: line {line}: {message}", path.display())
        };
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut filled = 0usize;
        let mut eof = false;
        // Refills `buf` after its first `keep` bytes; false at end of file.
        let mut refill = |buf: &mut Vec<u8>, filled: &mut usize| -> anyhow::Result<bool> {
            if *filled == buf.len() {
                let grown = (buf.len() * 2).max(1 << 20);
                buf.resize(grown, 0);
            }
            let n = file
                .read(&mut buf[*filled..])
                .with_context(|| format!("reading {}", path.display()))?;
            *filled += n;
            Ok(n > 0)
        };

        // The header: the first line, parsed by the csv crate (names may be quoted).
        let header_end = loop {
            if let Some(at) = buf[..filled].iter().position(|&b| b == b'\n') {
                break at + 1;
            }
            if !refill(&mut buf, &mut filled)? {
                break filled;
            }
        };
        let header = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&buf[..header_end])
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
            *slot = find(required).with_context(|| {
                format!("{}: missing required column {required:?}", path.display())
            })?;
        }
        // A category column the file lacks selects no row, as in the
        // general reader.
        let category = match category {
            Some(name) => match find(name) {
                Some(i) => Some(i),
                None => return Ok(()),
            },
            None => None,
        };
        let width = header.len();
        let last_needed = columns
            .iter()
            .chain(category.iter())
            .copied()
            .max()
            .unwrap_or(0);
        let mut tally = Tally {
            names: Names::default(),
            pair_index: FastMap::default(),
            cells: Vec::new(),
            ordered: keep_order.then(Vec::new),
            columns,
            category,
        };

        // Unquoted lines, split by hand.
        let mut start = header_end;
        let mut line = 1u64;
        let mut spans: Vec<std::ops::Range<usize>> = Vec::with_capacity(last_needed + 1);
        let quoted_from = loop {
            let Some(at) = buf[start..filled].iter().position(|&b| b == b'\n') else {
                if !eof {
                    buf.copy_within(start..filled, 0);
                    filled -= start;
                    start = 0;
                    eof = !refill(&mut buf, &mut filled)?;
                    continue;
                }
                if start == filled {
                    break None;
                }
                // A last line without a newline.
                if filled == buf.len() {
                    buf.push(b'\n');
                } else {
                    buf[filled] = b'\n';
                }
                filled += 1;
                continue;
            };
            let end = start + at;
            let record = &buf[start..end];
            let record = record.strip_suffix(b"\r").unwrap_or(record);
            line += 1;
            // One pass: field boundaries up to the last needed column, the
            // field count, and whether the line needs real CSV parsing.
            spans.clear();
            let (mut from, mut count, mut quoted) = (0usize, 0usize, false);
            for (i, &byte) in record.iter().enumerate() {
                if byte == b',' {
                    if count <= last_needed {
                        spans.push(from..i);
                    }
                    count += 1;
                    from = i + 1;
                } else if byte == b'"' {
                    quoted = true;
                    break;
                }
            }
            if quoted {
                break Some(start);
            }
            start = end + 1;
            if record.is_empty() {
                continue; // the csv crate skips blank lines too
            }
            if count <= last_needed {
                spans.push(from..record.len());
            }
            if count + 1 != width {
                return Err(fail(
                    line,
                    format!("expected {width} fields, found {}", count + 1),
                ));
            }
            tally
                .vote(|i| &record[spans[i].clone()])
                .map_err(|message| fail(line, message))?;
        };

        // From the first quoted line on: the csv crate.
        if let Some(from) = quoted_from {
            let rest = std::io::Cursor::new(buf[from..filled].to_vec()).chain(file);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .buffer_capacity(1 << 20)
                .from_reader(rest);
            let mut record = csv::ByteRecord::new();
            let before = line - 1;
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => bail!("{}: {error} (after line {before})", path.display()),
                }
                let at = before + record.position().map_or(0, csv::Position::line);
                if record.len() != width {
                    return Err(fail(
                        at,
                        format!("expected {width} fields, found {}", record.len()),
                    ));
                }
                tally
                    .vote(|i| record.get(i).unwrap_or_default())
                    .map_err(|message| fail(at, message))?;
            }
        }

        let Tally {
            names,
            cells,
            ordered,
            ..
        } = tally;
        if let Some(ordered) = ordered {
            gathered.ordered = ordered;
            gathered.index = names
                .names
                .iter()
                .enumerate()
                .map(|(i, name)| (name.clone(), i as u32))
                .collect();
            gathered.names.clone_from(&names.names);
        }
        for (a, b, counts) in cells {
            let (a, b) = (&names.names[a as usize], &names.names[b as usize]);
            for (winner, count) in Winner::ALL.into_iter().zip(counts) {
                gathered.add_many(a, b, winner, count);
            }
        }
        Ok(())
    }
}
