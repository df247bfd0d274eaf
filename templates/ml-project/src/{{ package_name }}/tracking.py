"""MLflow tracking: a local file store by default, the workspace's MLflow inside Azure ML.

Azure ML sets MLFLOW_TRACKING_URI for every job (with the azureml-mlflow plugin installed in the
job's environment), so the same code logs to the workspace there and to ./mlruns on a laptop or CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import mlflow

EXPERIMENT = os.environ.get("MLFLOW_EXPERIMENT_NAME", "churn")


def configure(local_store: str | Path = "mlruns") -> str:
    """Point MLflow at the workspace when Azure ML provides one, else at a local file store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        # MLflow 3 keeps the file store for local use behind an explicit opt-in.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = Path(local_store).resolve().as_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(EXPERIMENT)
    return uri
