//! Benchmarks of the rating crate at LMArena scale: 1,000,000 generated
//! battles among 200 models.
//!
//! Run: `cargo bench -p arena-rating` (add `-- --quick` for a short run).

use std::hint::black_box;

use arena_core::Winner;
use arena_rating::{
    BtOptions, Comparisons, Intervals, active_pair_probabilities, fit_bradley_terry,
};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The allocator of the `arena` binary, so that the figures are the
/// server's: under glibc's malloc every 200 × 200 matrix (320 KB, above its
/// mmap threshold) was mapped and unmapped per use, and its page faults
/// were a seventh of a warm refit.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MODELS: usize = 200;
const BATTLES: usize = 1_000_000;

/// Seeded battles: uniform pairs, BT outcomes from spread-out true
/// strengths, 15 % ties.
fn battles() -> (Vec<String>, Vec<(usize, usize, Winner)>) {
    let mut rng = StdRng::seed_from_u64(2024);
    let names: Vec<String> = (0..MODELS).map(|i| format!("model-{i:03}")).collect();
    let strength: Vec<f64> = (0..MODELS)
        .map(|i| (i as f64 / MODELS as f64 - 0.5) * 4.0)
        .collect();
    let rows = (0..BATTLES)
        .map(|_| {
            let a = rng.random_range(0..MODELS);
            let mut b = rng.random_range(0..MODELS - 1);
            if b >= a {
                b += 1;
            }
            let p = 1.0 / (1.0 + (strength[b] - strength[a]).exp());
            let u: f64 = rng.random();
            let w = if u < 0.15 {
                Winner::Tie
            } else if rng.random::<f64>() < p {
                Winner::ModelA
            } else {
                Winner::ModelB
            };
            (a, b, w)
        })
        .collect();
    (names, rows)
}

fn aggregate(names: &[String], rows: &[(usize, usize, Winner)]) -> Comparisons {
    let mut c = Comparisons::new();
    for &(a, b, w) in rows {
        c.add(&names[a], &names[b], w, 1.0);
    }
    c
}

fn benches(crit: &mut Criterion) {
    let (names, rows) = battles();
    crit.bench_function("aggregate 1M battles, 200 models", |b| {
        b.iter(|| aggregate(black_box(&names), black_box(&rows)))
    });

    let counts = aggregate(&names, &rows);
    let opts = BtOptions::default();
    crit.bench_function("bt fit + sandwich, cold (200 models, 1M votes)", |b| {
        b.iter(|| fit_bradley_terry(black_box(&counts), &opts, None).unwrap())
    });
    let exact = BtOptions {
        intervals: Intervals::SandwichExact,
        ..BtOptions::default()
    };
    crit.bench_function("bt fit + sandwich-exact, cold", |b| {
        b.iter(|| fit_bradley_terry(black_box(&counts), &exact, None).unwrap())
    });

    let (fit, _) = fit_bradley_terry(&counts, &opts, None).unwrap();
    let mut plus_one = counts.clone();
    plus_one.add(&names[3], &names[150], Winner::ModelA, 1.0);
    crit.bench_function("bt warm refit + sandwich after one vote", |b| {
        b.iter(|| fit_bradley_terry(black_box(&plus_one), &opts, Some(&fit)).unwrap())
    });

    // What a battle costs in active sampling right after a vote: pair
    // scores over every pair from a fit whose covariance is not formed yet.
    let pairs: Vec<(String, String)> = (0..MODELS)
        .flat_map(|i| (i + 1..MODELS).map(move |j| (i, j)))
        .map(|(i, j)| (names[i].clone(), names[j].clone()))
        .collect();
    let weights = vec![1.0; pairs.len()];
    let (refit, _) = fit_bradley_terry(&plus_one, &opts, Some(&fit)).unwrap();
    crit.bench_function("active sampling over all pairs, fresh fit", |b| {
        b.iter_batched(
            || refit.clone(),
            |fresh| active_pair_probabilities(&fresh, &plus_one, &pairs, &weights, 0.05),
            criterion::BatchSize::LargeInput,
        )
    });

    let boot = BtOptions {
        intervals: Intervals::Bootstrap {
            rounds: 1000,
            seed: 7,
        },
        ..BtOptions::default()
    };
    let mut group = crit.benchmark_group("bootstrap");
    group.sample_size(10);
    group.bench_function("bt fit + 1000 bootstrap rounds", |b| {
        b.iter(|| fit_bradley_terry(black_box(&counts), &boot, Some(&fit)).unwrap())
    });
    group.finish();
}

criterion_group!(rating, benches);
criterion_main!(rating);
