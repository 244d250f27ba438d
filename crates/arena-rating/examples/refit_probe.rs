//! Repeats the live refresh (a warm refit with sandwich intervals after
//! one vote, 1,000,000 generated votes among 200 models) for instruction
//! counts, which unlike times do not depend on what else the machine does:
//!
//! ```sh
//! cargo build --release -p arena-rating --example refit_probe
//! valgrind --tool=callgrind --toggle-collect='*refit_once*' \
//!     target/release/examples/refit_probe 5 --one-thread
//! ```
//!
//! Divide the total by the number of refits (5 here). `--one-thread` runs
//! the refits in a one-thread rayon pool on the main thread, so that the
//! toggle also counts the work rayon would hand to other threads. Without
//! it the probe prints the refits' minimum and median wall times.

use std::hint::black_box;
use std::time::Instant;

use arena_core::Winner;
use arena_rating::{BtFit, BtOptions, Comparisons, Leaderboard, fit_bradley_terry};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The measured call; a function of its own for callgrind's toggle.
#[inline(never)]
fn refit_once(votes: &Comparisons, options: &BtOptions, previous: &BtFit) -> (BtFit, Leaderboard) {
    fit_bradley_terry(votes, options, Some(previous)).expect("valid options")
}

/// The criterion benchmark's votes: uniform pairs, Bradley–Terry outcomes,
/// 15 % ties.
fn votes() -> Comparisons {
    const MODELS: usize = 200;
    let mut rng = StdRng::seed_from_u64(2024);
    let names: Vec<String> = (0..MODELS).map(|i| format!("model-{i:03}")).collect();
    let strength: Vec<f64> = (0..MODELS)
        .map(|i| (i as f64 / MODELS as f64 - 0.5) * 4.0)
        .collect();
    let mut votes = Comparisons::new();
    for _ in 0..1_000_000 {
        let a = rng.random_range(0..MODELS);
        let mut b = rng.random_range(0..MODELS - 1);
        if b >= a {
            b += 1;
        }
        let p = 1.0 / (1.0 + (strength[b] - strength[a]).exp());
        let winner = if rng.random::<f64>() < 0.15 {
            Winner::Tie
        } else if rng.random::<f64>() < p {
            Winner::ModelA
        } else {
            Winner::ModelB
        };
        votes.add(&names[a], &names[b], winner, 1.0);
    }
    votes
}

fn main() {
    let mut args = std::env::args().skip(1);
    let refits: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let one_thread = args.any(|a| a == "--one-thread");
    let mut votes = votes();
    let options = BtOptions::default();
    let (previous, _) = fit_bradley_terry(&votes, &options, None).expect("valid options");
    votes.add("model-003", "model-150", Winner::ModelA, 1.0);
    if one_thread {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread()
            .build()
            .expect("a one-thread pool");
        pool.install(|| {
            for _ in 0..refits {
                black_box(refit_once(&votes, &options, &previous));
            }
        });
        return;
    }
    let mut millis: Vec<f64> = (0..refits)
        .map(|_| {
            let start = Instant::now();
            black_box(refit_once(&votes, &options, &previous));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    eprintln!(
        "{refits} warm refits: min {:.3} ms, median {:.3} ms",
        millis[0],
        millis[millis.len() / 2]
    );
}
