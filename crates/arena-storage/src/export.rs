//! The research export's read path.
//!
//! On SQLite, without conversations (the bulk case): the direct reader of
//! [`crate::sqlite_export`], plain rows read in place by threads of their
//! own, outside sqlx.
//!
//! On SQLite, with conversations (or an in-memory database): votes in pages
//! of consecutive vote ids, each page aggregated by SQLite into one JSON
//! text. Read row by row through sqlx, a million-row export spent most of
//! its time in the driver, not in the database: sqlx copies every value of
//! every row (ten per vote) and hands each row from its worker thread
//! through a channel, so the two threads took turns every few rows (a third
//! of the time in the kernel). One aggregated value per page costs one
//! hand-off and one copy per page; serde_json then reads the page in one
//! pass, borrowing what it can. Building that JSON is SQLite's main cost,
//! which is why the bulk case reads rows directly instead. Pages are ranges
//! of vote ids, not "the next N rows after the last one", so that they do
//! not depend on each other: the next page is read while the caller
//! consumes the current one (two connections, two cores), and memory stays
//! at two pages whatever the size of the export.
//!
//! On PostgreSQL: one ordered stream of rows. Its driver decodes rows from
//! the socket on the reading task (no thread hand-off), and building JSON
//! cost the server more than sending rows (a page of 4,096 votes took 31 ms,
//! 20 of them in `json_build_array`).
//!
//! All: model names are resolved here from one read of the models table
//! instead of two joins per row; the turn count is the battle's own column
//! (kept by triggers, migration 0002) instead of a subquery per vote; and
//! the highest vote id at the start bounds the export, which is a snapshot
//! of its start.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use uuid::Uuid;

use crate::error::{Result, StorageError};
use crate::rows;
use crate::types::ExportBattle;

/// Vote ids per SQLite page.
pub(crate) const PAGE_IDS: i64 = 4096;

/// Vote ids per page when conversations are exported too.
pub(crate) const PAGE_IDS_WITH_CONVERSATIONS: i64 = 512;

/// The turns of a page's battles, in one query (SQLite pages): `$1 < vote
/// id <= $2`, as the page. One query per page instead of one per battle
/// made an export with conversations of 56,000 battles take seconds
/// instead of half a minute.
pub(crate) const PAGE_TURNS: &str = "SELECT t.battle_id, t.turn, t.prompt, t.answer_a, t.answer_b, t.status_a, t.status_b, t.error_a, t.error_b, \
     t.latency_a_ms, t.latency_b_ms, t.tokens_a, t.tokens_b, t.created_at \
     FROM turns t JOIN votes v ON v.battle_id = t.battle_id WHERE v.id > $1 AND v.id <= $2 ORDER BY t.battle_id, t.turn";

/// Pages read ahead of the consumer (each on its own connection).
pub(crate) const PAGES_IN_FLIGHT: usize = 2;

/// What one export reads, from its filter and the highest vote id at its
/// start.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// Votes with a greater id.
    pub(crate) after: i64,
    /// Votes up to this id.
    pub(crate) last: i64,
    /// Votes cast in [since, until), when a time filter is given.
    pub(crate) time: Option<(i64, i64)>,
    /// Only battles tagged with this category.
    pub(crate) category: Option<String>,
    /// With each battle's turns.
    pub(crate) conversations: bool,
}

impl Scope {
    /// Vote ids per SQLite page: conversations make a battle a few
    /// kilobytes instead of a hundred bytes.
    pub(crate) fn page_size(&self) -> i64 {
        if self.conversations {
            PAGE_IDS_WITH_CONVERSATIONS
        } else {
            PAGE_IDS
        }
    }
}

/// The votes of a page or of the row stream: `$1 < vote id <= $2`, and with
/// a time filter votes cast in [`$3`, `$4`).
///
/// Without a time filter there is no condition on `created_at` at all:
/// given one, PostgreSQL's planner (with the statistics of a fresh import)
/// intersected the id range with a scan of the whole `created_at` index —
/// a 200,000-vote export took 13 s instead of 1.
macro_rules! export_query {
    ($select:expr, $time:expr, $flagged:expr, $tail:expr) => {
        concat!(
            $select,
            " FROM votes v JOIN battles b ON b.id = v.battle_id \
             WHERE v.id > $1 AND v.id <= $2 AND b.identity_leak = false",
            $time,
            $flagged,
            $tail
        )
    };
}

/// The condition that leaves out flagged voters, for the queries that do not
/// filter them themselves.
macro_rules! not_flagged {
    () => {
        " AND NOT EXISTS (SELECT 1 FROM flagged_voters f WHERE f.voter = v.voter)"
    };
}

/// The condition a time filter adds (`$3`, `$4`).
macro_rules! time_filter {
    () => {
        " AND v.created_at >= $3 AND v.created_at < $4"
    };
}

/// One SQLite page: each vote one JSON array (see [`PageRow`]), the page one
/// JSON array of them. The order inside the page is restored by vote id
/// after parsing, so the aggregate's order does not matter.
macro_rules! sqlite_page {
    ($time:expr) => {
        concat!(
            "SELECT '[' || COALESCE(group_concat(r, ','), '') || ']' FROM (",
            export_query!(
                "SELECT json_array(v.id, hex(b.id), b.external_id, hex(b.model_a), hex(b.model_b), v.winner, v.voter, v.created_at, \
                 CASE WHEN b.pair_probability IS NULL THEN NULL ELSE printf('%!.17g', b.pair_probability) END, b.categories, \
                 b.turn_count) AS r",
                $time,
                not_flagged!(),
                ")"
            )
        )
    };
}

/// The row stream, in vote order: PostgreSQL's export, and SQLite's when the
/// direct reader serves it (`crate::sqlite_export`).
macro_rules! vote_rows {
    ($time:expr, $flagged:expr) => {
        export_query!(
            "SELECT v.id, b.id AS battle_id, b.external_id, b.model_a, b.model_b, v.winner, v.voter, v.created_at, \
             b.pair_probability, b.categories, b.turn_count",
            $time,
            $flagged,
            " ORDER BY v.id"
        )
    };
}

/// The SQLite page query, with or without the time filter.
pub(crate) fn sqlite_page_sql(scope: &Scope) -> &'static str {
    match scope.time {
        Some(_) => sqlite_page!(time_filter!()),
        None => sqlite_page!(""),
    }
}

/// The row query, with or without the time filter.
pub(crate) fn rows_sql(scope: &Scope) -> &'static str {
    match scope.time {
        Some(_) => vote_rows!(time_filter!(), not_flagged!()),
        None => vote_rows!("", not_flagged!()),
    }
}

/// The row query with flagged voters left in, for a reader that drops them
/// itself (`crate::sqlite_export`: one set lookup instead of one subquery,
/// a B-tree cursor, per vote).
pub(crate) fn rows_with_flagged_sql(scope: &Scope) -> &'static str {
    match scope.time {
        Some(_) => vote_rows!(time_filter!(), ""),
        None => vote_rows!("", ""),
    }
}

/// The id ranges `(after, up_to]` of the pages covering votes after `after`
/// up to `last`, the highest vote id when the export started (votes cast
/// during the export are not in it: it is a snapshot of its start).
pub(crate) fn page_ranges(after: i64, last: i64, size: i64) -> impl Iterator<Item = (i64, i64)> {
    let after = after.max(0);
    let size = size.max(1);
    let pages = if last > after {
        (last - after + size - 1) / size
    } else {
        0
    };
    (0..pages).map(move |k| {
        let from = after + k * size;
        (from, (from + size).min(last))
    })
}

/// One vote as aggregated by the page queries, in column order. The
/// probability travels as text so that no digit is lost to SQLite's JSON
/// number formatting; the categories as the stored JSON text, parsed here
/// (re-encoding them with `json()` was a sixth of SQLite's time per vote).
#[derive(Deserialize)]
struct PageRow<'a>(
    i64,
    Uuid,
    Option<String>,
    Uuid,
    Uuid,
    #[serde(borrow)] Cow<'a, str>,
    String,
    i64,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Cow<'a, str>,
    i64,
);

/// A voted battle as the export queries return it, model names not yet
/// resolved.
pub(crate) struct StoredVote<'a> {
    pub(crate) battle_id: Uuid,
    pub(crate) external_id: Option<String>,
    pub(crate) model_a: Uuid,
    pub(crate) model_b: Uuid,
    pub(crate) winner: Cow<'a, str>,
    pub(crate) voter: String,
    pub(crate) voted_at_ms: i64,
    pub(crate) pair_probability: Option<f64>,
    pub(crate) categories: Vec<String>,
    pub(crate) turn_count: i64,
}

impl StoredVote<'_> {
    /// The exported battle, model names resolved from `models`; `None` when
    /// it is outside `category`.
    pub(crate) fn resolve(
        self,
        models: &HashMap<Uuid, String>,
        category: Option<&str>,
    ) -> Result<Option<ExportBattle>> {
        if !rows::in_category(&self.categories, category) {
            return Ok(None);
        }
        let name = |id: &Uuid| {
            models
                .get(id)
                .cloned()
                .ok_or_else(|| StorageError::Corrupt(format!("battle names unknown model {id}")))
        };
        Ok(Some(ExportBattle {
            battle_id: self.battle_id,
            external_id: self.external_id,
            model_a: name(&self.model_a)?,
            model_b: name(&self.model_b)?,
            winner: rows::winner(&self.winner)?,
            voter: self.voter,
            voted_at_ms: self.voted_at_ms,
            pair_probability: self.pair_probability,
            categories: self.categories,
            turns: Vec::new(),
            turn_count: rows::turn_number(self.turn_count)?,
        }))
    }
}

/// Parses a page, resolves model names, keeps the votes in `category` (all
/// when `None`), and returns them in vote order.
pub(crate) fn parse_page(
    text: &str,
    models: &HashMap<Uuid, String>,
    category: Option<&str>,
) -> Result<Vec<ExportBattle>> {
    let page: Vec<PageRow<'_>> = serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("export page: {e}")))?;
    let mut battles = Vec::with_capacity(page.len());
    for PageRow(
        vote_id,
        battle_id,
        external_id,
        model_a,
        model_b,
        winner,
        voter,
        voted_at_ms,
        probability,
        categories,
        turn_count,
    ) in page
    {
        let categories = rows::categories(&categories)?;
        let pair_probability = probability
            .map(|p| {
                p.parse::<f64>()
                    .map_err(|_| StorageError::Corrupt(format!("pair probability {p:?}")))
            })
            .transpose()?;
        let vote = StoredVote {
            battle_id,
            external_id,
            model_a,
            model_b,
            winner,
            voter,
            voted_at_ms,
            pair_probability,
            categories,
            turn_count,
        };
        if let Some(battle) = vote.resolve(models, category)? {
            battles.push((vote_id, battle));
        }
    }
    // Vote order; a stable sort of an already sorted page is one pass.
    battles.sort_by_key(|&(vote_id, _)| vote_id);
    Ok(battles.into_iter().map(|(_, battle)| battle).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_every_id_once() {
        let ranges: Vec<_> = page_ranges(0, 10_000, PAGE_IDS).collect();
        assert_eq!(ranges, [(0, 4096), (4096, 8192), (8192, 10_000)]);
        assert_eq!(page_ranges(0, 0, PAGE_IDS).count(), 0);
        assert_eq!(page_ranges(-5, 1, PAGE_IDS).collect::<Vec<_>>(), [(0, 1)]);
        assert_eq!(page_ranges(9_000, 8_000, PAGE_IDS).count(), 0);
        assert_eq!(page_ranges(10, 1034, 512).count(), 2);
    }

    #[test]
    fn a_page_parses_filters_and_sorts() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let models = HashMap::from([(a, "alpha".to_owned()), (b, "beta".to_owned())]);
        let text = format!(
            r#"[[7,"{battle}",null,"{a}","{b}","tie","v2",2000,null,"[]",1],
                [5,"{battle}","q-5","{a_hex}","{b}","model_a","v1",1000,"0.33333333333333331","[\"hard\"]",2]]"#,
            battle = Uuid::from_u128(9),
            a = a,
            b = b,
            a_hex = a.simple().to_string().to_uppercase(),
        );
        let all = parse_page(&text, &models, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].external_id.as_deref(), Some("q-5"));
        assert_eq!(all[0].model_a, "alpha");
        assert_eq!(all[0].pair_probability, Some(1.0 / 3.0));
        assert_eq!(all[0].turn_count, 2);
        assert_eq!(all[1].winner, arena_core::Winner::Tie);
        assert_eq!(all[1].pair_probability, None);
        let hard = parse_page(&text, &models, Some("hard")).unwrap();
        assert_eq!(hard.len(), 1);
        assert!(parse_page("[[1]]", &models, None).is_err());
        let unknown = text.replace(&b.to_string(), &Uuid::from_u128(3).to_string());
        assert!(parse_page(&unknown, &models, None).is_err());
    }
}
