"""Champion/challenger: is the candidate better than the current champion on the same held-out rows?

`python -m <package>.compare CANDIDATE_METRICS.json --champion-model DIR --holdout HOLDOUT.csv`
re-scores the champion (an MLflow model folder) on the candidate's holdout and prints
`candidate_roc_auc=…`, `champion_roc_auc=…` and `better=true|false`. Without a champion model
(no champion yet) the candidate wins. `--champion 0.81` compares with a known value instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .data import load
from .evaluate import evaluate, read_metrics

METRIC = "roc_auc"


def is_better(candidate: float, champion: float | None, *, min_gain: float = 0.0) -> bool:
    return champion is None or candidate > champion + min_gain


def rescore(model_dir: Path, holdout: Path) -> float:
    """The champion's metric on the candidate's held-out rows."""
    from .score import load_model

    return evaluate(load_model(model_dir), load(holdout))[METRIC]


def _champion(text: str) -> float | None:
    text = text.strip()
    if text in ("", "None", "null"):
        return None
    return float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path, help="metrics.json of the candidate")
    parser.add_argument("--champion-model", type=Path, help="the champion's MLflow model folder")
    parser.add_argument("--holdout", type=Path, help="the candidate's held-out rows (CSV)")
    parser.add_argument("--champion", type=_champion, default=None, help=f"the champion's {METRIC}")
    parser.add_argument("--min-gain", type=float, default=0.0)
    args = parser.parse_args(argv)
    candidate = read_metrics(args.candidate)
    if METRIC not in candidate:
        print(f"{args.candidate}: no {METRIC} metric", file=sys.stderr)
        return 2
    champion = args.champion
    if args.champion_model is not None:
        if args.holdout is None:
            print("--champion-model needs --holdout (the candidate's held-out rows)", file=sys.stderr)
            return 2
        champion = rescore(args.champion_model, args.holdout)
    better = is_better(candidate[METRIC], champion, min_gain=args.min_gain)
    print(f"candidate_{METRIC}={candidate[METRIC]}")
    print(f"champion_{METRIC}={'' if champion is None else champion}")
    print(f"better={'true' if better else 'false'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
