"""Metrics of a fitted model on held-out data, written as a small JSON file CI can compare."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline

from .data import TARGET, features


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict[str, float]:
    truth = frame[TARGET]
    predicted = model.predict(features(frame))
    probability = model.predict_proba(features(frame))[:, 1]
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "f1": round(float(f1_score(truth, predicted)), 4),
        "roc_auc": round(float(roc_auc_score(truth, probability)), 4),
    }


def write_metrics(metrics: dict[str, float], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path


def read_metrics(path: str | Path) -> dict[str, float]:
    return json.loads(Path(path).read_text())
