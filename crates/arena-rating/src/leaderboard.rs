//! The leaderboard every method produces, and the ranking rules.

/// Rating of the average model on the arena scale.
pub const BASE_RATING: f64 = 1000.0;

/// Arena points per unit of log-odds: 400 / ln 10, so 400 points = ×10 odds.
pub const POINTS_PER_LOGIT: f64 = 400.0 / std::f64::consts::LN_10;

/// Converts a log-strength θ to the arena scale (before any anchor shift).
pub fn theta_to_rating(theta: f64) -> f64 {
    BASE_RATING + theta * POINTS_PER_LOGIT
}

/// Which computation produced a leaderboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// Bradley–Terry maximum likelihood on all votes.
    BradleyTerry,
    /// FastChat's online Elo, votes replayed in stored order.
    Elo,
    /// Contextual Bradley–Terry with the answers' style as covariates.
    StyleControlled,
}

impl Method {
    /// Short name used in URLs and files: `bt`, `elo`, `style`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::BradleyTerry => "bt",
            Method::Elo => "elo",
            Method::StyleControlled => "style",
        }
    }
}

/// A ranked list of models, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    /// The method that produced the ratings.
    pub method: Method,
    /// Number of votes the ratings were computed from.
    pub total_votes: u64,
    /// The models, sorted best first.
    pub models: Vec<RatedModel>,
}

impl Leaderboard {
    /// The entry for a model, if present.
    pub fn get(&self, name: &str) -> Option<&RatedModel> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// One leaderboard row.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedModel {
    /// Model name.
    pub name: String,
    /// Rating on the arena scale.
    pub rating: f64,
    /// Lower bound of the confidence interval (same scale).
    pub ci_lower: f64,
    /// Upper bound of the confidence interval (same scale).
    pub ci_upper: f64,
    /// Votes involving the model (a self-battle counts once).
    pub votes: u64,
    /// (wins + ties/2) / battles against other models; `None` without any.
    pub win_rate: Option<f64>,
    /// 1-based position in the plain order by rating.
    pub rank: usize,
    /// FastChat's "Rank (UB)": 1 + the number of models whose `ci_lower`
    /// lies above this model's `ci_upper`.
    pub rank_ub: usize,
    /// Too few votes, or a rating that exists only thanks to the ridge
    /// (see the crate documentation): show it, but do not trust it yet.
    pub provisional: bool,
}

/// A row before ranking.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) rating: f64,
    pub(crate) ci_lower: f64,
    pub(crate) ci_upper: f64,
    pub(crate) votes: u64,
    pub(crate) win_rate: Option<f64>,
    pub(crate) provisional: bool,
}

/// Sorts rows best first (ties broken by name, for a stable display) and
/// assigns `rank` and `rank_ub`.
pub(crate) fn rank_rows(method: Method, total_votes: u64, mut rows: Vec<Row>) -> Leaderboard {
    rows.sort_by(|x, y| {
        y.rating
            .total_cmp(&x.rating)
            .then_with(|| x.name.cmp(&y.name))
    });
    // rank_ub by counting lower bounds above each upper bound: sort the lower
    // bounds once and binary-search, O(n log n).
    let mut lowers: Vec<f64> = rows.iter().map(|r| r.ci_lower).collect();
    lowers.sort_by(f64::total_cmp);
    let models = rows
        .into_iter()
        .enumerate()
        .map(|(pos, r)| {
            let above = lowers.len() - lowers.partition_point(|&l| l <= r.ci_upper);
            RatedModel {
                rank: pos + 1,
                rank_ub: 1 + above,
                name: r.name,
                rating: r.rating,
                ci_lower: r.ci_lower,
                ci_upper: r.ci_upper,
                votes: r.votes,
                win_rate: r.win_rate,
                provisional: r.provisional,
            }
        })
        .collect();
    Leaderboard {
        method,
        total_votes,
        models,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, rating: f64, half: f64) -> Row {
        Row {
            name: name.into(),
            rating,
            ci_lower: rating - half,
            ci_upper: rating + half,
            votes: 1,
            win_rate: None,
            provisional: false,
        }
    }

    #[test]
    fn ranks_best_first_with_upper_bound_ranks() {
        let lb = rank_rows(
            Method::BradleyTerry,
            3,
            vec![
                row("c", 900.0, 10.0),
                row("a", 1100.0, 10.0),
                row("b", 1095.0, 10.0),
                row("d", 1095.0, 500.0),
            ],
        );
        let got: Vec<(&str, usize, usize)> = lb
            .models
            .iter()
            .map(|m| (m.name.as_str(), m.rank, m.rank_ub))
            .collect();
        assert_eq!(got, [("a", 1, 1), ("b", 2, 1), ("d", 3, 1), ("c", 4, 3)]);
    }

    #[test]
    fn scale_is_400_points_per_tenfold_odds() {
        let ten_to_one = 10f64.ln();
        assert!((theta_to_rating(ten_to_one) - 1400.0).abs() < 1e-9);
        assert_eq!(theta_to_rating(0.0), 1000.0);
    }
}
