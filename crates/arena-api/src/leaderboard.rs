//! The live leaderboard: counts kept in memory, updated in place by each vote
//! on this instance, and refitted (warm-started) only when read after a
//! change.
//!
//! Votes cast through other instances are picked up incrementally: when the
//! counts are older than `leaderboard_max_age`, the votes with an id above
//! `last_id − CATCH_UP_WINDOW` are read and those not yet counted are added.
//! The window covers ids handed out before `last_id` but committed after it
//! was read (PostgreSQL assigns ids at insert, not at commit). A full reload
//! every `FULL_RELOAD_EVERY`, or after a voter is flagged, makes the counts
//! exact again whatever happened.
//!
//! Excluded votes (identity leaks, flagged voters, unvoted or failed
//! battles) never enter: the storage query that loads the counts applies the
//! same rules as the export, and `on_vote` skips leaked battles.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_core::Winner;
use arena_rating::{
    AnomalyDetector, BtFit, BtOptions, Comparisons, EloOptions, Leaderboard, fit_bradley_terry,
    online_elo,
};
use arena_storage::{Model, VoteFilter};
use futures_util::TryStreamExt;
use tokio::sync::Mutex;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now_ms};

/// `bt` or `elo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RatingMethod {
    /// Bradley–Terry with sandwich intervals.
    Bt,
    /// FastChat's online Elo.
    Elo,
}

/// One stored vote, by model index, in vote order (Elo needs the order).
#[derive(Debug, Clone)]
struct VoteKey {
    a: u32,
    b: u32,
    winner: Winner,
    categories: Vec<u32>,
}

#[derive(Default)]
struct Counts {
    names: Vec<String>,
    index: HashMap<String, u32>,
    category_names: Vec<String>,
    category_index: HashMap<String, u32>,
    votes: Vec<VoteKey>,
    overall: Comparisons,
    by_category: HashMap<u32, Comparisons>,
    fits: HashMap<Option<u32>, BtFit>,
    computed: HashMap<(RatingMethod, Option<u32>), Arc<Leaderboard>>,
    /// When the counts were last brought up to date with the database.
    synced_at: Option<Instant>,
    /// When the counts were last rebuilt from scratch.
    full_at: Option<Instant>,
    /// Highest vote id counted.
    last_id: i64,
    /// Ids counted within the catch-up window, to skip on the next read.
    recent: HashSet<i64>,
}

/// How far below the highest counted id a catch-up reads again.
const CATCH_UP_WINDOW: i64 = 10_000;
/// Longest time between two full rebuilds of the counts.
const FULL_RELOAD_EVERY: Duration = Duration::from_secs(600);

impl Counts {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    fn category(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.category_index.get(name) {
            return i;
        }
        let i = u32::try_from(self.category_names.len()).unwrap_or(u32::MAX);
        self.category_names.push(name.to_owned());
        self.category_index.insert(name.to_owned(), i);
        i
    }

    /// Counts a vote unless it was already counted; false when it was.
    fn add_once(
        &mut self,
        id: i64,
        model_a: &str,
        model_b: &str,
        winner: Winner,
        categories: &[String],
    ) -> bool {
        if id <= self.last_id - CATCH_UP_WINDOW || !self.recent.insert(id) {
            return false;
        }
        self.last_id = self.last_id.max(id);
        self.add(model_a, model_b, winner, categories);
        true
    }

    /// Forgets ids that fell out of the catch-up window.
    fn prune_recent(&mut self) {
        let floor = self.last_id - CATCH_UP_WINDOW;
        self.recent.retain(|&id| id > floor);
    }

    fn add(&mut self, model_a: &str, model_b: &str, winner: Winner, categories: &[String]) {
        let a = self.intern(model_a);
        let b = self.intern(model_b);
        let categories: Vec<u32> = categories.iter().map(|c| self.category(c)).collect();
        self.overall.add(model_a, model_b, winner, 1.0);
        for &c in &categories {
            self.by_category
                .entry(c)
                .or_default()
                .add(model_a, model_b, winner, 1.0);
        }
        self.votes.push(VoteKey {
            a,
            b,
            winner,
            categories,
        });
        self.computed.clear();
    }
}

/// A vote just committed, as the cache needs it.
pub struct CastVote<'a> {
    /// The stored vote's id.
    pub id: i64,
    /// The voter hash.
    pub voter: &'a str,
    /// Side A's model name.
    pub model_a: &'a str,
    /// Side B's model name.
    pub model_b: &'a str,
    /// The judgment.
    pub winner: Winner,
    /// Whether the battle leaked a model identity (then it does not count).
    pub leaked: bool,
    /// The battle's category tags.
    pub categories: &'a [String],
}

/// The cached leaderboard of this instance.
pub struct LeaderboardCache {
    counts: Mutex<Counts>,
    anomaly: std::sync::Mutex<AnomalyDetector>,
    provisional_below_votes: u64,
    max_age: Duration,
}

/// A computed leaderboard with the models' registry details.
pub struct LiveLeaderboard {
    /// The ratings.
    pub ratings: Arc<Leaderboard>,
    /// Registry details by model name.
    pub models: HashMap<String, Model>,
}

impl LeaderboardCache {
    /// An empty cache; it loads from the database on first use.
    pub fn new(provisional_below_votes: u64, max_age: Duration) -> Self {
        Self {
            counts: Mutex::new(Counts::default()),
            anomaly: std::sync::Mutex::new(AnomalyDetector::new(0.3, rand::random())),
            provisional_below_votes,
            max_age,
        }
    }

    async fn fresh<'a>(
        &'a self,
        state: &AppState,
    ) -> ApiResult<tokio::sync::MutexGuard<'a, Counts>> {
        let mut counts = self.counts.lock().await;
        let full_due = counts
            .full_at
            .is_none_or(|at| at.elapsed() >= FULL_RELOAD_EVERY);
        let sync_due = counts
            .synced_at
            .is_none_or(|at| at.elapsed() >= self.max_age);
        if full_due {
            let mut next = Counts::default();
            let mut votes = state.storage().counted_votes(VoteFilter::default());
            while let Some(vote) = votes.try_next().await? {
                next.add_once(
                    vote.id,
                    &vote.model_a,
                    &vote.model_b,
                    vote.winner,
                    &vote.categories,
                );
            }
            next.prune_recent();
            // Keep the previous fits as warm starts.
            next.fits = std::mem::take(&mut counts.fits);
            next.full_at = Some(Instant::now());
            next.synced_at = next.full_at;
            *counts = next;
        } else if sync_due {
            let filter = VoteFilter {
                after_id: Some(counts.last_id - CATCH_UP_WINDOW),
                ..VoteFilter::default()
            };
            let mut votes = state.storage().counted_votes(filter);
            while let Some(vote) = votes.try_next().await? {
                counts.add_once(
                    vote.id,
                    &vote.model_a,
                    &vote.model_b,
                    vote.winner,
                    &vote.categories,
                );
            }
            counts.prune_recent();
            counts.synced_at = Some(Instant::now());
        }
        Ok(counts)
    }

    /// The leaderboard for a method and optional category.
    pub async fn get(
        &self,
        state: &AppState,
        method: RatingMethod,
        category: Option<&str>,
    ) -> ApiResult<LiveLeaderboard> {
        let ratings = {
            let mut counts = self.fresh(state).await?;
            let category = match category {
                None => None,
                Some(name) => match counts.category_index.get(name) {
                    Some(&c) => Some(c),
                    None => return Err(ApiError::NotFound("category")),
                },
            };
            match counts.computed.get(&(method, category)) {
                Some(done) => Arc::clone(done),
                None => {
                    let computed = cpu_bound(|| self.compute(&mut counts, method, category))?;
                    let computed = Arc::new(computed);
                    counts
                        .computed
                        .insert((method, category), Arc::clone(&computed));
                    computed
                }
            }
        };
        let models = state
            .registry()
            .all(state.storage())
            .await?
            .iter()
            .map(|m| (m.name.clone(), m.clone()))
            .collect();
        Ok(LiveLeaderboard { ratings, models })
    }

    fn compute(
        &self,
        counts: &mut Counts,
        method: RatingMethod,
        category: Option<u32>,
    ) -> ApiResult<Leaderboard> {
        match method {
            RatingMethod::Bt => {
                let empty = Comparisons::new();
                let comparisons = match category {
                    None => &counts.overall,
                    Some(c) => counts.by_category.get(&c).unwrap_or(&empty),
                };
                let options = BtOptions {
                    provisional_below_votes: self.provisional_below_votes,
                    ..BtOptions::default()
                };
                let (fit, board) =
                    fit_bradley_terry(comparisons, &options, counts.fits.get(&category))
                        .map_err(ApiError::internal)?;
                counts.fits.insert(category, fit);
                Ok(board)
            }
            RatingMethod::Elo => {
                let names = &counts.names;
                let battles = counts
                    .votes
                    .iter()
                    .filter(|v| category.is_none_or(|c| v.categories.contains(&c)))
                    .map(|v| {
                        (
                            names[v.a as usize].as_str(),
                            names[v.b as usize].as_str(),
                            v.winner,
                        )
                    });
                let options = EloOptions {
                    provisional_below_votes: self.provisional_below_votes,
                    ..EloOptions::default()
                };
                Ok(online_elo(battles, &options))
            }
        }
    }

    /// The overall Bradley–Terry fit with its counts, for matrices and
    /// active sampling.
    pub async fn with_fit<T>(
        &self,
        state: &AppState,
        f: impl FnOnce(&Comparisons, Option<&BtFit>) -> T,
    ) -> ApiResult<T> {
        self.get(state, RatingMethod::Bt, None).await?;
        let counts = self.counts.lock().await;
        Ok(cpu_bound(|| f(&counts.overall, counts.fits.get(&None))))
    }

    /// Every category with at least one counted vote.
    pub async fn categories(&self, state: &AppState) -> ApiResult<Vec<String>> {
        let counts = self.fresh(state).await?;
        let mut names = counts.category_names.clone();
        names.sort();
        Ok(names)
    }

    /// Folds a new vote in and runs the anomalous-voter test.
    pub async fn on_vote(&self, state: &AppState, vote: CastVote<'_>) {
        let CastVote {
            id,
            voter,
            model_a,
            model_b,
            winner,
            leaked,
            categories,
        } = vote;
        if leaked {
            return;
        }
        let flagged = {
            let mut detector = self
                .anomaly
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let was = detector.is_flagged(voter);
            detector.observe(voter, model_a, model_b, winner) && !was
        };
        let mut counts = self.counts.lock().await;
        if flagged {
            tracing::warn!(voter_hash = %voter, "voter flagged as anomalous; their votes stop counting");
            if let Err(error) = state
                .storage()
                .flag_voter(
                    voter,
                    "anomalous voting pattern (Fisher test, paper §5.1)",
                    now_ms(),
                )
                .await
            {
                tracing::error!(%error, "could not flag a voter");
            }
            // Their earlier votes stop counting too: rebuild from scratch.
            counts.full_at = None;
        } else if counts.full_at.is_some() {
            counts.add_once(id, model_a, model_b, winner, categories);
        }
    }

    /// Pair probabilities for active sampling, over `candidates`' pairs.
    pub async fn active_pairs(
        &self,
        state: &AppState,
        candidates: &[Model],
    ) -> ApiResult<Vec<(usize, usize, f64)>> {
        let mut index = Vec::new();
        let mut names = Vec::new();
        let mut weights = Vec::new();
        for i in 0..candidates.len() {
            for j in i + 1..candidates.len() {
                index.push((i, j));
                names.push((candidates[i].name.clone(), candidates[j].name.clone()));
                weights.push(candidates[i].weight * candidates[j].weight);
            }
        }
        let probabilities = self
            .with_fit(state, |comparisons, fit| match fit {
                Some(fit) => arena_rating::active_pair_probabilities(
                    fit,
                    comparisons,
                    &names,
                    &weights,
                    0.05,
                ),
                None => weights.clone(),
            })
            .await?;
        Ok(index
            .into_iter()
            .zip(probabilities)
            .map(|((i, j), p)| (i, j, p))
            .collect())
    }
}

/// Runs CPU-bound rating work (a refit takes milliseconds; active
/// sampling's covariance several) without holding up the other tasks queued
/// on this worker thread, such as answers being streamed: on the
/// multi-threaded runtime the worker first hands its queue to another
/// thread (`block_in_place`). Elsewhere (a current-thread runtime, where
/// that is not allowed) the work simply runs inline.
fn cpu_bound<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
