//! Data where the Bradley–Terry optimum does not exist or is trivial: the
//! fit must still return finite numbers and mark what it cannot trust.

use arena_core::Winner;
use arena_rating::{
    BtOptions, Comparisons, Intervals, RatingError, fit_bradley_terry, fit_style_controlled,
    online_elo,
};

use crate::common::assert_sane;

type Vote = (&'static str, &'static str, Winner, f64);

fn all_intervals() -> [Intervals; 3] {
    [
        Intervals::Sandwich,
        Intervals::SandwichExact,
        Intervals::Bootstrap {
            rounds: 30,
            seed: 1,
        },
    ]
}

/// Builds the comparisons; `(name, expected provisional)` for models with
/// too few votes is not the question here, so the threshold is 0.
fn check(what: &str, votes: &[Vote], provisional: &[&str]) {
    let mut c = Comparisons::new();
    for &(a, b, w, weight) in votes {
        c.add(a, b, w, weight);
    }
    for intervals in all_intervals() {
        let opts = BtOptions {
            intervals,
            provisional_below_votes: 0,
            ..BtOptions::default()
        };
        let (fit, lb) =
            fit_bradley_terry(&c, &opts, None).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_sane(&lb);
        assert_eq!(lb.models.len(), c.model_names().len(), "{what}");
        assert!(fit.theta().iter().all(|t| t.is_finite()), "{what}");
        let mut flagged: Vec<&str> = lb
            .models
            .iter()
            .filter(|m| m.provisional)
            .map(|m| m.name.as_str())
            .collect();
        flagged.sort_unstable();
        assert_eq!(flagged, provisional, "{what} with {intervals:?}");
        if !lb.models.is_empty() {
            let mean = lb.models.iter().map(|m| m.rating).sum::<f64>() / lb.models.len() as f64;
            assert!((mean - 1000.0).abs() < 1e-6, "{what}: mean {mean}");
        }
    }
}

#[test]
fn degenerate_data_gives_finite_ratings() {
    use Winner::*;
    let cases: &[(&str, &[Vote], &[&str])] = &[
        ("empty input", &[], &[]),
        ("one vote", &[("a", "b", ModelA, 1.0)], &["b"]),
        ("one tie", &[("a", "b", Tie, 1.0)], &[]),
        (
            "only self-battles",
            &[("a", "a", ModelA, 1.0), ("a", "a", Tie, 1.0)],
            &[],
        ),
        (
            "self-battles next to real ones",
            &[
                ("a", "b", ModelA, 1.0),
                ("b", "a", ModelA, 1.0),
                ("c", "c", ModelB, 1.0),
            ],
            &["c"],
        ),
        (
            "a model that only wins",
            &[
                ("a", "b", ModelA, 1.0),
                ("b", "a", ModelA, 1.0),
                ("top", "a", ModelA, 1.0),
                ("b", "top", ModelB, 1.0),
            ],
            &["top"],
        ),
        (
            "a model that only loses",
            &[
                ("a", "b", ModelA, 1.0),
                ("b", "a", ModelA, 1.0),
                ("a", "bottom", ModelA, 1.0),
                ("bottom", "b", ModelB, 1.0),
            ],
            &["bottom"],
        ),
        (
            "a graph in two pieces",
            &[
                ("a", "b", ModelA, 1.0),
                ("b", "a", Tie, 1.0),
                ("a", "b", ModelB, 1.0),
                ("x", "y", ModelA, 1.0),
                ("y", "x", ModelA, 1.0),
            ],
            &["x", "y"],
        ),
        (
            "only zero weights",
            &[("a", "b", ModelA, 0.0), ("b", "a", ModelA, 0.0)],
            &["b"],
        ),
        (
            "huge weights",
            &[
                ("a", "b", ModelA, 1e12),
                ("b", "a", ModelA, 1e12),
                ("a", "b", Tie, 3e11),
            ],
            &[],
        ),
        (
            "lopsided but connected",
            &[
                ("a", "b", ModelA, 1.0),
                ("a", "b", ModelA, 1.0),
                ("a", "b", ModelA, 1.0),
                ("a", "b", ModelA, 1.0),
                ("a", "b", ModelA, 1.0),
                ("a", "b", ModelA, 1.0),
                ("a", "b", ModelB, 1.0),
            ],
            &[],
        ),
    ];
    for (what, votes, provisional) in cases {
        check(what, votes, provisional);
    }
}

#[test]
fn only_wins_model_gets_a_large_finite_rating() {
    let mut c = Comparisons::new();
    for _ in 0..50 {
        c.add("a", "b", Winner::ModelA, 1.0);
        c.add("b", "a", Winner::ModelA, 1.0);
        c.add("top", "a", Winner::ModelA, 1.0);
    }
    let (fit, lb) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
    assert!(fit.ridge() > 0.0);
    let top = lb.get("top").unwrap();
    assert_eq!(top.rank, 1);
    assert!(top.provisional);
    assert!(top.rating > 1500.0 && top.rating.is_finite(), "{top:?}");
    // The ridge barely moves the well-posed part: a and b stay level.
    let gap = lb.get("a").unwrap().rating - lb.get("b").unwrap().rating;
    assert!(gap.abs() < 1.0, "{gap}");
}

#[test]
fn invalid_options_are_errors() {
    let mut c = Comparisons::new();
    c.add("a", "b", Winner::Tie, 1.0);
    let bad = [
        (
            BtOptions {
                confidence: 1.0,
                ..BtOptions::default()
            },
            RatingError::InvalidConfidence(1.0),
        ),
        (
            BtOptions {
                anchor: Some(("ghost".into(), 1200.0)),
                ..BtOptions::default()
            },
            RatingError::UnknownAnchor("ghost".into()),
        ),
        (
            BtOptions {
                intervals: Intervals::Bootstrap { rounds: 0, seed: 0 },
                ..BtOptions::default()
            },
            RatingError::NoBootstrapRounds,
        ),
    ];
    for (opts, want) in bad {
        assert_eq!(fit_bradley_terry(&c, &opts, None).unwrap_err(), want);
    }
}

#[test]
fn empty_inputs_give_empty_boards() {
    let (_, lb) = fit_bradley_terry(&Comparisons::new(), &BtOptions::default(), None).unwrap();
    assert!(lb.models.is_empty());
    assert!(
        online_elo(std::iter::empty(), &Default::default())
            .models
            .is_empty()
    );
    let style = fit_style_controlled(&[], &BtOptions::default()).unwrap();
    assert!(style.leaderboard.models.is_empty());
}

#[test]
fn provisional_below_the_vote_threshold() {
    let mut c = Comparisons::new();
    for k in 0..400 {
        let w = if k % 3 == 0 {
            Winner::ModelB
        } else {
            Winner::ModelA
        };
        c.add("a", "b", w, 1.0);
    }
    for k in 0..10 {
        let w = if k % 2 == 0 {
            Winner::ModelB
        } else {
            Winner::ModelA
        };
        c.add("a", "new", w, 1.0);
    }
    let (_, lb) = fit_bradley_terry(&c, &BtOptions::default(), None).unwrap();
    assert!(!lb.get("a").unwrap().provisional);
    assert!(!lb.get("b").unwrap().provisional);
    assert!(lb.get("new").unwrap().provisional);
}
