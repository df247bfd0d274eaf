"""Wall time of a generated project's own test suite (defaults), run offline.

Target: <= 60 s on a 2-core machine. Renders once, then runs `python -m pytest` in the project
with this interpreter (which has the project's test dependencies and mlops-forge installed).
Usage: python bench/bench_project_tests.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-project-"))
    try:
        project = work / "project"
        subprocess.run(
            [sys.executable, "-m", "generator", "new", str(project), "--defaults", "--template", str(REPO)],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                cwd=project,
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - start)
            if result.returncode != 0:
                print(result.stdout[-3000:], file=sys.stderr)
                return 2
        median = statistics.median(times)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"generated project test suite: {median:.1f} s (median of {args.runs}, {cores} cores)")
        print(f"target <= {TARGET_S:.0f} s: {'ok' if median <= TARGET_S else 'TOO SLOW'}")
        return 0 if median <= TARGET_S else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
