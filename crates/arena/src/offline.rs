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
use arena_datasets::{BattleRow, read_battles, read_votes};
use arena_rating::{
    BtOptions, Comparisons, EloOptions, Intervals, Leaderboard, Method, StyleFit, StyledBattle,
    fit_bradley_terry, fit_style_controlled, online_elo, style_side_from_markdown,
};
use arena_storage::VoteFilter;
use futures_util::TryStreamExt;
use serde::Serialize;

mod fast_read;

use crate::cli::LeaderboardArgs;
use crate::settings::{self, FileSettings};

/// What the fit needs from the input, gathered in one pass.
#[derive(Debug, Default)]
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

/// Reads a battles file of any format through the general reader: every
/// column of every row, conversations only when style control needs them.
fn gather_rows(
    path: &std::path::Path,
    args: &LeaderboardArgs,
    gathered: &mut Gathered,
    keep_order: bool,
) -> anyhow::Result<()> {
    // Unread conversations are skipped by Parquet: their columns are never
    // decoded.
    let reader = if args.style_control {
        read_battles(path)
    } else {
        read_votes(path)
    };
    let reader = reader?; // the error names the file
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
        gathered.add(&row.model_a, &row.model_b, row.winner, keep_order);
    }
    Ok(())
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
        Some(path) if fast_read::applies(path, args.style_control) => {
            fast_read::gather(path, args.category.as_deref(), &mut gathered, elo)?;
        }
        Some(path) => {
            let fast = fast_read::applies_jsonl(path, args.style_control, args.category.as_deref())
                && fast_read::gather_jsonl(path, &mut gathered, elo)?;
            if !fast {
                gather_rows(path, &args, &mut gathered, elo)?;
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
