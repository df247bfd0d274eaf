"""Azure ML's data collector as the test double serves it (`azureml-ai-monitoring`'s Collector).

`collect(frame)` writes one event per call, in the JSONL layout Azure ML documents
(`{collection}/{yyyy}/{MM}/{dd}/{HH}/{instance}.jsonl`, each line a CloudEvent whose `data` is
the frame's rows), under $FORGE_COLLECTOR_DIR; the double registers it as a data asset.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class Collector:
    def __init__(self, *, name: str, on_error: Any = None) -> None:
        self.name = name
        self.on_error = on_error
        self.instance = uuid.uuid4().hex

    def collect(self, data: Any, correlation_context: Any = None) -> Any:
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            error = TypeError("only pandas DataFrames can be collected")
            if self.on_error:
                self.on_error(error)
                return correlation_context
            raise error
        now = datetime.now(UTC)
        folder = Path(os.environ["FORGE_COLLECTOR_DIR"], self.name, now.strftime("%Y/%m/%d/%H"))
        folder.mkdir(parents=True, exist_ok=True)
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": os.environ.get("FORGE_COLLECTOR_SOURCE", ""),
            "type": f"azureml.inference.{self.name.removeprefix('model_')}",
            "datacontenttype": "application/json",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": json.loads(data.to_json(orient="records")),
            "correlationid": str(uuid.uuid4()),
        }
        with (folder / f"{self.instance}.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")
        return correlation_context or {"id": event["correlationid"]}
