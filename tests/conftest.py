"""Shared fixtures: the example program's plans are computed once per test run."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "stacks" / "examples" / "ml-environment"


@pytest.fixture(scope="session")
def example_dir() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def example_plans():
    from stacks.testing import plan_program

    return {env: plan_program(EXAMPLE, env) for env in ("dev", "test", "prod")}
