"""Train the churn classifier: validate, split, fit, evaluate, save, and log it all to MLflow.

`python -m <package>.train --data data/churn.csv --output outputs` runs the same way on a laptop,
in CI and as the Azure ML training job (azureml/train-job.yml). It writes the model as an MLflow
model with a signature (`outputs/model/`, what Azure ML registers as `mlflow_model`), and the
metrics and the held-out rows (`outputs/metrics.json`, `outputs/holdout.csv`): the champion is
re-scored on the same holdout before the two are compared.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .data import CATEGORIES, NUMERIC_RANGES, TARGET, features, load, validate
from .evaluate import evaluate, write_metrics

MODEL_DIR = "model"
METRICS_FILE = "metrics.json"
HOLDOUT_FILE = "holdout.csv"


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


def split(frame: pd.DataFrame, *, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate, then a stratified 80/20 split: (training rows, held-out rows)."""
    problems = validate(frame)
    if problems:
        raise InvalidData("training data is invalid: " + "; ".join(map(str, problems)))
    train_part, holdout = train_test_split(frame, test_size=0.2, random_state=seed, stratify=frame[TARGET])
    return train_part, holdout


def train(frame: pd.DataFrame, *, c: float = 1.0, seed: int = 42) -> tuple[Pipeline, dict[str, float]]:
    """Fit on a stratified 80% split and return the model with its metrics on the other 20%."""
    train_part, holdout = split(frame, seed=seed)
    model = build_pipeline(c).fit(features(train_part), train_part[TARGET])
    return model, evaluate(model, holdout)


def save_model(model: Pipeline, path: Path, example: pd.DataFrame) -> Path:
    """Save as an MLflow model whose signature describes the input columns and the prediction."""
    import sklearn
    import skops
    from mlflow.models import infer_signature
    from mlflow.sklearn import save_model as save_mlflow

    if path.exists():
        shutil.rmtree(path)  # MLflow refuses to overwrite; this folder only ever holds our model
    rows = features(example)
    # Integer columns are declared as doubles: a missing value at inference time arrives as a float.
    rows = rows.astype({column: "float64" for column in rows.select_dtypes("integer").columns})
    save_mlflow(
        model,
        str(path),
        signature=infer_signature(rows, model.predict(rows)),
        # Pinned explicitly: MLflow's own inference imports the model in a subprocess, slowly.
        # skops is MLflow's default format for scikit-learn: it loads without unpickling code.
        pip_requirements=[
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pd.__version__}",
            f"skops=={skops.__version__}",
        ],
    )
    return path


def run(
    data: Path, output: Path, *, model_output: Path | None = None, c: float = 1.0, track: bool = True
) -> dict[str, float]:
    frame = load(data)
    train_part, holdout = split(frame)
    model = build_pipeline(c).fit(features(train_part), train_part[TARGET])
    metrics = evaluate(model, holdout)
    output.mkdir(parents=True, exist_ok=True)
    model_dir = save_model(model, model_output or output / MODEL_DIR, train_part.head(5))
    write_metrics(metrics, output / METRICS_FILE)
    holdout.to_csv(output / HOLDOUT_FILE, index=False)
    if track:
        import mlflow

        from .tracking import configure

        configure()
        with mlflow.start_run():
            mlflow.log_params({"C": c, "rows": len(frame)})
            mlflow.log_metrics(metrics)
            mlflow.log_artifacts(str(model_dir), MODEL_DIR)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/churn.csv"))
    parser.add_argument("--output", type=Path, default=Path("outputs"), help="metrics and holdout")
    parser.add_argument("--model-output", type=Path, help="the MLflow model (default: OUTPUT/model)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    args = parser.parse_args(argv)
    metrics = run(
        args.data, args.output, model_output=args.model_output, c=args.c, track=not args.no_tracking
    )
    print(" ".join(f"{name}={value}" for name, value in sorted(metrics.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
