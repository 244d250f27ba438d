#!/usr/bin/env python3
"""Generate cross-check fixtures for the arena-rating crate.

Writes, for each synthetic dataset, into crates/arena-rating/tests/fixtures/:

  <name>.battles.csv   model_a,model_b,winner   (the votes, in order)
  <name>.expected.csv  model,votes,bt_rating,bt_lower,bt_upper,elo

where bt_* come from LMArena's arena-rank 0.1.1 (BradleyTerry, sandwich
intervals at 95 %), and elo from FastChat's compute_elo, re-implemented below
(FastChat itself is a heavy install; the formula is ten lines).

Usage (from the repository root):

  python3 -m venv /tmp/arena-venv
  /tmp/arena-venv/bin/pip install arena-rank==0.1.1
  /tmp/arena-venv/bin/python scripts/rating-fixtures/generate.py

Everything is seeded: rerunning gives byte-identical battles and expected
values up to arena-rank's own floating-point reproducibility.
"""

import csv
import math
import os
import random
from collections import defaultdict

import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "crates", "arena-rating", "tests", "fixtures")


def fastchat_compute_elo(battles, k=4, scale=400, base=10, init_rating=1000):
    """FastChat's fastchat/serve/monitor/elo_analysis.py::compute_elo."""
    rating = defaultdict(lambda: init_rating)
    for model_a, model_b, winner in battles:
        ra = rating[model_a]
        rb = rating[model_b]
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        if winner == "model_a":
            sa = 1
        elif winner == "model_b":
            sa = 0
        elif winner in ("tie", "tie (bothbad)", "both_bad"):
            sa = 0.5
        else:
            raise ValueError(f"unexpected winner: {winner}")
        rating[model_a] += k * (sa - ea)
        rating[model_b] += k * (1 - sa - eb)
    return dict(rating)


def simulate(rng, models, strengths, n_battles, pair_weight, tie_rate, both_bad_share, self_rate=0.0):
    """Votes from a Bradley–Terry world with ties; sides assigned at random."""
    pairs = [(i, j) for i in range(len(models)) for j in range(i + 1, len(models))]
    weights = [pair_weight(i, j) for i, j in pairs]
    rows = []
    for _ in range(n_battles):
        if self_rate and rng.random() < self_rate:
            m = rng.randrange(len(models))
            rows.append((models[m], models[m], rng.choice(["model_a", "model_b", "tie"])))
            continue
        i, j = rng.choices(pairs, weights=weights)[0]
        if rng.random() < 0.5:
            i, j = j, i
        if rng.random() < tie_rate:
            winner = "both_bad" if rng.random() < both_bad_share else "tie"
        else:
            p = 1 / (1 + math.exp(strengths[j] - strengths[i]))
            winner = "model_a" if rng.random() < p else "model_b"
        rows.append((models[i], models[j], winner))
    return rows


def datasets():
    rng = random.Random(20240307)
    out = {}

    models = [f"u{k}" for k in range(8)]
    strengths = [rng.gauss(0, 0.8) for _ in models]
    out["uniform"] = simulate(rng, models, strengths, 3000, lambda i, j: 1.0, 0.1, 0.0)

    models = [f"s{k}" for k in range(10)]
    strengths = [rng.gauss(0, 1.0) for _ in models]
    popularity = [1.0 / (k + 1) for k in range(len(models))]
    out["skewed"] = simulate(
        rng, models, strengths, 4000, lambda i, j: popularity[i] * popularity[j], 0.12, 0.3, self_rate=0.01
    )

    models = [f"t{k}" for k in range(6)]
    strengths = [rng.gauss(0, 0.5) for _ in models]
    out["ties"] = simulate(rng, models, strengths, 2000, lambda i, j: 1.0, 0.35, 0.5)

    models = [f"p{k:02d}" for k in range(15)]
    strengths = [rng.gauss(0, 1.2) for _ in models]
    # A sparse schedule: neighbours in strength order mostly, rare long jumps.
    out["sparse"] = simulate(
        rng, models, strengths, 600, lambda i, j: 1.0 if abs(i - j) <= 2 else 0.02, 0.1, 0.5
    )
    return out


def arena_rank_bt(rows):
    df = pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])
    dataset = PairDataset.from_pandas(df)
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    result = model.compute_ratings_and_cis(dataset, significance_level=0.05)
    return {
        name: (float(r), float(lo), float(hi))
        for name, r, lo, hi in zip(
            result["competitors"], result["ratings"], result["rating_lower"], result["rating_upper"]
        )
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, rows in datasets().items():
        with open(os.path.join(OUT, f"{name}.battles.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["model_a", "model_b", "winner"])
            w.writerows(rows)
        bt = arena_rank_bt(rows)
        elo = fastchat_compute_elo(rows)
        votes = defaultdict(int)
        for a, b, _ in rows:
            votes[a] += 1
            if b != a:
                votes[b] += 1
        with open(os.path.join(OUT, f"{name}.expected.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["model", "votes", "bt_rating", "bt_lower", "bt_upper", "elo"])
            for model in sorted(bt):
                r, lo, hi = bt[model]
                w.writerow([model, votes[model], f"{r:.6f}", f"{lo:.6f}", f"{hi:.6f}", f"{elo[model]:.6f}"])
        print(f"{name}: {len(rows)} battles, {len(bt)} models")


if __name__ == "__main__":
    main()
