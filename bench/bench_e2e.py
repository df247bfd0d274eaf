"""Benchmark: the rehearsal scenarios, each set in one process tree (targets on 2 cores).

- default render: `pytest tests/e2e/test_scenarios.py` (CI, train twice, promote + gradual deploy,
  smoke and post-shift rollbacks, drift -> retrain, missing variable, wrong identity, prod from a
  hosted runner, infra preview/up), target <= 180 s;
- every other render: `pytest tests/e2e/test_day_one.py` (each render's whole day one, the renders
  at once), target <= 180 s: what the matrix adds to the suite;
- the template update: `pytest tests/e2e/test_template_update.py`, target <= 60 s.

Prints a Markdown table; `--only NAME` runs one set; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETS = {
    "default": ("rehearsal scenarios, default render", "tests/e2e/test_scenarios.py", 180.0),
    "matrix": ("day one, every other render of the matrix", "tests/e2e/test_day_one.py", 180.0),
    "template-update": (
        "template-update.yml opens a pull request",
        "tests/e2e/test_template_update.py",
        60.0,
    ),
}


def measure(path: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(SETS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    print("| benchmark | target | measured | result |")
    print("|---|---|---|---|")
    failed = False
    for name, (title, path, target) in SETS.items():
        if args.only and name != args.only:
            continue
        seconds, done = measure(path)
        summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        results[name] = {
            "seconds": round(seconds, 1),
            "target": target,
            "passed": done.returncode == 0,
            "summary": summary,
        }
        print(f"| {title} | <= {target:.0f} s | {seconds:.1f} s | {summary} |", flush=True)
        if done.returncode != 0:
            print(done.stdout[-3000:], file=sys.stderr)
        failed = failed or done.returncode != 0 or seconds > target
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
