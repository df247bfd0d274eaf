"""bench/run.py --smoke (ci.yml's benchmark job): a crash fails it, a missed timing target doesn't."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_run():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench_run = _load_run()


@pytest.mark.parametrize(
    ("body", "smoke", "expected"),
    [
        ("print('| ok |')", True, None),
        ("import sys; print('NOT met'); sys.exit(1)", True, "missed"),
        ("raise RuntimeError('broken benchmark')", True, "crashed"),
        ("import sys; sys.exit(2)", True, "crashed"),
        ("import sys; print('NOT met'); sys.exit(1)", False, "missed"),
    ],
)
def test_smoke_fails_only_on_a_crash(tmp_path, monkeypatch, body, smoke, expected):
    script = tmp_path / "bench_fake.py"
    script.write_text(f"import sys\nassert sys.argv[1:] == ['--runs', '1'], sys.argv\n{body}\n")
    monkeypatch.setitem(bench_run.SMOKE_ARGS, script.name, ["--runs", "1"])
    args = [] if smoke else ["--runs", "1"]
    assert bench_run.run_one(script, args, smoke) == expected


def test_every_benchmark_has_a_smoke_workload():
    assert set(bench_run.BENCHMARKS) == set(bench_run.SMOKE_ARGS)
    assert {p.name for p in (REPO / "bench").glob("bench_*.py")} == set(bench_run.BENCHMARKS)
