//! Aggregated vote counts: the only input the Bradley–Terry fit needs.
//!
//! Votes are folded once into per-(ordered pair, outcome) cells, so every fit
//! costs O(model pairs) instead of O(votes), and a new vote updates one cell.

use arena_core::Winner;

use crate::error::RatingError;
use crate::hash::FastMap;

/// Outcome values in cell order: side A won, a tie of either kind, side B won.
pub(crate) const OUTCOME_VALUES: [f64; 3] = [1.0, 0.5, 0.0];

/// The cell slot of an outcome (see [`OUTCOME_VALUES`]).
pub(crate) fn outcome_slot(winner: Winner) -> usize {
    match winner {
        Winner::ModelA => 0,
        Winner::Tie | Winner::BothBad => 1,
        Winner::ModelB => 2,
    }
}

/// Summed votes for one ordered pair, split by outcome value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Cell {
    /// Number of votes per outcome slot.
    pub(crate) count: [u64; 3],
    /// Summed weight per outcome slot.
    pub(crate) weight: [f64; 3],
    /// Summed squared weight per outcome slot (for the sandwich's G).
    pub(crate) weight_sq: [f64; 3],
}

impl Cell {
    /// The same votes seen from the other side.
    fn swapped(self) -> Cell {
        let flip = |[a, t, b]: [f64; 3]| [b, t, a];
        let [a, t, b] = self.count;
        Cell {
            count: [b, t, a],
            weight: flip(self.weight),
            weight_sq: flip(self.weight_sq),
        }
    }

    fn merge(&mut self, other: &Cell) {
        for k in 0..3 {
            self.count[k] += other.count[k];
            self.weight[k] += other.weight[k];
            self.weight_sq[k] += other.weight_sq[k];
        }
    }

    /// Total number of votes.
    pub(crate) fn votes(&self) -> u64 {
        self.count.iter().sum()
    }
}

/// A model's number in one [`Comparisons`], from [`Comparisons::model`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId(u32);

/// Aggregated comparisons: per ordered model pair and outcome value the
/// summed weight (and vote count), plus per-model vote counts.
///
/// Models are numbered in order of first appearance; every fit reports its
/// models in this order.
#[derive(Debug, Clone)]
pub struct Comparisons {
    names: Vec<String>,
    index: FastMap<String, usize>,
    /// Per unordered pair, in order of first vote: the votes with the
    /// lower-numbered model on side A and those with it on side B.
    pairs: Vec<PairCells>,
    pair_index: FastMap<(u32, u32), u32>,
    votes: Vec<u64>,
    /// Per model, against other models only: summed score (1, ½, 0) and count.
    score: Vec<f64>,
    battles: Vec<u64>,
    total_votes: u64,
    total_weight: f64,
    unit_weights: bool,
    ignored: u64,
}

impl Default for Comparisons {
    fn default() -> Self {
        Comparisons {
            names: Vec::new(),
            index: FastMap::default(),
            pairs: Vec::new(),
            pair_index: FastMap::default(),
            votes: Vec::new(),
            score: Vec::new(),
            battles: Vec::new(),
            total_votes: 0,
            total_weight: 0.0,
            unit_weights: true,
            ignored: 0,
        }
    }
}

impl Comparisons {
    /// An empty set of comparisons.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one vote with the given weight (1.0 for a plain vote).
    ///
    /// A battle of a model against itself is legal; it counts as a vote but
    /// carries no information for Bradley–Terry. A weight that is negative,
    /// infinite or NaN is not recorded and is counted in
    /// [`Comparisons::ignored_votes`]; use [`Comparisons::try_add`] to get an
    /// error instead.
    pub fn add(&mut self, model_a: &str, model_b: &str, winner: Winner, weight: f64) {
        if self.try_add(model_a, model_b, winner, weight).is_err() {
            self.ignored += 1;
        }
    }

    /// Adds one vote, refusing a weight that is negative, infinite or NaN.
    pub fn try_add(
        &mut self,
        model_a: &str,
        model_b: &str,
        winner: Winner,
        weight: f64,
    ) -> Result<(), RatingError> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(RatingError::InvalidWeight(weight));
        }
        let (a, b) = (self.intern(model_a), self.intern(model_b));
        let k = self.pair_slot(a, b);
        self.record(k, a, b, winner, 1, weight, weight * weight);
        // Exact comparison on purpose: "unweighted" means every weight is 1.
        #[allow(clippy::float_cmp)]
        if weight != 1.0 {
            self.unit_weights = false;
        }
        Ok(())
    }

    /// Registers a model (when new) and returns its id, for
    /// [`Comparisons::add_counts`]. Models are numbered in order of first
    /// appearance, whether they come through here or with a vote.
    pub fn model(&mut self, name: &str) -> ModelId {
        ModelId(self.intern(name) as u32)
    }

    /// Adds plain (unit-weight) votes of one pair and seating, given as
    /// (outcome, number of votes): the same result as that many calls of
    /// [`Comparisons::add`] with weight 1, at the cost of one.
    ///
    /// Readers that tally a file before fitting (the offline leaderboard)
    /// hand over their per-cell totals through this. Ids come from
    /// [`Comparisons::model`] on this same value; an id it did not hand
    /// out is not recorded and counts in [`Comparisons::ignored_votes`].
    pub fn add_counts(&mut self, a: ModelId, b: ModelId, counts: &[(Winner, u64)]) {
        let (a, b) = (a.0 as usize, b.0 as usize);
        if a >= self.names.len() || b >= self.names.len() {
            self.ignored += counts.iter().map(|&(_, n)| n).sum::<u64>();
            return;
        }
        let mut pair = None;
        for &(winner, count) in counts {
            if count == 0 {
                continue;
            }
            let k = *pair.get_or_insert_with(|| self.pair_slot(a, b));
            // Unit weights: the summed weight and squared weight equal the count.
            let total = count as f64;
            self.record(k, a, b, winner, count, total, total);
        }
    }

    /// The position in `pairs` of the unordered pair {a, b}, created when new.
    fn pair_slot(&mut self, a: usize, b: usize) -> usize {
        let (lo, hi) = (a.min(b), a.max(b));
        let key = (lo as u32, hi as u32);
        match self.pair_index.get(&key) {
            Some(&k) => k as usize,
            None => {
                self.pair_index.insert(key, self.pairs.len() as u32);
                self.pairs.push(PairCells {
                    lo,
                    hi,
                    cells: [Cell::default(); 2],
                });
                self.pairs.len() - 1
            }
        }
    }

    /// Records `count` votes of one cell (pair slot `k`, models `a` and `b`
    /// by index) with their summed weight and summed squared weight.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        k: usize,
        a: usize,
        b: usize,
        winner: Winner,
        count: u64,
        weight: f64,
        weight_sq: f64,
    ) {
        let slot = outcome_slot(winner);
        let lo = self.pairs[k].lo;
        let cell = &mut self.pairs[k].cells[usize::from(a != lo)];
        cell.count[slot] += count;
        cell.weight[slot] += weight;
        cell.weight_sq[slot] += weight_sq;
        self.votes[a] += count;
        if a != b {
            self.votes[b] += count;
            let s = winner.score_a() * count as f64;
            self.score[a] += s;
            self.score[b] += count as f64 - s;
            self.battles[a] += count;
            self.battles[b] += count;
        }
        self.total_votes += count;
        self.total_weight += weight;
    }

    fn intern(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        self.votes.push(0);
        self.score.push(0.0);
        self.battles.push(0);
        i
    }

    /// Model names in order of first appearance.
    pub fn model_names(&self) -> &[String] {
        &self.names
    }

    /// The position of a model in [`Comparisons::model_names`].
    pub fn model_index(&self, model: &str) -> Option<usize> {
        self.index.get(model).copied()
    }

    /// Summed weight of all recorded votes (N in the methodology).
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// Number of recorded votes.
    pub fn total_votes(&self) -> u64 {
        self.total_votes
    }

    /// Votes involving `model` (a self-battle counts once); 0 when unknown.
    pub fn votes(&self, model: &str) -> u64 {
        self.model_index(model).map_or(0, |i| self.votes[i])
    }

    /// Votes refused by [`Comparisons::add`] for an invalid weight.
    pub fn ignored_votes(&self) -> u64 {
        self.ignored
    }

    /// Whether every recorded weight is exactly 1 (true when empty).
    pub fn is_unweighted(&self) -> bool {
        self.unit_weights
    }

    /// Votes between two models, in either seating.
    pub fn pair_votes(&self, model_a: &str, model_b: &str) -> u64 {
        let (Some(a), Some(b)) = (self.model_index(model_a), self.model_index(model_b)) else {
            return 0;
        };
        self.pair_votes_at(a, b)
    }

    /// [`Comparisons::pair_votes`] by model index.
    pub(crate) fn pair_votes_at(&self, a: usize, b: usize) -> u64 {
        self.pair(a, b)
            .map_or(0, |p| p.cells[0].votes() + p.cells[1].votes())
    }

    /// A model's win rate against other models: (wins + ties/2) / battles,
    /// by vote count; `None` without battles against another model.
    pub fn win_rate(&self, model: &str) -> Option<f64> {
        let i = self.model_index(model)?;
        self.win_rate_at(i)
    }

    pub(crate) fn win_rate_at(&self, i: usize) -> Option<f64> {
        (self.battles[i] > 0).then(|| self.score[i] / self.battles[i] as f64)
    }

    pub(crate) fn votes_at(&self, i: usize) -> u64 {
        self.votes[i]
    }

    fn pair(&self, a: usize, b: usize) -> Option<&PairCells> {
        let key = (a.min(b) as u32, a.max(b) as u32);
        self.pair_index.get(&key).map(|&k| &self.pairs[k as usize])
    }

    /// The votes with `a` on side A and `b` on side B, by index.
    pub(crate) fn cell(&self, a: usize, b: usize) -> Option<&Cell> {
        let p = self.pair(a, b)?;
        Some(&p.cells[usize::from(a != p.lo)])
    }

    /// The comparisons folded into unordered pairs, for fitting, in order
    /// of each pair's first vote (deterministic for a given vote sequence).
    pub(crate) fn pair_table(&self) -> PairTable {
        let mut pairs = Vec::with_capacity(self.pairs.len());
        let mut self_votes = 0;
        let mut self_weight = 0.0;
        for p in &self.pairs {
            if p.lo == p.hi {
                // Both seatings of a self-battle land in cells[0].
                self_votes += p.cells[0].votes();
                self_weight += p.cells[0].weight.iter().sum::<f64>();
            } else {
                let mut cell = p.cells[0];
                cell.merge(&p.cells[1].swapped());
                pairs.push(Pair {
                    i: p.lo,
                    j: p.hi,
                    cell,
                });
            }
        }
        PairTable {
            n: self.names.len(),
            pairs,
            self_votes,
            self_weight,
            total_votes: self.total_votes,
            total_weight: self.total_weight,
            unit_weights: self.unit_weights,
        }
    }
}

/// The two seatings of one unordered pair.
#[derive(Debug, Clone, Copy)]
struct PairCells {
    lo: usize,
    hi: usize,
    /// `[lo on side A, hi on side A]`.
    cells: [Cell; 2],
}

/// All votes between models i < j, outcomes seen from i's side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pair {
    pub(crate) i: usize,
    pub(crate) j: usize,
    pub(crate) cell: Cell,
}

impl Pair {
    /// The pair's summed weight and i's weighted score, the two numbers the
    /// Bradley–Terry likelihood depends on.
    pub(crate) fn fit_pair(&self) -> FitPair {
        let w = &self.cell.weight;
        FitPair {
            i: self.i,
            j: self.j,
            weight: w[0] + w[1] + w[2],
            score: w[0] + 0.5 * w[1],
        }
    }
}

/// The sufficient statistics of one unordered pair for the BT likelihood.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FitPair {
    pub(crate) i: usize,
    pub(crate) j: usize,
    /// Summed weight W of the pair's votes.
    pub(crate) weight: f64,
    /// Σ w·y from i's side (S ≤ W).
    pub(crate) score: f64,
}

/// Comparisons folded into unordered pairs i < j.
#[derive(Debug, Clone)]
pub(crate) struct PairTable {
    pub(crate) n: usize,
    pub(crate) pairs: Vec<Pair>,
    pub(crate) self_votes: u64,
    pub(crate) self_weight: f64,
    pub(crate) total_votes: u64,
    pub(crate) total_weight: f64,
    pub(crate) unit_weights: bool,
}

impl PairTable {
    pub(crate) fn fit_pairs(&self) -> Vec<FitPair> {
        self.pairs.iter().map(Pair::fit_pair).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_votes_per_model_and_in_total() {
        let mut c = Comparisons::new();
        c.add("x", "y", Winner::ModelA, 1.0);
        c.add("y", "x", Winner::Tie, 1.0);
        c.add("x", "x", Winner::ModelB, 1.0);
        c.add("z", "y", Winner::BothBad, 2.0);
        assert_eq!(c.model_names(), ["x", "y", "z"]);
        assert_eq!(c.total_votes(), 4);
        assert_eq!(c.total_weight(), 5.0);
        assert_eq!(c.votes("x"), 3);
        assert_eq!(c.votes("y"), 3);
        assert_eq!(c.votes("nobody"), 0);
        assert_eq!(c.pair_votes("x", "y"), 2);
        assert_eq!(c.pair_votes("y", "x"), 2);
        assert_eq!(c.pair_votes("x", "x"), 1);
        assert!(!c.is_unweighted());
        // x: a win and a tie against y; the self-battle does not count.
        assert_eq!(c.win_rate("x"), Some(0.75));
        assert_eq!(c.win_rate("z"), Some(0.5));
    }

    #[test]
    fn counted_votes_equal_repeated_single_votes() {
        let mut one_by_one = Comparisons::new();
        let mut counted = Comparisons::new();
        for (a, b, winner, n) in [
            ("x", "y", Winner::ModelA, 3),
            ("y", "x", Winner::BothBad, 2),
            ("x", "x", Winner::Tie, 1),
            ("z", "x", Winner::ModelB, 0),
            ("z", "y", Winner::ModelB, 4),
        ] {
            for _ in 0..n {
                one_by_one.add(a, b, winner, 1.0);
            }
            let (a, b) = (counted.model(a), counted.model(b));
            counted.add_counts(a, b, &[(winner, n)]);
        }
        assert_eq!(counted.model_names(), one_by_one.model_names());
        assert_eq!(counted.total_votes(), one_by_one.total_votes());
        assert_eq!(counted.total_weight(), one_by_one.total_weight());
        assert!(counted.is_unweighted());
        for model in ["x", "y", "z"] {
            assert_eq!(counted.votes(model), one_by_one.votes(model));
            assert_eq!(counted.win_rate(model), one_by_one.win_rate(model));
        }
        let (c, o) = (counted.pair_table(), one_by_one.pair_table());
        assert_eq!(c.pairs.len(), o.pairs.len());
        for (c, o) in c.pairs.iter().zip(&o.pairs) {
            assert_eq!(c.cell, o.cell);
        }
    }

    #[test]
    fn folds_ordered_cells_into_unordered_pairs() {
        let mut c = Comparisons::new();
        c.add("x", "y", Winner::ModelA, 1.0);
        c.add("y", "x", Winner::ModelA, 1.0);
        c.add("y", "x", Winner::Tie, 1.0);
        c.add("y", "y", Winner::Tie, 1.0);
        let t = c.pair_table();
        assert_eq!(t.pairs.len(), 1);
        assert_eq!(t.pairs[0].cell.count, [1, 1, 1]);
        assert_eq!(t.self_votes, 1);
        let fp = t.pairs[0].fit_pair();
        assert_eq!((fp.weight, fp.score), (3.0, 1.5));
    }

    #[test]
    fn refuses_invalid_weights() {
        let mut c = Comparisons::new();
        for w in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(c.try_add("a", "b", Winner::Tie, w).is_err());
            c.add("a", "b", Winner::Tie, w);
        }
        assert_eq!(c.total_votes(), 0);
        assert_eq!(c.ignored_votes(), 3);
        assert!(c.is_unweighted());
    }
}
