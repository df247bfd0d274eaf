"""Train the churn classifier: validate, split, fit, evaluate, save, and log it all to MLflow.

`python -m <package>.train --data data/churn.csv --output outputs` runs the same way on a laptop,
in CI and as the Azure ML training job (azureml/train-job.yml).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .data import CATEGORIES, NUMERIC_RANGES, TARGET, features, load, validate
from .evaluate import evaluate, write_metrics

MODEL_FILE = "model.joblib"
METRICS_FILE = "metrics.json"


class InvalidData(ValueError):
    """The training data breaks the schema; the message lists every problem."""


def build_pipeline(c: float = 1.0) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(NUMERIC_RANGES)),
            (
                "categorical",
                OneHotEncoder(categories=[list(v) for v in CATEGORIES.values()], handle_unknown="ignore"),
                list(CATEGORIES),
            ),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(C=c, max_iter=500))])


def train(frame: pd.DataFrame, *, c: float = 1.0, seed: int = 42) -> tuple[Pipeline, dict[str, float]]:
    """Fit on a stratified 80% split and return the model with its metrics on the other 20%."""
    problems = validate(frame)
    if problems:
        raise InvalidData("training data is invalid: " + "; ".join(map(str, problems)))
    train_part, test_part = train_test_split(frame, test_size=0.2, random_state=seed, stratify=frame[TARGET])
    model = build_pipeline(c).fit(features(train_part), train_part[TARGET])
    return model, evaluate(model, test_part)


def run(data: Path, output: Path, *, c: float = 1.0, track: bool = True) -> dict[str, float]:
    model, metrics = train(load(data), c=c)
    output.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, output / MODEL_FILE)
    write_metrics(metrics, output / METRICS_FILE)
    if track:
        import mlflow

        from .tracking import configure

        configure()
        with mlflow.start_run():
            mlflow.log_params({"C": c, "rows": len(load(data))})
            mlflow.log_metrics(metrics)
            mlflow.log_artifact(str(output / MODEL_FILE))
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/churn.csv"))
    parser.add_argument("--output", type=Path, default=Path("outputs"))
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)
    metrics = run(args.data, args.output, c=args.c, track=not args.no_tracking)
    print(" ".join(f"{name}={value}" for name, value in sorted(metrics.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
