#!/usr/bin/env python3
"""Writes synthetic arena battles for benchmarks: a file in the export
contract's shape (question_id, model_a, model_b, winner, judge, turn, anony,
tstamp), as CSV or JSONL (chosen by the extension).

Outcomes follow a Bradley-Terry model with known strengths (ratings spread
over about 600 points), with 10 % ties and 3 % both-bad, so the fitted
leaderboard has a known answer. Standard library only: it runs before any
virtual environment exists. Deterministic for a given --seed.

    scripts/gen_battles.py --rows 1000000 --models 200 --out /tmp/battles.csv
"""

import argparse
import csv
import json
import math
import random
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True, help="FILE.csv or FILE.jsonl")
    parser.add_argument(
        "--conversations",
        action="store_true",
        help="JSONL only: add a two-message conversation per side (about 1 KB "
        "of words each), drawn from a generator of their own so the votes "
        "stay those of the same seed without them",
    )
    args = parser.parse_args()
    if args.models < 2:
        parser.error("--models must be at least 2")

    rng = random.Random(args.seed)
    names = [f"model-{i:03d}" for i in range(args.models)]
    # Natural-log strengths: 600 arena points = 600 * ln(10) / 400.
    strength = [rng.uniform(0.0, 600.0) * math.log(10) / 400 for _ in names]
    columns = ["question_id", "model_a", "model_b", "winner", "judge", "turn", "anony", "tstamp"]
    jsonl = args.out.endswith(".jsonl")
    if args.conversations and not jsonl:
        parser.error("--conversations needs a .jsonl output")
    words = ("the model answered with a long and detailed explanation of the "
             "code including examples tests and edge cases").split()
    texts = random.Random(args.seed + 1)

    def conversation():
        return [
            {"role": "user", "content": " ".join(texts.choices(words, k=20))},
            {"role": "assistant", "content": " ".join(texts.choices(words, k=150))},
        ]
    with open(args.out, "w", newline="", encoding="utf-8") as out:
        writer = None if jsonl else csv.writer(out, lineterminator="\n")
        if writer:
            writer.writerow(columns)
        n = args.models
        for i in range(args.rows):
            a = rng.randrange(n)
            b = rng.randrange(n - 1)
            if b >= a:
                b += 1  # never a model against itself
            u = rng.random()
            if u < 0.10:
                winner = "tie"
            elif u < 0.13:
                winner = "both_bad"
            else:
                p = 1.0 / (1.0 + math.exp(strength[b] - strength[a]))
                winner = "model_a" if rng.random() < p else "model_b"
            row = [
                f"{i:016x}",
                names[a],
                names[b],
                winner,
                f"judge_{i % 50_000:08x}",
                1,
                True,
                1_700_000_000 + i * 0.5,
            ]
            if writer:
                writer.writerow(row)
            else:
                record = dict(zip(columns, row))
                if args.conversations:
                    record["conversation_a"] = conversation()
                    record["conversation_b"] = conversation()
                out.write(json.dumps(record, separators=(",", ":")))
                out.write("\n")
    print(f"wrote {args.rows} battles among {args.models} models to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
