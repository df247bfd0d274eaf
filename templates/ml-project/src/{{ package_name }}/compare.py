"""Champion/challenger: is the candidate's metric better than the current champion's?

`python -m <package>.compare CANDIDATE_METRICS.json --champion 0.81` prints `candidate_roc_auc=…`
and `better=true|false`. An empty or missing champion value means there is no champion yet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .evaluate import read_metrics

METRIC = "roc_auc"


def is_better(candidate: float, champion: float | None, *, min_gain: float = 0.0) -> bool:
    return champion is None or candidate > champion + min_gain


def _champion(text: str) -> float | None:
    text = text.strip()
    if text in ("", "None", "null"):
        return None
    return float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path, help="metrics.json of the candidate")
    parser.add_argument("--champion", type=_champion, default=None, help=f"the champion's {METRIC}")
    parser.add_argument("--min-gain", type=float, default=0.0)
    args = parser.parse_args(argv)
    candidate = read_metrics(args.candidate)
    if METRIC not in candidate:
        print(f"{args.candidate}: no {METRIC} metric", file=sys.stderr)
        return 2
    better = is_better(candidate[METRIC], args.champion, min_gain=args.min_gain)
    print(f"candidate_{METRIC}={candidate[METRIC]}")
    print(f"better={'true' if better else 'false'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
