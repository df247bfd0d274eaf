"""Scoring script for the Azure ML online endpoint: `init()` once, `run(raw)` per request.

A request is `{"data": [{"tenure_months": 12, "monthly_charges": 70.5, ...}, ...]}`; the answer
is `{"predictions": [0, 1, ...], "probabilities": [0.12, 0.87, ...]}`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from .data import features, validate

MODEL_FILE = "model.joblib"
_model: Any = None


def find_model(model_dir: str | Path) -> Path:
    """The model file inside the directory Azure ML mounts (it may nest the registered folder)."""
    matches = sorted(Path(model_dir).rglob(MODEL_FILE))
    if not matches:
        raise FileNotFoundError(f"no {MODEL_FILE} under {model_dir}")
    return matches[0]


def init(model_dir: str | Path | None = None) -> None:
    global _model
    _model = joblib.load(find_model(model_dir or os.environ["AZUREML_MODEL_DIR"]))


def predict(frame: pd.DataFrame) -> dict[str, list]:
    if _model is None:
        raise RuntimeError("init() must run before scoring")
    problems = validate(frame, require_target=False, min_rows=1)
    if problems:
        raise ValueError("invalid request: " + "; ".join(map(str, problems)))
    rows = features(frame)
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
