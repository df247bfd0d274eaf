"""Run every benchmark under bench/, one after another, and say which targets were missed.

Each benchmark is a script that prints a Markdown table and exits 1 when it misses its target.
Extra arguments after `--` go to every script (e.g. `-- --runs 3`).

`--smoke` is CI's quick check that every benchmark still runs end to end: each script gets its
smallest workload, and only a crash fails the run (timings of so small a run on a shared runner
measure nothing, so a missed target is reported, not failed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = ("bench_plan.py", "bench_new.py", "bench_project_tests.py", "bench_fleet.py", "bench_e2e.py")
SMOKE_ARGS = {
    "bench_plan.py": ["--runs", "1"],
    "bench_new.py": ["--runs", "1"],
    "bench_project_tests.py": ["--runs", "1"],
    "bench_fleet.py": ["--sizes", "2", "--compare", "2", "--current", "2"],
    # The default render's scenario set (about 2 minutes); the matrix and template-update sets run
    # as tests in CI's workflows job.
    "bench_e2e.py": ["--only", "default"],
}
MISSED_TARGET = 1


def run_one(script: Path, args: list[str], smoke: bool) -> str | None:
    """Run one benchmark; return None if it passed, else 'missed' or 'crashed'."""
    if not smoke:
        code = subprocess.run([sys.executable, str(script), *args], check=False).returncode
        return None if code == 0 else "missed"
    result = subprocess.run(
        [sys.executable, str(script), *SMOKE_ARGS[script.name], *args],
        check=False,
        capture_output=True,
        text=True,
    )
    print(result.stdout, end="", flush=True)
    crashed = "Traceback (most recent call last)" in result.stderr
    if result.returncode == 0:
        return None
    if result.returncode == MISSED_TARGET and not crashed:
        return "missed"
    print(result.stderr[-4000:], file=sys.stderr, flush=True)
    return "crashed"


def main(argv: list[str]) -> int:
    smoke = "--smoke" in argv
    args = [a for a in argv if a not in ("--smoke", "--")]
    here = Path(__file__).resolve().parent
    outcomes = {}
    for script in BENCHMARKS:
        print(f"\n## {script}\n", flush=True)
        outcomes[script] = run_one(here / script, args, smoke)
    missed = [s for s, o in outcomes.items() if o == "missed"]
    crashed = [s for s, o in outcomes.items() if o == "crashed"]
    if crashed:
        print(f"\nbenchmarks that failed to run: {', '.join(crashed)}")
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}" + (" (smoke run: not a failure)" if smoke else ""))
    if not missed and not crashed:
        print("\nall targets met")
    return 1 if crashed or (missed and not smoke) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
