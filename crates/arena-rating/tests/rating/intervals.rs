//! The interval methods against one another, on data where all apply.

use arena_core::Winner;
use arena_rating::{
    BtOptions, Comparisons, Intervals, Leaderboard, StyleSide, StyledBattle, fit_bradley_terry,
    fit_style_controlled,
};

use crate::common::assert_sane;

/// A deterministic pseudo-random stream (no dependency on the crate's RNG).
fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

/// 6 models with spread-out strengths; one rarely voted.
fn data() -> Comparisons {
    let strength = [1.0, 0.6, 0.2, -0.1, -0.5, 0.0];
    let mut c = Comparisons::new();
    let mut s = 42;
    for k in 0..6000 {
        let a = (lcg(&mut s) * 5.0) as usize;
        let mut b = (lcg(&mut s) * 4.0) as usize;
        if b >= a {
            b += 1;
        }
        // Model 5 gets only every 100th vote.
        let (a, b) = if k % 100 == 0 { (a, 5) } else { (a, b) };
        if a == b {
            continue;
        }
        let p = 1.0 / (1.0 + f64::exp(strength[b] - strength[a]));
        let w = if lcg(&mut s) < 0.1 {
            Winner::Tie
        } else if lcg(&mut s) < p {
            Winner::ModelA
        } else {
            Winner::ModelB
        };
        c.add(&format!("m{a}"), &format!("m{b}"), w, 1.0);
    }
    c
}

fn board(c: &Comparisons, intervals: Intervals) -> Leaderboard {
    let opts = BtOptions {
        intervals,
        ..BtOptions::default()
    };
    let lb = fit_bradley_terry(c, &opts, None).unwrap().1;
    assert_sane(&lb);
    lb
}

fn half_width(lb: &Leaderboard, name: &str) -> f64 {
    let m = lb.get(name).unwrap();
    (m.ci_upper - m.ci_lower) / 2.0
}

#[test]
fn the_three_methods_agree_where_they_should() {
    let c = data();
    let ridged = board(&c, Intervals::Sandwich);
    let exact = board(&c, Intervals::SandwichExact);
    let boot = board(
        &c,
        Intervals::Bootstrap {
            rounds: 400,
            seed: 5,
        },
    );
    for m in &ridged.models {
        // Same point estimate whatever the intervals.
        assert_eq!(m.rating, exact.get(&m.name).unwrap().rating);
        assert_eq!(m.rating, boot.get(&m.name).unwrap().rating);
        // The ridge only ever narrows.
        assert!(half_width(&ridged, &m.name) <= half_width(&exact, &m.name) + 1e-9);
        // The exact sandwich and the bootstrap estimate the same spread.
        let ratio = half_width(&boot, &m.name) / half_width(&exact, &m.name);
        assert!((0.75..1.33).contains(&ratio), "{}: {ratio}", m.name);
    }
    // The ridge matters most for the rarely-voted model.
    let shrink = |n: &str| half_width(&ridged, n) / half_width(&exact, n);
    assert!(
        shrink("m5") < shrink("m0"),
        "{} vs {}",
        shrink("m5"),
        shrink("m0")
    );
}

#[test]
fn the_bootstrap_is_reproducible_from_its_seed() {
    let c = data();
    let x = board(
        &c,
        Intervals::Bootstrap {
            rounds: 50,
            seed: 1,
        },
    );
    let y = board(
        &c,
        Intervals::Bootstrap {
            rounds: 50,
            seed: 1,
        },
    );
    let z = board(
        &c,
        Intervals::Bootstrap {
            rounds: 50,
            seed: 2,
        },
    );
    assert_eq!(x, y);
    assert_ne!(x, z);
}

#[test]
fn style_control_supports_every_interval_method() {
    let mut s = 7;
    let models = ["a", "b", "c", "d"];
    let battles: Vec<StyledBattle> = (0..800)
        .map(|k| {
            let i = k % 4;
            let j = (i + 1 + (k / 4) % 3) % 4;
            let side = |s: &mut u64| StyleSide {
                tokens: (lcg(s) * 500.0).floor(),
                headers: (lcg(s) * 3.0).floor(),
                lists: (lcg(s) * 6.0).floor(),
                bold: (lcg(s) * 4.0).floor(),
            };
            let (sa, sb) = (side(&mut s), side(&mut s));
            let longer = sa.tokens > sb.tokens;
            let u = lcg(&mut s);
            let winner = match (u < 0.1, (u < 0.65) == longer) {
                (true, _) => Winner::Tie,
                (false, true) => Winner::ModelA,
                (false, false) => Winner::ModelB,
            };
            StyledBattle {
                model_a: models[i].into(),
                model_b: models[j].into(),
                winner,
                weight: 1.0,
                a: sa,
                b: sb,
            }
        })
        .collect();
    for intervals in [
        Intervals::Sandwich,
        Intervals::SandwichExact,
        Intervals::Bootstrap {
            rounds: 20,
            seed: 3,
        },
    ] {
        let opts = BtOptions {
            intervals,
            ..BtOptions::default()
        };
        let fit = fit_style_controlled(&battles, &opts).unwrap();
        assert_sane(&fit.leaderboard);
        assert_eq!(fit.coefficients.len(), 4);
        let tokens = &fit.coefficients[0];
        assert_eq!(tokens.name, "tokens");
        assert!(tokens.ci_lower > 0.0, "{intervals:?}: {tokens:?}");
        for b in &fit.coefficients {
            assert!(b.ci_lower <= b.value && b.value <= b.ci_upper, "{b:?}");
        }
    }
}
