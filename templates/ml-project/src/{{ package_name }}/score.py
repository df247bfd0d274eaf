"""Scoring script for the Azure ML online endpoint: `init()` once, `run(raw)` per request.

A request is `{"data": [{"tenure_months": 12, "monthly_charges": 70.5, ...}, ...]}`; the answer
is `{"predictions": [0, 1, ...], "probabilities": [0.12, 0.87, ...]}`. In Azure ML the valid
inputs of every request are collected (the deployment's `data_collector`, collection
`model_inputs`) as JSONL lines in the workspace's blob store and registered as a data asset, which
the daily drift check reads.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .data import features, validate

MODEL_MARKER = "MLmodel"
_model: Any = None
_inputs: Any = None


def find_model(model_dir: str | Path) -> Path:
    """The MLflow model folder inside the directory Azure ML mounts (it may nest the registered folder)."""
    matches = sorted(Path(model_dir).rglob(MODEL_MARKER))
    if not matches:
        raise FileNotFoundError(f"no MLflow model ({MODEL_MARKER}) under {model_dir}")
    return matches[0].parent


def load_model(model_dir: str | Path) -> Any:
    from mlflow.sklearn import load_model as load_mlflow

    return load_mlflow(str(find_model(model_dir)))


def _collector() -> Any:
    """The Azure ML data collector where its package is installed (the serving image), else None."""
    try:
        from azureml.ai.monitoring import Collector
    except ImportError:
        return None
    # A failed collection is logged, never turned into a failed prediction.
    return Collector(name="model_inputs", on_error=lambda exc: logging.warning("data collection: %s", exc))


def init(model_dir: str | Path | None = None, *, collect: bool = True) -> None:
    """Load the model; `collect=False` for batch scoring (the data collector serves online endpoints)."""
    global _model, _inputs
    _model = load_model(model_dir or os.environ["AZUREML_MODEL_DIR"])
    _inputs = _collector() if collect else None


def predict(frame: pd.DataFrame) -> dict[str, list]:
    if _model is None:
        raise RuntimeError("init() must run before scoring")
    problems = validate(frame, require_target=False, min_rows=1)
    if problems:
        raise ValueError("invalid request: " + "; ".join(map(str, problems)))
    rows = features(frame)
    if _inputs is not None:
        _inputs.collect(rows)
    return {
        "predictions": [int(p) for p in _model.predict(rows)],
        "probabilities": [round(float(p), 4) for p in _model.predict_proba(rows)[:, 1]],
    }


def run(raw_data: str) -> dict[str, Any]:
    try:
        records = json.loads(raw_data)["data"]
        return predict(pd.DataFrame.from_records(records))
    except (KeyError, TypeError, ValueError) as exc:
        return {"error": str(exc)}
