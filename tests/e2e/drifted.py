"""Production data of new customers: what drift looks like in the scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd


def drifted(rows: int = 300, seed: int = 7) -> pd.DataFrame:
    """New customers: higher charges, and churn now follows support calls."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, rows),
            "monthly_charges": rng.uniform(150, 400, rows).round(2),
            "support_calls": rng.integers(0, 10, rows),
            "contract": rng.choice(["month-to-month", "one-year", "two-year"], rows),
        }
    )
    return frame.assign(churned=(frame["support_calls"] >= 5).astype(int))
