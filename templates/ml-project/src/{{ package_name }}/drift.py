"""Data drift between the training data and recent production inputs (population stability index).

`python -m <package>.drift REFERENCE.csv CURRENT...` prints one line per feature and
`drift=true|false`; drift is a PSI above the threshold (0.2 is the usual "significant shift").
CURRENT files are CSV, or JSONL as the Azure ML data collector writes them: one event per line,
whose `data` is the list of rows of one request.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .data import CATEGORIES, MIN_ROWS, NUMERIC_RANGES, load

THRESHOLD = 0.2
BINS = 10


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(expected, 1e-6, None)
    actual = np.clip(actual, 1e-6, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def population_stability(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, float]:
    scores: dict[str, float] = {}
    for column in NUMERIC_RANGES:
        edges = np.unique(np.quantile(reference[column], np.linspace(0, 1, BINS + 1)))
        edges[0], edges[-1] = -math.inf, math.inf
        ref = np.histogram(reference[column], edges)[0] / len(reference)
        cur = np.histogram(current[column], edges)[0] / len(current)
        scores[column] = round(_psi(ref, cur), 4)
    for column, categories in CATEGORIES.items():
        ref = reference[column].value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
        cur = current[column].value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
        scores[column] = round(_psi(ref, cur), 4)
    return scores


def read_collected(path: Path) -> pd.DataFrame:
    """Rows of a data collector JSONL file (blank lines skipped)."""
    rows: list[dict] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            event = json.loads(line)
            data = event.get("data") if isinstance(event, dict) else None
            if not isinstance(data, list):
                raise ValueError(f"{path}:{number}: not a data collector event (no list under 'data')")
            rows.extend(data)
    return pd.DataFrame.from_records(rows)


def read_current(path: Path) -> pd.DataFrame:
    return read_collected(path) if path.suffix == ".jsonl" else load(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("current", type=Path, nargs="+")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--min-rows", type=int, default=MIN_ROWS, help="fewer production rows: no verdict")
    args = parser.parse_args(argv)
    current = pd.concat([read_current(path) for path in args.current], ignore_index=True)
    if len(current) < args.min_rows:
        # A handful of requests (smoke tests, health checks) says nothing about the population.
        print(f"rows={len(current)}: fewer than {args.min_rows}, too few to judge drift")
        print("drift=false")
        return 0
    scores = population_stability(load(args.reference), current)
    for column, score in scores.items():
        print(f"psi_{column}={score}")
    print(f"drift={'true' if max(scores.values()) > args.threshold else 'false'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
