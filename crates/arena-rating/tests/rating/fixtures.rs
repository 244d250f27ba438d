//! Cross-checks against the reference implementations, on fixtures written
//! by `scripts/rating-fixtures/generate.py` (arena-rank 0.1.1 for
//! Bradley–Terry, FastChat's `compute_elo` for Elo).

use std::collections::HashMap;
use std::path::PathBuf;

use arena_core::Winner;
use arena_rating::{BtOptions, Comparisons, EloOptions, fit_bradley_terry, online_elo};

const DATASETS: [&str; 4] = ["uniform", "skewed", "ties", "sparse"];

/// Models with at least this many votes count as well-voted.
const WELL_VOTED: u64 = 100;

struct Expected {
    votes: u64,
    bt: f64,
    lower: f64,
    upper: f64,
    elo: f64,
}

fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn battles(dataset: &str) -> Vec<(String, String, Winner)> {
    fixture(&format!("{dataset}.battles.csv"))
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].parse().expect("winner"),
            )
        })
        .collect()
}

fn expected(dataset: &str) -> HashMap<String, Expected> {
    fixture(&format!("{dataset}.expected.csv"))
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let num = |k: usize| f[k].parse::<f64>().expect("number");
            let e = Expected {
                votes: f[1].parse().expect("votes"),
                bt: num(2),
                lower: num(3),
                upper: num(4),
                elo: num(5),
            };
            (f[0].to_owned(), e)
        })
        .collect()
}

#[test]
fn elo_matches_fastchat_compute_elo() {
    for dataset in DATASETS {
        let rows = battles(dataset);
        let want = expected(dataset);
        let lb = online_elo(
            rows.iter().map(|(a, b, w)| (a.as_str(), b.as_str(), *w)),
            &EloOptions::default(),
        );
        assert_eq!(lb.models.len(), want.len(), "{dataset}");
        for m in &lb.models {
            let e = &want[&m.name];
            assert!(
                (m.rating - e.elo).abs() < 0.01,
                "{dataset} {}: {} vs {}",
                m.name,
                m.rating,
                e.elo
            );
            assert_eq!(m.votes, e.votes, "{dataset} {}", m.name);
        }
    }
}

#[test]
fn bradley_terry_gaps_match_arena_rank() {
    for dataset in DATASETS {
        let rows = battles(dataset);
        let want = expected(dataset);
        let mut c = Comparisons::new();
        for (a, b, w) in &rows {
            c.add(a, b, *w, 1.0);
        }
        let (fit, lb) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
        // Ours is the exact optimum...
        assert_eq!(fit.ridge(), 0.0, "{dataset}");
        assert!(
            fit.relative_gradient() < 1e-12,
            "{dataset}: {}",
            fit.relative_gradient()
        );
        // ...arena-rank's L-BFGS stops early, so compare gaps to the
        // best-voted model, among well-voted models.
        let reference = lb.models.iter().max_by_key(|m| m.votes).unwrap();
        let e_ref = &want[&reference.name];
        for m in lb.models.iter().filter(|m| m.votes >= WELL_VOTED) {
            let e = &want[&m.name];
            let ours = m.rating - reference.rating;
            let theirs = e.bt - e_ref.bt;
            assert!(
                (ours - theirs).abs() < 0.1,
                "{dataset} {}: gap {ours} vs {theirs}",
                m.name
            );
            // Interval half-widths follow the same formula at (nearly) the
            // same θ.
            let (hw_ours, hw_theirs) = (m.ci_upper - m.rating, e.upper - e.bt);
            assert!(
                (hw_ours - hw_theirs).abs() < 0.1,
                "{dataset} {}: half-width {hw_ours} vs {hw_theirs}",
                m.name
            );
            let (lw_ours, lw_theirs) = (m.rating - m.ci_lower, e.bt - e.lower);
            assert!((lw_ours - lw_theirs).abs() < 0.1, "{dataset} {}", m.name);
        }
    }
}
