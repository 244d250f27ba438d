#!/usr/bin/env python3
"""The reference side of scripts/bench-rating-cli: LMArena's arena-rank
computing the same leaderboard as `arena leaderboard --input FILE --format csv`,
end to end (read the CSV, fit Bradley-Terry, intervals, write CSV).

    python arena_rank_leaderboard.py FILE.csv [--bootstrap ROUNDS]

Prints `rank,model,rating,rating_lower,rating_upper,votes`, best first.
Runs inside the virtual environment the bench script makes (pandas, jax and
arena-rank 0.1.1); it follows arena-rank's README example.
"""

import argparse
import multiprocessing as mp
import sys

import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--bootstrap", type=int, default=0, help="bootstrap rounds (0: sandwich)")
    parser.add_argument("--jobs", type=int, default=-1, help="bootstrap worker processes")
    args = parser.parse_args()
    # arena-rank's bootstrap runs a multiprocessing pool; forking a process
    # that already runs JAX's threads deadlocks, so start fresh workers.
    mp.set_start_method("spawn")

    df = pd.read_csv(args.input, usecols=["model_a", "model_b", "winner"])
    dataset = PairDataset.from_pandas(df)
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    if args.bootstrap:
        results = model.compute_ratings_and_cis(
            dataset, ci_method="bootstrap", num_bootstrap=args.bootstrap, n_jobs=args.jobs
        )
    else:
        results = model.compute_ratings_and_cis(dataset, significance_level=0.05)
    votes = pd.concat([df["model_a"], df["model_b"]]).value_counts()
    board = pd.DataFrame(
        {
            "model": results["competitors"],
            "rating": [float(x) for x in results["ratings"]],
            "rating_lower": [float(x) for x in results["rating_lower"]],
            "rating_upper": [float(x) for x in results["rating_upper"]],
        }
    ).sort_values("rating", ascending=False)
    board["votes"] = board["model"].map(votes).astype(int)
    board.insert(0, "rank", range(1, len(board) + 1))
    board.to_csv(sys.stdout, index=False, float_format="%.4f")
    return 0


if __name__ == "__main__":
    sys.exit(main())
