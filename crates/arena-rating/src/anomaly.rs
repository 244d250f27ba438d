//! Anomalous voters (Chiang et al. 2024, §5.1): an online test of whether a
//! voter's choices are surprising given everyone else's on the same pairs.
//!
//! For a voter's i-th vote on the ordered pair a with outcome H′ (side A's
//! score: 1, ½, 0), `p_i = (1 + #{h ∈ history(a) : h ≥ H′}) / (|history(a)| + 1)`
//! against all earlier votes on that pair. Fisher's method combines them:
//! `M_j = −2 Σ_{i≤j} ln p_i ~ χ²_{2j}` under the null. The voter is flagged
//! when `M_j ≥ χ²_{2j, 1−α/5}` at one of 5 checkpoints j drawn at random in
//! [1, 100] (α/5: Bonferroni over the checkpoints). A flag is permanent.
//!
//! The pair is the ordered (model_a, model_b) as shown, because sides are
//! what a careless or malicious voter acts on (e.g. always clicking "A").
//! Checkpoints are derived from the seed and the voter id alone, so they do
//! not depend on arrival order. Flagged voters' votes are kept; excluding
//! them from leaderboards is the caller's decision.

use std::collections::HashMap;

use arena_core::Winner;
use rand::RngExt;

use crate::bootstrap::mix_seed;
use crate::counts::outcome_slot;
use crate::random::FastRng;

/// Number of checkpoints per voter.
const CHECKPOINTS: usize = 5;
/// Checkpoints are drawn in [1, LAST_CHECKPOINT].
const LAST_CHECKPOINT: u32 = 100;

#[derive(Debug, Clone)]
struct Voter {
    votes: u32,
    fisher: f64,
    checkpoints: [u32; CHECKPOINTS],
    flagged: bool,
}

/// Online anomalous-voter detector; a pure state machine.
#[derive(Debug, Clone)]
pub struct AnomalyDetector {
    alpha: f64,
    seed: u64,
    /// Per ordered pair: how many earlier votes had each outcome slot
    /// (side A won, tie, side B won).
    history: HashMap<(String, String), [u64; 3]>,
    voters: HashMap<String, Voter>,
}

impl AnomalyDetector {
    /// A detector with significance level `alpha` (e.g. 0.01) and a seed
    /// for the checkpoints.
    pub fn new(alpha: f64, seed: u64) -> Self {
        AnomalyDetector {
            alpha,
            seed,
            history: HashMap::new(),
            voters: HashMap::new(),
        }
    }

    fn checkpoints(&self, voter: &str) -> [u32; CHECKPOINTS] {
        // FNV-1a of the voter id, mixed with the seed.
        let h = voter.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut rng = FastRng::seed_from_u64(mix_seed(self.seed, h));
        let mut cps = [0; CHECKPOINTS];
        for c in &mut cps {
            *c = rng.random_range(1..=LAST_CHECKPOINT);
        }
        cps
    }

    /// Records one vote and returns whether the voter is (now) flagged.
    pub fn observe(&mut self, voter: &str, model_a: &str, model_b: &str, winner: Winner) -> bool {
        let slot = outcome_slot(winner);
        let key = (model_a.to_owned(), model_b.to_owned());
        let counts = self.history.entry(key).or_insert([0; 3]);
        // Slots are ordered by decreasing outcome: h ≥ H′ ⟺ slot(h) ≤ slot(H′).
        let at_least: u64 = counts[..=slot].iter().sum();
        let seen: u64 = counts.iter().sum();
        let p = (1 + at_least) as f64 / (seen + 1) as f64;
        counts[slot] += 1;

        if !self.voters.contains_key(voter) {
            let v = Voter {
                votes: 0,
                fisher: 0.0,
                checkpoints: self.checkpoints(voter),
                flagged: false,
            };
            self.voters.insert(voter.to_owned(), v);
        }
        let alpha = self.alpha;
        let Some(v) = self.voters.get_mut(voter) else {
            return false;
        };
        v.votes = v.votes.saturating_add(1);
        v.fisher += -2.0 * p.ln();
        if !v.flagged && v.checkpoints.contains(&v.votes) {
            let dof_half = v.votes;
            v.flagged = chi_square_even_sf(v.fisher, dof_half) <= alpha / CHECKPOINTS as f64;
        }
        v.flagged
    }

    /// Whether the voter has been flagged.
    pub fn is_flagged(&self, voter: &str) -> bool {
        self.voters.get(voter).is_some_and(|v| v.flagged)
    }

    /// Votes observed from a voter.
    pub fn votes(&self, voter: &str) -> u32 {
        self.voters.get(voter).map_or(0, |v| v.votes)
    }
}

/// P(X ≥ x) for X ~ χ² with 2k degrees of freedom, in closed form:
/// `e^{−x/2} Σ_{i<k} (x/2)^i / i!`, summed in log space so that it neither
/// overflows nor underflows before it is truly negligible.
/// Comparing it with α/5 is the same as comparing x with the quantile.
pub(crate) fn chi_square_even_sf(x: f64, k: u32) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let half = x / 2.0;
    let ln_half = half.ln();
    let mut ln_term = -half; // i = 0
    let mut max = ln_term;
    let mut terms = Vec::with_capacity(k as usize);
    for i in 0..k {
        if i > 0 {
            ln_term += ln_half - f64::from(i).ln();
        }
        terms.push(ln_term);
        max = max.max(ln_term);
    }
    let sum: f64 = terms.iter().map(|t| (t - max).exp()).sum();
    (max + sum.ln()).exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_survival_matches_known_values() {
        // (x, dof/2, P(X ≥ x)) from standard tables.
        let cases = [
            (5.991_464_547, 1, 0.05),
            (9.487_729_037, 2, 0.05),
            (37.566_234_82, 10, 0.01),
            (0.0, 3, 1.0),
        ];
        for (x, k, p) in cases {
            assert!((chi_square_even_sf(x, k) - p).abs() < 1e-8, "{x} {k}");
        }
        assert!(chi_square_even_sf(5000.0, 100) < 1e-300);
    }

    #[test]
    fn flags_a_voter_who_always_contradicts_the_crowd() {
        let mut d = AnomalyDetector::new(0.01, 42);
        // The crowd: B beats A on this seating 9 times in 10.
        for k in 0..2000 {
            let w = if k % 10 == 0 {
                Winner::ModelA
            } else {
                Winner::ModelB
            };
            d.observe(&format!("crowd{k}"), "strong", "weak", w.swapped());
            d.observe(&format!("crowd{k}"), "weak", "strong", w);
        }
        let mut flagged = false;
        for _ in 0..100 {
            flagged = d.observe("troll", "weak", "strong", Winner::ModelA);
        }
        assert!(flagged);
        assert!(d.is_flagged("troll"));
        assert!(!d.is_flagged("crowd7"));
        assert_eq!(d.votes("troll"), 100);
    }

    #[test]
    fn rarely_flags_voters_who_vote_like_the_crowd() {
        let mut d = AnomalyDetector::new(0.01, 7);
        let mut rng = FastRng::seed_from_u64(3);
        let mut flagged = 0;
        for v in 0..200 {
            for _ in 0..100 {
                let w = if rng.random::<f64>() < 0.7 {
                    Winner::ModelA
                } else {
                    Winner::ModelB
                };
                d.observe(&format!("v{v}"), "x", "y", w);
            }
            flagged += usize::from(d.is_flagged(&format!("v{v}")));
        }
        assert!(flagged <= 8, "{flagged} of 200 flagged");
    }
}
