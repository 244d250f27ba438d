//! Aggregated vote counts: the only input the Bradley–Terry fit needs.
//!
//! Votes are folded once into per-(ordered pair, outcome) cells, so every fit
//! costs O(model pairs) instead of O(votes), and a new vote updates one cell.

use std::collections::HashMap;

use arena_core::Winner;

use crate::error::RatingError;

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

/// Aggregated comparisons: per ordered model pair and outcome value the
/// summed weight (and vote count), plus per-model vote counts.
///
/// Models are numbered in order of first appearance; every fit reports its
/// models in this order.
#[derive(Debug, Clone)]
pub struct Comparisons {
    names: Vec<String>,
    index: HashMap<String, usize>,
    cells: HashMap<(usize, usize), Cell>,
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
            index: HashMap::new(),
            cells: HashMap::new(),
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
        let a = self.intern(model_a);
        let b = self.intern(model_b);
        let slot = outcome_slot(winner);
        let cell = self.cells.entry((a, b)).or_default();
        cell.count[slot] += 1;
        cell.weight[slot] += weight;
        cell.weight_sq[slot] += weight * weight;
        self.votes[a] += 1;
        if a != b {
            self.votes[b] += 1;
            let s = winner.score_a();
            self.score[a] += s;
            self.score[b] += 1.0 - s;
            self.battles[a] += 1;
            self.battles[b] += 1;
        }
        self.total_votes += 1;
        self.total_weight += weight;
        // Exact comparison on purpose: "unweighted" means every weight is 1.
        #[allow(clippy::float_cmp)]
        if weight != 1.0 {
            self.unit_weights = false;
        }
        Ok(())
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
        let fwd = self.cells.get(&(a, b)).map_or(0, Cell::votes);
        if a == b {
            return fwd;
        }
        fwd + self.cells.get(&(b, a)).map_or(0, Cell::votes)
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

    /// The cell for the ordered pair (a, b) by index.
    pub(crate) fn cell(&self, a: usize, b: usize) -> Option<&Cell> {
        self.cells.get(&(a, b))
    }

    /// The comparisons folded into unordered pairs, sorted, for fitting.
    pub(crate) fn pair_table(&self) -> PairTable {
        let mut entries: Vec<(usize, usize, Cell)> = Vec::with_capacity(self.cells.len());
        let mut self_votes = 0;
        let mut self_weight = 0.0;
        for (&(a, b), cell) in &self.cells {
            if a == b {
                self_votes += cell.votes();
                self_weight += cell.weight.iter().sum::<f64>();
            } else if a < b {
                entries.push((a, b, *cell));
            } else {
                entries.push((b, a, cell.swapped()));
            }
        }
        // Sorting makes every later floating-point sum, and every seeded
        // bootstrap draw, independent of hash-map iteration order.
        entries.sort_unstable_by_key(|&(i, j, _)| (i, j));
        let mut pairs: Vec<Pair> = Vec::with_capacity(entries.len());
        for (i, j, cell) in entries {
            match pairs.last_mut() {
                Some(last) if last.i == i && last.j == j => last.cell.merge(&cell),
                _ => pairs.push(Pair { i, j, cell }),
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
