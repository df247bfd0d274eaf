"""Benchmark: the whole rehearsal scenario set for the default render (target <= 180 s on 2 cores).

Runs `pytest tests/e2e/test_scenarios.py -k "not batch"` (every scenario on the default render:
CI, train twice, promote + gradual deploy, smoke and post-shift rollbacks, drift -> retrain,
missing variable, wrong identity) in one process tree and times it. Prints a Markdown table;
`--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 180.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/e2e/test_scenarios.py",
        "-k",
        "not batch",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    result = {
        "seconds": round(seconds, 1),
        "target": TARGET_SECONDS,
        "passed": done.returncode == 0,
        "summary": summary,
    }
    print("| benchmark | target | measured | result |")
    print("|---|---|---|---|")
    print(
        f"| rehearsal scenarios, default render | <= {TARGET_SECONDS:.0f} s | {seconds:.1f} s | {summary} |"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if done.returncode != 0:
        print(done.stdout[-3000:], file=sys.stderr)
        return 1
    return 0 if seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
