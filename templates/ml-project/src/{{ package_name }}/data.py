"""Load the churn data set and check it against the schema before anything trains on it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TARGET = "churned"
CATEGORIES = {"contract": ("month-to-month", "one-year", "two-year")}
NUMERIC_RANGES = {
    "tenure_months": (0, 120),
    "monthly_charges": (0.0, 1000.0),
    "support_calls": (0, 100),
}
FEATURES = (*NUMERIC_RANGES, *CATEGORIES)
MIN_ROWS = 50


@dataclass(frozen=True)
class Problem:
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.column}: {self.message}"


def load(path: str | Path) -> pd.DataFrame:
    """Read a CSV file of the churn schema."""
    return pd.read_csv(path)


def validate(frame: pd.DataFrame, *, require_target: bool = True, min_rows: int = MIN_ROWS) -> list[Problem]:
    """Every way `frame` breaks the schema; an empty list means it is fit to train or score on."""
    problems: list[Problem] = []
    expected = [*FEATURES, TARGET] if require_target else list(FEATURES)
    for column in expected:
        if column not in frame.columns:
            problems.append(Problem(column, "column is missing"))
    if len(frame) < min_rows:
        problems.append(Problem("<rows>", f"expected at least {min_rows} rows, got {len(frame)}"))
    for column, (low, high) in NUMERIC_RANGES.items():
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any():
            problems.append(Problem(column, f"{int(values.isna().sum())} missing or non-numeric values"))
        outside = values[(values < low) | (values > high)]
        if len(outside):
            problems.append(Problem(column, f"{len(outside)} values outside [{low}, {high}]"))
    for column, allowed in CATEGORIES.items():
        if column not in frame.columns:
            continue
        unknown = sorted(set(frame[column].dropna().astype(str)) - set(allowed))
        if unknown or frame[column].isna().any():
            problems.append(Problem(column, f"unexpected or missing categories {unknown}"))
    if require_target and TARGET in frame.columns:
        labels = set(frame[TARGET].dropna().unique())
        if not labels <= {0, 1} or frame[TARGET].isna().any():
            problems.append(Problem(TARGET, f"labels must be 0 or 1, got {sorted(map(str, labels))}"))
        elif len(labels) < 2:
            problems.append(Problem(TARGET, "needs examples of both classes"))
    return problems


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[:, list(FEATURES)]


def main(argv: list[str] | None = None) -> int:
    """`python -m <package>.data FILE...`: exit 1 and list the problems if any file is invalid."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m <package>.data FILE.csv [FILE.csv ...]", file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        problems = validate(load(path))
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        failed = failed or bool(problems)
        if not problems:
            print(f"{path}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
